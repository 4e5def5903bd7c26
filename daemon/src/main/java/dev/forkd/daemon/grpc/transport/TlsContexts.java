package dev.forkd.daemon.grpc.transport;

import dev.forkd.daemon.ops.TcpListener;
import io.grpc.netty.GrpcSslContexts;
import io.netty.handler.ssl.ClientAuth;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import java.io.IOException;

/** The TLS side of a {@link TcpListener}: netty's context for its certificate, key and CA. */
public final class TlsContexts {
  private TlsContexts() {}

  /** The server's TLS context (h2 over ALPN, as gRPC needs), or null for plain TCP. */
  public static SslContext of(TcpListener l) throws IOException {
    if (l.insecure()) {
      return null;
    }
    try {
      SslContextBuilder b = GrpcSslContexts.forServer(l.cert().toFile(), l.key().toFile());
      if (l.clientCa() != null) {
        b.trustManager(l.clientCa().toFile()).clientAuth(ClientAuth.REQUIRE);
      }
      return b.build();
    } catch (IllegalArgumentException | javax.net.ssl.SSLException e) {
      throw new IOException(
          "TLS certificate " + l.cert() + " / key " + l.key() + " unusable: " + e.getMessage(), e);
    }
  }
}
