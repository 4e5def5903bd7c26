package dev.forkd.daemon.grpc;

import com.google.errorprone.annotations.concurrent.GuardedBy;
import com.google.protobuf.MessageLite;
import dev.forkd.daemon.admission.ByteBudget;
import dev.forkd.daemon.admission.ReceptionGate;
import dev.forkd.daemon.config.AdmissionLimits;
import dev.forkd.daemon.grpc.transport.PeerAttributes;
import io.grpc.ForwardingServerCall;
import io.grpc.ForwardingServerCallListener;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * Admission of every call's request bytes (issue 13): a call asks the transport for its first
 * message only while it holds a {@link ReceptionGate} slot (so messages being received are bounded
 * in number), and once the message is in, what holding it costs is charged to the {@link
 * ByteBudget} until the call ends. A call that finds no slot within the queue timeout, whose
 * message does not arrive within the receive timeout, or whose request does not fit the budget,
 * ends with RESOURCE_EXHAUSTED saying which; nothing of it reaches the service. Later messages of a
 * stream are not gated: the service asks for them one at a time, each within {@code
 * max_request_bytes}.
 */
final class AdmissionInterceptor implements ServerInterceptor {
  /** Sandbox requests count this many times their size; others once. */
  private static final int SANDBOX_FACTOR = AdmissionLimits.REQUEST_COPIES;

  private final ReceptionGate gate;
  private final ByteBudget budget;
  private final Duration waitTimeout;
  private final Duration receiveTimeout;

  /**
   * Calls waiting for a slot or for their message, with their deadlines. A sweep once a second
   * refuses those past it: one timer task per call would wake the timer thread on every call of an
   * idle daemon (a new earliest deadline signals it), a wake-up on the request path of sparse
   * callers; the sweep costs one wake-up a second, and deadlines are kept to within a second.
   */
  private final Set<Admission<?, ?>> pending = ConcurrentHashMap.newKeySet();

  AdmissionInterceptor(
      ReceptionGate gate,
      ByteBudget budget,
      ScheduledExecutorService timers,
      Duration waitTimeout,
      Duration receiveTimeout) {
    this.gate = gate;
    this.budget = budget;
    this.waitTimeout = waitTimeout;
    this.receiveTimeout = receiveTimeout;
    // ends with the timers executor (shutdownNow), never cancelled on its own
    var unused = timers.scheduleWithFixedDelay(this::sweep, 1, 1, TimeUnit.SECONDS);
  }

  /** Refuses every pending call past its deadline. */
  private void sweep() {
    long now = System.nanoTime();
    for (Admission<?, ?> a : pending) {
      a.expireIfDue(now);
    }
  }

  @Override
  public <Q, A> ServerCall.Listener<Q> interceptCall(
      ServerCall<Q, A> call, Metadata headers, ServerCallHandler<Q, A> next) {
    int factor =
        call.getMethodDescriptor().getServiceName() != null
                && call.getMethodDescriptor().getServiceName().equals("forkd.v1.Sandbox")
            ? SANDBOX_FACTOR
            : 1;
    Admission<Q, A> a =
        new Admission<>(call, PeerAttributes.of(call.getAttributes()).identity(), factor);
    ServerCall.Listener<Q> inner = next.startCall(a.gated, headers);
    return new ForwardingServerCallListener.SimpleForwardingServerCallListener<>(inner) {
      @Override
      public void onMessage(Q message) {
        if (a.admit(message)) {
          super.onMessage(message);
        }
      }

      @Override
      public void onHalfClose() {
        if (a.halfClosed()) {
          super.onHalfClose();
        }
      }

      @Override
      public void onReady() {
        if (!a.isRefused()) {
          super.onReady();
        }
      }

      @Override
      public void onCancel() {
        a.end();
        super.onCancel();
      }

      @Override
      public void onComplete() {
        a.end();
        super.onComplete();
      }
    };
  }

  /** The admission state of one call. */
  private final class Admission<Q, A> {
    private final ServerCall<Q, A> call;
    private final String identity;
    private final int factor;
    final ServerCall<Q, A> gated;

    // Guarded by this Admission:
    @GuardedBy("this")
    private ReceptionGate.Ticket ticket;

    @GuardedBy("this")
    private int requested;

    @GuardedBy("this")
    private boolean granted;

    @GuardedBy("this")
    private boolean arrived;

    @GuardedBy("this")
    private boolean refused;

    @GuardedBy("this")
    private boolean ended;

    @GuardedBy("this")
    private long charged;

    /** While pending: when, and why, the call is refused if nothing happened by then. */
    @GuardedBy("this")
    private long deadlineNanos;

    @GuardedBy("this")
    private String expiry;

