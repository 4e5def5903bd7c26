package dev.forkd.daemon.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.forkd.api.v1.ExecRequest;
import dev.forkd.client.ForkdClient;
import dev.forkd.client.ForkdException;
import dev.forkd.daemon.Daemon;
import dev.forkd.daemon.ops.OpsConfig;
import dev.forkd.daemon.ops.OpsTestDaemons;
import dev.forkd.daemon.ops.TestCerts;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The Java client and forkctl over TCP: mutual TLS, plain loopback, asynchronous exec. */
class ClientTcpTest {
  @TempDir Path dir;

  static ExecRequest echo(String word) {
    return ExecRequest.newBuilder().addArgv("echo").addArgv(word).build();
  }

  @Test
  void tlsClientWithACertificateAndForkctlTarget() throws Exception {
    TestCerts certs = TestCerts.forLocalhost(dir, "client");
    Daemon d = OpsTestDaemons.start(dir, 1, "", OpsTestDaemons.mutualTls(certs), null);
    try (ForkdClient c = certs.client("client", d.tcpPort())) {
      assertEquals("tls\n", c.exec(echo("tls")).getStdout().toStringUtf8());
      CompletableFuture<dev.forkd.api.v1.ExecResult> later = c.execAsync(echo("async"));
      assertEquals("async\n", later.get(30, TimeUnit.SECONDS).getStdout().toStringUtf8());
      ForkctlFixture.Outcome o =
          ForkctlFixture.call(
              "",
              "--target",
              "127.0.0.1:" + d.tcpPort(),
              "--tls-ca",
              certs.ca().toString(),
              "--tls-cert",
              certs.pem("client").toString(),
              "--tls-key",
              certs.key("client").toString(),
              "run",
              "--",
              "echo",
              "via-forkctl");
      assertEquals(0, o.code(), o.err());
      assertEquals("via-forkctl\n", o.out());
    } finally {
      d.shutdown(0);
    }
  }

  @Test
  void asyncErrorsAreTyped() throws Exception {
    Daemon d = OpsTestDaemons.start(dir, 1, "", OpsConfig.Flags.NONE, null);
    try (ForkdClient c = ForkdClient.unix(dir.resolve("forkd.sock"))) {
      CompletableFuture<dev.forkd.api.v1.ExecResult> f =
          c.execAsync(ExecRequest.newBuilder().build());
      try {
        f.get(30, TimeUnit.SECONDS);
        throw new AssertionError("no error");
      } catch (java.util.concurrent.ExecutionException e) {
        ForkdException fe = (ForkdException) e.getCause();
        assertEquals(io.grpc.Status.Code.INVALID_ARGUMENT, fe.code());
        assertTrue(fe.description().startsWith("argv"), fe.description());
      }
    } finally {
      d.shutdown(0);
    }
  }
}
