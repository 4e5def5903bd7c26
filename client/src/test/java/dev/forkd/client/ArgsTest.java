package dev.forkd.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.List;
import org.junit.jupiter.api.Test;

class ArgsTest {
  @Test
  void optionsEndAtTheDoubleDashWhichIsTaken() {
    Args a = new Args("--profile", "p", "-n", "--", "-x", "y");
    assertEquals("--profile", a.option());
    assertEquals("p", a.value("--profile"));
    assertEquals("-n", a.option());
    assertNull(a.option());
    assertEquals(List.of("-x", "y"), a.operands());
    assertFalse(a.hasNext());
  }

  @Test
  void optionsEndAtTheFirstOperandWhichIsLeft() {
    Args a = new Args("-i", "cat", "--help");
    assertEquals("-i", a.option());
    assertNull(a.option());
    assertNull(a.option(), "asking again still ends there");
    assertEquals(List.of("cat", "--help"), a.operands());
  }

  @Test
  void aValueMayLookLikeAnOption() {
    Args a = new Args("--env", "--x=1");
    a.option();
    assertEquals("--x=1", a.value("--env"));
  }

  @Test
  void aMissingValueNamesTheFlag() {
    Args a = new Args("--time");
    a.option();
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> a.duration("--time"));
    assertEquals("--time needs a value", e.getMessage());
  }

  @Test
  void typedValues() {
    Args a = new Args("1.5s", "64k", "2k", "300ms");
    assertEquals(1, a.duration("d").getSeconds());
    com.google.protobuf.Duration d = new Args("1.5s").duration("d");
    assertEquals(1, d.getSeconds());
    assertEquals(500_000_000, d.getNanos());
    assertEquals(65536, a.size("s"));
    assertEquals(2048, a.count("c"));
    assertEquals(300_000_000L, a.nanos("n"));
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> new Args("xx").duration("--time"));
    assertEquals("'xx' is not a duration (try 300ms, 2s, 1.5m)", e.getMessage());
  }

  @Test
  void restIsAParserOfTheWordsLeft() {
    Args a = new Args("session", "exec", "id", "--", "true");
    assertEquals("session", a.next());
    Args sub = a.rest();
    assertEquals("exec", sub.peek());
    assertEquals("exec", sub.next());
    assertEquals("id", sub.next());
    assertNull(sub.option());
    assertEquals(List.of("true"), sub.operands());
  }
}