    Admission(ServerCall<Q, A> call, String identity, int factor) {
      this.call = call;
      this.identity = identity;
      this.factor = factor;
      this.gated =
          new ForwardingServerCall.SimpleForwardingServerCall<>(call) {
            @Override
            public void request(int n) {
              if (mayRequest(n)) {
                super.request(n);
              }
            }
          };
    }

    /** True if {@code n} may be asked for now; else it is asked for when a slot is granted. */
    private boolean mayRequest(int n) {
      boolean enter;
      synchronized (this) {
        if (arrived || granted) {
          return !refused;
        }
        requested += n;
        enter = ticket == null;
        if (enter) {
          // A placeholder until enter() returns: the grant may come before it does.
          ticket = null;
        }
      }
      if (enter) {
        ReceptionGate.Ticket t = gate.enter(identity, this::onGrant);
        boolean late;
        synchronized (this) {
          late = ended || refused;
          if (!late) {
            ticket = t;
            if (!granted) {
              pend(
                  waitTimeout,
                  "no room to receive the request within "
                      + waitTimeout.toMillis()
                      + " ms ("
                      + gate.slots()
                      + " requests are received at once)");
            }
          }
        }
        if (late) {
          t.close();
        }
      }
      return false;
    }

    private void onGrant(ReceptionGate.Ticket t) {
      int n;
      synchronized (this) {
        if (ended || refused) {
          n = 0;
        } else {
          granted = true;
          n = requested;
          requested = 0;
          pend(
              receiveTimeout,
              "the request did not arrive within "
                  + receiveTimeout.toMillis()
                  + " ms of being let in");
        }
      }
      if (n == 0) {
        t.close();
        return;
      }
      call.request(n);
    }

    /** Called with each message; false if the call is refused and the message dropped. */
    boolean admit(Q message) {
      ReceptionGate.Ticket t;
      synchronized (this) {
        if (refused || ended) {
          return false;
        }
        if (arrived) {
          return true;
        }
        arrived = true;
        t = ticket;
        ticket = null;
        unpend();
      }
      if (t != null) {
        t.close();
      }
      long size = message instanceof MessageLite m ? (long) m.getSerializedSize() * factor : 0;
      if (!budget.tryCharge(size)) {
        refuse(
            "the daemon holds "
                + budget.used()
                + " bytes of requests in flight; this one needs "
                + size
                + " more, beyond the budget of "
                + budget.limit()
                + " (max_bytes_in_flight): try again later");
        return false;
      }
      synchronized (this) {
        if (ended) {
          budget.release(size);
          return false;
        }
        charged = size;
      }
      return true;
    }

    boolean halfClosed() {
      ReceptionGate.Ticket t = null;
      synchronized (this) {
        if (refused) {
          return false;
        }
        if (!arrived) {
          // No message at all: nothing more will be received.
          arrived = true;
          t = ticket;
          ticket = null;
          unpend();
        }
      }
      if (t != null) {
        t.close();
      }
      return true;
    }

    @GuardedBy("this")
    private void pend(Duration in, String why) {
      deadlineNanos = System.nanoTime() + in.toNanos();
      expiry = why;
      pending.add(this);
    }

    @GuardedBy("this")
    private void unpend() {
      if (expiry != null) {
        expiry = null;
        pending.remove(this);
      }
    }

    void expireIfDue(long now) {
      String why;
      synchronized (this) {
        if (expiry == null || now - deadlineNanos < 0 || refused || ended) {
          return;
        }
        why = expiry;
        unpend();
        // Decided under the lock: a slot granted a moment later finds the call refused and asks
        // for nothing (deciding outside it let a grant slip in, so the call was closed here while
        // its handler ran: one ListFiles in 80,000 soak calls ended UNKNOWN).
        refused = true;
      }
      closeRefused(why);
    }

    synchronized boolean isRefused() {
      return refused;
    }

    /** Ends the call with RESOURCE_EXHAUSTED (once), unless it has ended meanwhile. */
    private void refuse(String why) {
      synchronized (this) {
        if (refused || ended) {
          return;
        }
        refused = true;
      }
      closeRefused(why);
    }

    private void closeRefused(String why) {
      try {
        call.close(Status.RESOURCE_EXHAUSTED.withDescription(why), new Metadata());
      } catch (IllegalStateException e) {
        // closed meanwhile
      }
      release();
    }

    void end() {
      synchronized (this) {
        ended = true;
      }
      release();
    }

    private void release() {
      ReceptionGate.Ticket t;
      long c;
      synchronized (this) {
        t = ticket;
        ticket = null;
        c = charged;
        charged = 0;
        unpend();
      }
      if (t != null) {
        t.close();
      }
      if (c > 0) {
        budget.release(c);
      }
    }
  }
}
