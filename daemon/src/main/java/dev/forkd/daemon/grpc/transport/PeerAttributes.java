package dev.forkd.daemon.grpc.transport;

import dev.forkd.daemon.ops.Peer;
import io.grpc.Attributes;
import io.grpc.Grpc;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.security.cert.Certificate;
import java.security.cert.CertificateParsingException;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.List;
import javax.naming.InvalidNameException;
import javax.naming.ldap.LdapName;
import javax.naming.ldap.Rdn;
import javax.net.ssl.SSLPeerUnverifiedException;
import javax.net.ssl.SSLSession;

/** The {@link Peer} of a gRPC call, from its transport attributes. */
public final class PeerAttributes {
  /** Set on Unix-socket connections by {@link UnixPeerNegotiator}. */
  public static final Attributes.Key<Peer> PEER = Attributes.Key.create("forkd.peer");

  private PeerAttributes() {}

  /** Who is calling: the Unix peer, else the TLS client's certificate, else unidentified. */
  public static Peer of(Attributes attrs) {
    Peer p = attrs.get(PEER);
    if (p != null) {
      return p;
    }
    String address = address(attrs.get(Grpc.TRANSPORT_ATTR_REMOTE_ADDR));
    SSLSession session = attrs.get(Grpc.TRANSPORT_ATTR_SSL_SESSION);
    if (session != null) {
      try {
        Certificate[] chain = session.getPeerCertificates();
        if (chain.length > 0 && chain[0] instanceof X509Certificate cert) {
          return Peer.tls(names(cert), address);
        }
      } catch (SSLPeerUnverifiedException e) {
        // TLS without a client certificate: unidentified
      }
    }
    return Peer.unidentified(address);
  }

  /** The subject's CN, then the DNS subject alternative names. */
  static List<String> names(X509Certificate cert) {
    List<String> out = new ArrayList<>();
    try {
      for (Rdn rdn : new LdapName(cert.getSubjectX500Principal().getName()).getRdns()) {
        if (rdn.getType().equalsIgnoreCase("CN")) {
          out.add(String.valueOf(rdn.getValue()));
        }
      }
    } catch (InvalidNameException e) {
      // no usable subject
    }
    try {
      if (cert.getSubjectAlternativeNames() != null) {
        for (List<?> san : cert.getSubjectAlternativeNames()) {
          // 2 = dNSName
          if (san.size() >= 2 && Integer.valueOf(2).equals(san.get(0))) {
            out.add(String.valueOf(san.get(1)));
          }
        }
      }
    } catch (CertificateParsingException e) {
      // no usable alternative names
    }
    return out;
  }

  private static String address(SocketAddress a) {
    if (a instanceof InetSocketAddress i) {
      return (i.getAddress() != null ? i.getAddress().getHostAddress() : i.getHostString())
          + ":"
          + i.getPort();
    }
    return a == null ? "" : a.toString();
  }
}
