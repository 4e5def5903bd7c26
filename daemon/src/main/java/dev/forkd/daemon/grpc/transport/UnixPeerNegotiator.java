package dev.forkd.daemon.grpc.transport;

import dev.forkd.daemon.ops.LinuxSockets;
import dev.forkd.daemon.ops.Peer;
import io.grpc.Attributes;
import io.grpc.netty.GrpcHttp2ConnectionHandler;
import io.grpc.netty.InternalProtocolNegotiationEvent;
import io.grpc.netty.InternalProtocolNegotiator;
import io.grpc.netty.InternalProtocolNegotiators;
import io.grpc.netty.ProtocolNegotiationEvent;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.epoll.EpollDomainSocketChannel;
import io.netty.channel.unix.PeerCredentials;
import io.netty.util.AsciiString;
import java.io.IOException;
import java.util.logging.Logger;

/**
 * gRPC's plaintext negotiation for the Unix socket, plus one step: before the connection's
 * transport attributes are fixed, read the peer's credentials from the kernel ({@code SO_PEERCRED},
 * {@code SO_PEERGROUPS}) and add them as {@link PeerAttributes#PEER}. Every call on the connection
 * then sees who connected, without a per-call system call. (grpc-java has no public API for this;
 * see grpc/grpc-java#2646.)
 */
public final class UnixPeerNegotiator implements InternalProtocolNegotiator.ProtocolNegotiator {
  private static final Logger log = Logger.getLogger(UnixPeerNegotiator.class.getName());
  private final InternalProtocolNegotiator.ProtocolNegotiator plaintext =
      InternalProtocolNegotiators.serverPlaintext();

  @Override
  public AsciiString scheme() {
    return plaintext.scheme();
  }

  @Override
  public ChannelHandler newHandler(GrpcHttp2ConnectionHandler grpcHandler) {
    return new PeerCredentialsHandler(
        plaintext.newHandler(grpcHandler), grpcHandler.getNegotiationLogger());
  }

  @Override
  public void close() {
    plaintext.close();
  }

  /** Adds the peer to the negotiation's attributes, then hands over to plaintext negotiation. */
  static final class PeerCredentialsHandler
      extends InternalProtocolNegotiators.ProtocolNegotiationHandler {
    PeerCredentialsHandler(ChannelHandler next, io.grpc.ChannelLogger logger) {
      super(next, "unix-peer-credentials", logger);
    }

    @Override
    protected void protocolNegotiationEventTriggered(ChannelHandlerContext ctx) {
      Peer peer = peerOf(ctx);
      if (peer != null) {
        ProtocolNegotiationEvent event = getProtocolNegotiationEvent();
        Attributes attrs =
            InternalProtocolNegotiationEvent.getAttributes(event).toBuilder()
                .set(PeerAttributes.PEER, peer)
                .build();
        replaceProtocolNegotiationEvent(
            InternalProtocolNegotiationEvent.withAttributes(event, attrs));
      }
      fireProtocolNegotiationEvent(ctx);
    }

    private static Peer peerOf(ChannelHandlerContext ctx) {
      if (!(ctx.channel() instanceof EpollDomainSocketChannel ch)) {
        return null;
      }
      try {
        PeerCredentials c = ch.peerCredentials();
        int[] ids = c.gids();
        int gid = ids.length > 0 ? ids[0] : -1;
        int[] groups = LinuxSockets.peerGroups(ch.fd().intValue());
        return Peer.unix(c.uid(), gid, c.pid(), groups != null ? groups : ids);
      } catch (IOException e) {
        // Unknown peer: it matches no allowlist.
        log.warning("cannot read a Unix peer's credentials: " + e.getMessage());
        return null;
      }
    }
  }
}
