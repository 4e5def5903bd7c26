package dev.forkd.daemon.grpc;

import dev.forkd.daemon.files.Caller;
import dev.forkd.daemon.grpc.transport.PeerAttributes;
import dev.forkd.daemon.ops.Peer;
import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import java.util.HashSet;
import java.util.Set;

/**
 * Puts the calling {@link Peer} into the call's {@link Context}, so that the services (which see no
 * transport attributes) know who owns what a call stores and which stored files it may use. On
 * every Sandbox and FileStore call, innermost.
 */
public final class CallerInterceptor implements ServerInterceptor {
  private static final Context.Key<Peer> PEER = Context.key("forkd.caller");

  @Override
  public <Q, A> ServerCall.Listener<Q> interceptCall(
      ServerCall<Q, A> call, Metadata headers, ServerCallHandler<Q, A> next) {
    Context ctx = Context.current().withValue(PEER, PeerAttributes.of(call.getAttributes()));
    return Contexts.interceptCall(ctx, call, headers, next);
  }

  /**
   * The caller of the current call as the file store knows it; {@link Caller#NOBODY} outside a call
   * that passed this interceptor (it then owns and sees nothing).
   */
  public static Caller current() {
    Peer p = PEER.get();
    if (p == null) {
      return Caller.NOBODY;
    }
    Set<Integer> groups = new HashSet<>();
    if (p.transport() == Peer.Transport.UNIX) {
      groups.add(p.gid());
      for (int g : p.groups()) {
        groups.add(g);
      }
    }
    return new Caller(p.identity(), groups);
  }

  /** The peer of the current call, or null outside a call that passed this interceptor. */
  public static Peer currentPeer() {
    return PEER.get();
  }
}
