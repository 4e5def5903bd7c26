package dev.forkd.daemon.grpc.transport;

import io.netty.channel.ChannelFactory;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelOutboundHandlerAdapter;
import io.netty.channel.ChannelPromise;
import io.netty.channel.ServerChannel;
import io.netty.channel.epoll.EpollServerDomainSocketChannel;
import java.net.SocketAddress;

/**
 * Makes the gRPC server's one listening channel from a socket that is already bound and listening
 * (socket activation). netty's bootstrap binds every server channel it makes; a handler at the head
 * of the pipeline answers that bind with success instead, so the socket is never bound twice, and
 * the channel starts active, so it accepts as soon as it is registered. The channel then knows no
 * local address, which also keeps netty from deleting the socket file on close: the service manager
 * owns it.
 */
public final class InheritedSocketChannelFactory implements ChannelFactory<ServerChannel> {
  private final int fd;
  private boolean used;

  public InheritedSocketChannelFactory(int fd) {
    this.fd = fd;
  }

  @Override
  public synchronized ServerChannel newChannel() {
    if (used) {
      throw new IllegalStateException("the inherited socket serves one listener only");
    }
    used = true;
    EpollServerDomainSocketChannel ch = new EpollServerDomainSocketChannel(fd, /* active= */ true);
    ch.pipeline().addFirst("forkd-already-bound", new AlreadyBound());
    return ch;
  }

  /** Swallows the bootstrap's bind: the service manager did it. */
  @ChannelHandler.Sharable
  static final class AlreadyBound extends ChannelOutboundHandlerAdapter {
    @Override
    public void bind(ChannelHandlerContext ctx, SocketAddress address, ChannelPromise promise) {
      promise.setSuccess();
    }
  }
}
