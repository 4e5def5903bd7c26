package dev.forkd.daemon.grpc;

import dev.forkd.api.v1.ExecRequest;
import dev.forkd.api.v1.ExecStreamRequest;
import dev.forkd.api.v1.OpenSessionRequest;
import dev.forkd.api.v1.PipelineRequest;
import dev.forkd.daemon.domain.Profiles;
import dev.forkd.daemon.grpc.transport.PeerAttributes;
import dev.forkd.daemon.ops.AccessPolicy;
import dev.forkd.daemon.ops.Peer;
import io.grpc.ForwardingServerCallListener;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import java.util.Optional;

/**
 * Checks the profile of each Sandbox call against {@link AccessPolicy} before the service sees the
 * request: {@code Exec}'s message, {@code ExecStream}'s first ({@code start}) message. A refused
 * call ends with PERMISSION_DENIED and nothing of it reaches the service.
 */
public final class AccessInterceptor implements ServerInterceptor {
  private final AccessPolicy policy;

  public AccessInterceptor(AccessPolicy policy) {
    this.policy = policy;
  }

  /** The profile a request names ("default" when it names none), or null if it names no run. */
  static String profileOf(Object message) {
    ExecRequest r = null;
    if (message instanceof ExecRequest e) {
      r = e;
    } else if (message instanceof ExecStreamRequest s && s.hasStart()) {
      r = s.getStart();
    }
    if (message instanceof OpenSessionRequest o) {
      return Profiles.orDefault(o.getProfile());
    }
    // A session's call runs in the profile its session was opened in, checked then; the session
    // itself answers only to the identity that opened it.
    if (r == null || !r.getSessionId().isEmpty()) {
      return null;
    }
    return Profiles.orDefault(r.getProfile());
  }

  /** A pipeline is refused when any of its commands' profiles is, naming that command. */
  private Optional<String> denyPipeline(PipelineRequest p, Peer peer) {
    for (int i = 0; i < p.getCommandsCount(); i++) {
      String profile = profileOf(p.getCommands(i));
      Optional<String> why = policy.deny(profile, peer);
      if (why.isPresent()) {
        return Optional.of("commands[" + i + "].profile: " + why.get());
      }
    }
    return Optional.empty();
  }

  @Override
  public <Q, A> ServerCall.Listener<Q> interceptCall(
      ServerCall<Q, A> call, Metadata headers, ServerCallHandler<Q, A> next) {
    Peer peer = PeerAttributes.of(call.getAttributes());
    return new ForwardingServerCallListener.SimpleForwardingServerCallListener<>(
        next.startCall(call, headers)) {
      private boolean checked;
      private boolean denied;

      @Override
      public void onMessage(Q message) {
        if (denied) {
          return;
        }
        if (!checked) {
          checked = true;
          String profile = profileOf(message);
          Optional<String> why = profile == null ? Optional.empty() : policy.deny(profile, peer);
          if (message instanceof PipelineRequest p) {
            why = denyPipeline(p, peer);
          }
          if (why.isPresent()) {
            denied = true;
            call.close(Status.PERMISSION_DENIED.withDescription(why.get()), new Metadata());
            return;
          }
        }
        super.onMessage(message);
      }

      @Override
      public void onHalfClose() {
        if (!denied) {
          super.onHalfClose();
        }
      }

      @Override
      public void onReady() {
        if (!denied) {
          super.onReady();
        }
      }
    };
  }
}
