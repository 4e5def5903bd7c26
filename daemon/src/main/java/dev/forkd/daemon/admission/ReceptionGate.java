package dev.forkd.daemon.admission;

import com.google.errorprone.annotations.concurrent.GuardedBy;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * Bounds how many calls may be receiving their first request message at once.
 *
 * <p>Why: gRPC reads a message only after the service asks for it, and until then the transport's
 * flow control holds the sender to one window (1 MiB) per call. Once asked, the whole message (up
 * to {@code max_request_bytes}) is buffered before anyone can look at it, so the size of a request
 * cannot be checked before its bytes are in memory. A call therefore asks for its message only
 * while it holds a slot here: memory for messages being received is bounded by {@code slots x
 * max_request_bytes}, however many callers send at once. Small messages hold a slot for
 * microseconds.
 *
 * <p>Waiters are served first come, first served, except that one identity (a uid, a certificate
 * name) holds at most {@code perIdentity} slots: a caller that floods, or sends slowly, cannot take
 * every slot from the others. Thread-safe; {@code onGrant} runs on the thread that freed the slot
 * (or the caller's, when one is free at once) and must not block.
 */
public final class ReceptionGate {
  /** One caller's place: granted, or waiting. */
  public final class Ticket {
    private final String identity;
    private final Consumer<Ticket> onGrant;

    @GuardedBy("ReceptionGate.this")
    private boolean granted;

    @GuardedBy("ReceptionGate.this")
    private boolean done;

    private Ticket(String identity, Consumer<Ticket> onGrant) {
      this.identity = identity;
      this.onGrant = onGrant;
    }

    /**
     * Gives the slot back (the message arrived, or the call ended), or leaves the queue.
     * Idempotent.
     */
    public void close() {
      List<Ticket> grant;
      synchronized (ReceptionGate.this) {
        if (done) {
          return;
        }
        done = true;
        if (!granted) {
          waiting.remove(this);
          return;
        }
        inUse--;
        held.merge(identity, -1, Integer::sum);
        grant = grantLocked();
      }
      run(grant);
    }

    public boolean granted() {
      synchronized (ReceptionGate.this) {
        return granted && !done;
      }
    }
  }

  private final int slots;
  private final int perIdentity;

  // Guarded by this gate:
  @GuardedBy("this")
  private final LinkedHashSet<Ticket> waiting = new LinkedHashSet<>();

  @GuardedBy("this")
  private final Map<String, Integer> held = new HashMap<>();

  @GuardedBy("this")
  private int inUse;

  public ReceptionGate(int slots, int perIdentity) {
    if (slots < 1 || perIdentity < 1) {
      throw new IllegalArgumentException(slots + " slots, " + perIdentity + " per identity");
    }
    this.slots = slots;
    this.perIdentity = Math.min(perIdentity, slots);
  }

  /** Queues a caller; {@code onGrant} runs once it holds a slot (maybe before this returns). */
  public Ticket enter(String identity, Consumer<Ticket> onGrant) {
    Ticket t = new Ticket(identity, onGrant);
    List<Ticket> grant;
    synchronized (this) {
      waiting.add(t);
      grant = grantLocked();
    }
    run(grant);
    return t;
  }

  /** With this gate's lock held: {@code t} is one of its tickets (only they are in waiting). */
  // Error Prone cannot tell that t's enclosing gate is this one, whose lock the caller holds.
  @SuppressWarnings("GuardedBy")
  private static void markGranted(Ticket t) {
    t.granted = true;
  }

  @GuardedBy("this")
  private List<Ticket> grantLocked() {
    List<Ticket> out = new ArrayList<>();
    Iterator<Ticket> it = waiting.iterator();
    while (inUse < slots && it.hasNext()) {
      Ticket t = it.next();
      if (held.getOrDefault(t.identity, 0) >= perIdentity) {
        continue;
      }
      it.remove();
      markGranted(t);
      inUse++;
      held.merge(t.identity, 1, Integer::sum);
      out.add(t);
    }
    held.values().removeIf(n -> n == 0);
    return out;
  }

  private static void run(List<Ticket> grant) {
    for (Ticket t : grant) {
      t.onGrant.accept(t);
    }
  }

  public int slots() {
    return slots;
  }

  public synchronized int inUse() {
    return inUse;
  }

  public synchronized int waiting() {
    return waiting.size();
  }
}
