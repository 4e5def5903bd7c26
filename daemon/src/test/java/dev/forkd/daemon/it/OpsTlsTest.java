package dev.forkd.daemon.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.forkd.api.v1.ExecRequest;
import dev.forkd.api.v1.SandboxGrpc;
import dev.forkd.config.v1.DaemonConfig;
import dev.forkd.daemon.Daemon;
import dev.forkd.daemon.ops.OpsTestDaemons;
import dev.forkd.daemon.ops.TestCerts;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.NettyChannelBuilder;
import io.netty.handler.ssl.SslContextBuilder;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The TCP listener: mutual TLS with certificates made at test time; plain TCP on loopback. */
class OpsTlsTest {
  @TempDir Path dir;

  static ManagedChannel channel(int port, SslContextBuilder ssl) throws Exception {
    NettyChannelBuilder b = NettyChannelBuilder.forAddress("127.0.0.1", port);
    if (ssl == null) {
      b.usePlaintext();
    } else {
      b.sslContext(ssl.build());
    }
    return b.build();
  }

  /** TLS trusting {@code certs}' CA, presenting the client certificate {@code name}. */
  static SslContextBuilder withCertificate(TestCerts certs, String name) throws Exception {
    return GrpcSslContexts.forClient()
        .trustManager(certs.ca().toFile())
        .keyManager(certs.pem(name).toFile(), certs.key(name).toFile());
  }

  static String echo(ManagedChannel ch, String profile, String word) {
    return SandboxGrpc.newBlockingStub(ch)
        .withDeadlineAfter(30, TimeUnit.SECONDS)
        .exec(ExecRequest.newBuilder().setProfile(profile).addArgv("echo").addArgv(word).build())
        .getStdout()
        .toStringUtf8();
  }

  static void close(ManagedChannel ch) throws InterruptedException {
    ch.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
  }

  @Test
  void mutualTlsAdmitsClientsWithACertificateAndRefusesOthers() throws Exception {
    TestCerts certs = TestCerts.forLocalhost(dir, "grader", "stranger");
    DaemonConfig c = OpsTestDaemons.config("");
    c = OpsTestDaemons.withProfile(c, "graders", p -> p.addAllowedClientNames("grader"));
    Daemon d = OpsTestDaemons.start(dir, 1, c, OpsTestDaemons.mutualTls(certs), null);
    try {
      int port = d.tcpPort();
      assertTrue(port > 0);
      ManagedChannel grader = channel(port, withCertificate(certs, "grader"));
      ManagedChannel stranger = channel(port, withCertificate(certs, "stranger"));
      ManagedChannel anonymous =
          channel(port, GrpcSslContexts.forClient().trustManager(certs.ca().toFile()));
      ManagedChannel plain = channel(port, null);
      try {
        assertEquals("tls\n", echo(grader, "default", "tls"));
        assertEquals("named\n", echo(grader, "graders", "named"));
        assertEquals("open\n", echo(stranger, "default", "open"));
        StatusRuntimeException denied =
            assertThrows(StatusRuntimeException.class, () -> echo(stranger, "graders", "no"));
        assertEquals(Status.Code.PERMISSION_DENIED, denied.getStatus().getCode());
        assertTrue(denied.getStatus().getDescription().contains("[stranger]"));
        StatusRuntimeException noCert =
            assertThrows(StatusRuntimeException.class, () -> echo(anonymous, "default", "no"));
        assertEquals(Status.Code.UNAVAILABLE, noCert.getStatus().getCode());
        StatusRuntimeException noTls =
            assertThrows(StatusRuntimeException.class, () -> echo(plain, "default", "no"));
        assertEquals(Status.Code.UNAVAILABLE, noTls.getStatus().getCode());
      } finally {
        close(grader);
        close(stranger);
        close(anonymous);
        close(plain);
      }
    } finally {
      d.shutdown(1000);
    }
  }

  @Test
  void plainTcpOnLoopbackServesAndAdmitsOnlyOpenProfiles() throws Exception {
    DaemonConfig c = OpsTestDaemons.config("");
    c = OpsTestDaemons.withProfile(c, "locked", p -> p.addAllowedUids(0));
    Daemon d = OpsTestDaemons.start(dir, 1, c, OpsTestDaemons.PLAIN_TCP, null);
    ManagedChannel plain = channel(d.tcpPort(), null);
    try {
      assertEquals("plain\n", echo(plain, "default", "plain"));
      // An unidentified TCP peer matches no allowlist, even uid 0's.
      assertEquals(
          Status.Code.PERMISSION_DENIED,
          assertThrows(StatusRuntimeException.class, () -> echo(plain, "locked", "x"))
              .getStatus()
              .getCode());
    } finally {
      close(plain);
      d.shutdown(1000);
    }
  }
}
