package dev.forkd.daemon.files;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.forkd.daemon.domain.InvalidRequestException;
import org.junit.jupiter.api.Test;

class PathRulesTest {
  @Test
  void goodPathsPass() throws Exception {
    for (String p :
        new String[] {"a", "a/b/c.txt", "with space", ".hidden", "a/..b", "x".repeat(255)}) {
      assertEquals(p, PathRules.check("f", p));
    }
  }

  @Test
  void badPathsAreNamed() {
    assertEquals("files[0].path: must not be empty", bad("files[0].path", ""));
    assertEquals(
        "f: '/etc/passwd' is absolute; paths are relative to the work dir",
        bad("f", "/etc/passwd"));
    assertEquals(
        "f: '../escape' is not normalised (empty, '.' or '..' component)", bad("f", "../escape"));
    assertEquals(
        "f: 'a/../../b' is not normalised (empty, '.' or '..' component)", bad("f", "a/../../b"));
    assertEquals("f: 'a//b' is not normalised (empty, '.' or '..' component)", bad("f", "a//b"));
    assertEquals("f: 'a/./b' is not normalised (empty, '.' or '..' component)", bad("f", "a/./b"));
    assertEquals("f: 'a/' is not normalised (empty, '.' or '..' component)", bad("f", "a/"));
    assertEquals("f: contains a NUL byte", bad("f", "a\0b"));
    assertEquals("f: 4097 bytes, more than 4096", bad("f", "a".repeat(4097)));
    assertEquals("f: more than 64 path components", bad("f", "a/".repeat(64) + "a"));
  }

  private static String bad(String field, String path) {
    return assertThrows(InvalidRequestException.class, () -> PathRules.check(field, path))
        .getMessage();
  }
}
