package dev.forkd.daemon.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.forkd.api.v1.ExecRequest;
import dev.forkd.api.v1.FileInfo;
import dev.forkd.api.v1.InputFile;
import dev.forkd.client.ForkdClient;
import dev.forkd.client.ForkdException;
import dev.forkd.daemon.Daemon;
import dev.forkd.daemon.ops.OpsTestDaemons;
import dev.forkd.daemon.ops.TestCerts;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * FileStore owners on TCP: a TLS client is its certificate name, clients without a name share one
 * anonymous identity, and neither is the Unix socket's uid.
 */
class FileTenancyTlsTest {
  @TempDir Path dir;

  static List<String> ids(ForkdClient c) {
    return c.listFiles().stream().map(FileInfo::getFileId).toList();
  }

  static String get(ForkdClient c, String id) throws Exception {
    ByteArrayOutputStream b = new ByteArrayOutputStream();
    c.getFile(id, b);
    return b.toString(StandardCharsets.UTF_8);
  }

  static String cat(ForkdClient c, String id) {
    return c.exec(
            ExecRequest.newBuilder()
                .addArgv("cat")
                .addArgv("f")
                .addFiles(InputFile.newBuilder().setPath("f").setFileId(id))
                .build())
        .getStdout()
        .toStringUtf8();
  }

  /** What {@code c} gets for {@code id}, with {@code id} replaced by "ID". */
  static String notFound(ForkdClient c, String id) {
    ForkdException e = assertThrows(ForkdException.class, () -> get(c, id));
    return e.code() + " " + e.description().replace(id, "ID");
  }

  static final String UNKNOWN = "sha256:" + "e".repeat(64);

  @Test
  void aTlsClientOwnsItsFilesByCertificateName() throws Exception {
    TestCerts certs = TestCerts.forLocalhost(dir, "alice", "bob");
    Daemon d = OpsTestDaemons.start(dir, 1, "", OpsTestDaemons.mutualTls(certs), null);
    try (ForkdClient alice = certs.client("alice", d.tcpPort());
        ForkdClient bob = certs.client("bob", d.tcpPort());
        ForkdClient root = ForkdClient.unix(d.settings().socket())) {
      String id = alice.putFile("alice's\n".getBytes(StandardCharsets.UTF_8)).getFileId();
      assertEquals("alice's\n", cat(alice, id));
      for (ForkdClient other : List.of(bob, root)) {
        assertEquals(List.of(), ids(other));
        assertEquals(notFound(other, UNKNOWN), notFound(other, id));
        assertFalse(other.deleteFile(id));
      }
      // A new connection with the same certificate is the same owner.
      try (ForkdClient again = certs.client("alice", d.tcpPort())) {
        assertEquals(List.of(id), ids(again));
        assertEquals("alice's\n", get(again, id));
      }
    } finally {
      d.shutdown(1000);
    }
  }

  @Test
  void unidentifiedClientsShareOneIdentity() throws Exception {
    Daemon d = OpsTestDaemons.start(dir, 1, "", OpsTestDaemons.PLAIN_TCP, null);
    try (ForkdClient one = ForkdClient.insecure("127.0.0.1", d.tcpPort());
        ForkdClient two = ForkdClient.insecure("127.0.0.1", d.tcpPort());
        ForkdClient root = ForkdClient.unix(d.settings().socket())) {
      String id = one.putFile("anonymous\n".getBytes(StandardCharsets.UTF_8)).getFileId();
      assertEquals("anonymous\n", cat(two, id));
      assertEquals(List.of(id), ids(two));
      assertEquals(notFound(root, UNKNOWN), notFound(root, id));
      assertFalse(root.deleteFile(id));
      assertEquals(List.of(id), ids(one));
    } finally {
      d.shutdown(1000);
    }
  }

  /** Two daemons on different sockets get different default spill directories. */
  @Test
  void twoSocketsNeverShareASpillDirectory() {
    assertFalse(
        Daemon.defaultSpillDir(Path.of("/run/a/forkd.sock"))
            .equals(Daemon.defaultSpillDir(Path.of("/run/b/forkd.sock"))));
  }
}
