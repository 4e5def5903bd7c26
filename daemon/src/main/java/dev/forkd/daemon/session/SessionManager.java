package dev.forkd.daemon.session;

import com.google.errorprone.annotations.concurrent.GuardedBy;
import dev.forkd.api.v1.ExecRequest;
import dev.forkd.api.v1.Limits;
import dev.forkd.api.v1.OpenSessionRequest;
import dev.forkd.daemon.config.Profile;
import dev.forkd.daemon.config.SessionPolicy;
import dev.forkd.daemon.domain.CancelledException;
import dev.forkd.daemon.domain.InvalidRequestException;
import dev.forkd.daemon.domain.LimitValues;
import dev.forkd.daemon.domain.NotFoundException;
import dev.forkd.daemon.exec.ExecOutcome;
import dev.forkd.daemon.exec.ExecSpec;
import dev.forkd.daemon.exec.HeldRun;
import dev.forkd.daemon.exec.RequestValidator;
import dev.forkd.daemon.exec.RunControl;
import dev.forkd.daemon.exec.RunStreams;
import dev.forkd.daemon.files.Caller;
import dev.forkd.daemon.files.FileStore;
import dev.forkd.zygote.PoolClosedException;
import dev.forkd.zygote.PoolExhaustedException;
import dev.forkd.zygote.RunResult;
import dev.forkd.zygote.RunSpec;
import dev.forkd.zygote.Zygote;
import dev.forkd.zygote.ZygoteException;
import dev.forkd.zygote.ZygotePool;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The open sessions (DESIGN §3b): each holds one zygote of its profile's session pool for itself,
 * whose /work, /tmp and namespaces persist from call to call, and destroys it when it ends (close,
 * idle timeout, max lifetime, shutdown, a broken sandbox). A session belongs to the identity that
 * opened it: to any other caller it does not exist (NOT_FOUND).
 *
 * <p>Sessions draw zygotes only from their own pools (one per profile, sized {@code
 * sessions.max_sessions}), so however many are open, one-shot Exec calls keep the profile's pool.
 */
public final class SessionManager implements AutoCloseable {
  private static final Logger log = Logger.getLogger(SessionManager.class.getName());

  /** How often the reaper looks for idle and expired sessions. */
  private static final long SWEEP_MILLIS = 100;

  private final RequestValidator validator;
  private final Map<String, ZygotePool> pools;
  private final Duration queueTimeout;
  private final boolean cgroups;
  private final FileStore store;
  private final SecureRandom random = new SecureRandom();
  private final ScheduledExecutorService reaper;

  private final Object lock = new Object();

  // Guarded by the lock:
  @GuardedBy("lock")
  private final Map<String, Session> byId = new HashMap<>();

  @GuardedBy("lock")
  private final Map<String, Counts> counts = new LinkedHashMap<>();

  @GuardedBy("lock")
  private boolean closed;

  /** Per profile, guarded by {@link #lock}. */
  private static final class Counts {
    final int max;
    int open;
    long refused;
    final Map<String, Integer> perCaller = new HashMap<>();
    final Map<String, Long> ended = new LinkedHashMap<>();

    Counts(int max) {
      this.max = max;
      for (SessionEnd e : SessionEnd.values()) {
        ended.put(e.label(), 0L);
      }
    }
  }

  /** A validated call of an open session, ready to run. */
  public static final class Call {
    private final Session session;
    private final ExecSpec spec;

    private Call(Session session, ExecSpec spec) {
      this.session = session;
      this.spec = spec;
    }

    public ExecSpec spec() {
      return spec;
    }
  }

  /**
   * @param pools the session pool of each profile, by profile name
   * @param cgroupMode "v2", "v1" or "none"
   */
  public SessionManager(
      RequestValidator validator,
      Map<String, ZygotePool> pools,
      Duration queueTimeout,
      String cgroupMode,
      FileStore store) {
    this.validator = validator;
    this.pools = Map.copyOf(pools);
    this.queueTimeout = queueTimeout;
    this.cgroups = !cgroupMode.equals("none");
    this.store = store;
    synchronized (lock) {
      pools.forEach((name, pool) -> counts.put(name, new Counts(pool.config().maxZygotes())));
    }
    this.reaper =
        Executors.newSingleThreadScheduledExecutor(
            r -> {
              Thread t = new Thread(r, "forkd-session-reaper");
              t.setDaemon(true);
              return t;
            });
    // ends with the reaper executor, never cancelled on its own
    var unused =
        reaper.scheduleWithFixedDelay(
            this::sweep, SWEEP_MILLIS, SWEEP_MILLIS, TimeUnit.MILLISECONDS);
  }

  /**
   * Opens a session: checks the request, takes a zygote from the profile's session pool (waiting up
   * to the queue timeout), sets the session's limits on it and copies its files into /work.
   *
   * @throws PoolExhaustedException the profile's or the caller's maximum of open sessions is
   *     reached, or no session zygote became free in time
   */
  public SessionInfo open(OpenSessionRequest r, Caller caller)
      throws InvalidRequestException,
          NotFoundException,
          PoolExhaustedException,
          PoolClosedException,
          ZygoteException,
          InterruptedException {
    long arrival = System.nanoTime();
    Profile profile = validator.profile(r.getProfile());
    ZygotePool pool = pools.get(profile.name());
    if (pool == null) {
      throw new InvalidRequestException(
          "profile", "'" + profile.name() + "' serves no sessions (its sessions.disabled is set)");
    }
    SessionPolicy policy = profile.sessions();
    LimitValues limits = RequestValidator.resolveLimits(r.getLimits(), profile);
    long cpuBudget = r.getLimits().hasCpuTime() ? limits.cpuNanos() : Long.MAX_VALUE;
    Duration idle =
        timeout(
            "idle_timeout",
            r.hasIdleTimeout() ? r.getIdleTimeout() : null,
            policy.defaultIdle(),
            policy.maxIdle());
    Duration lifetime =
        timeout(
            "max_lifetime",
            r.hasMaxLifetime() ? r.getMaxLifetime() : null,
            policy.defaultLifetime(),
            policy.maxLifetime());
    List<ExecSpec.Input> files = RequestValidator.inputs(r.getFilesList(), profile);
    ExecSpec seed =
        new ExecSpec(
            profile,
            List.of("(session files)"),
            List.of(),
            "",
            new byte[0],
            limits,
            files,
            List.of(),
            caller,
            null);
    reserve(profile.name(), caller.identity(), policy);
    Zygote z = null;
    boolean opened = false;
    try {
      z = pool.lease(Math.max(0, arrival + queueTimeout.toNanos() - System.nanoTime()));
      HeldRun.applySessionLimits(z, limits);
      HeldRun.rearm(z);
      RunResult failed = HeldRun.seed(z, seed, store);
      if (failed != null) {
        throw new InvalidRequestException("files", HeldRun.describe(failed));
      }
      String id = HexFormat.of().formatHex(bytes());
      Session s =
          new Session(
              id,
              caller.identity(),
              profile,
              pool,
              z,
              limits,
              cpuBudget,
              r.getKeepProcesses(),
              idle.toNanos(),
              System.nanoTime(),
              lifetime.toNanos());
      synchronized (lock) {
        if (closed) {
          throw new PoolClosedException("the daemon is shutting down");
        }
        byId.put(id, s);
      }
      opened = true;
      log.info(
          "session "
              + id
              + " opened in profile "
              + profile.name()
              + " for "
              + printable(caller.identity())
              + " (idle timeout "
              + idle.toMillis()
              + " ms, lifetime "
              + lifetime.toMillis()
              + " ms, keep_processes "
              + r.getKeepProcesses()
              + ", "
              + files.size()
              + " files)");
      return new SessionInfo(id, profile.name());
    } finally {
      if (!opened) {
        if (z != null) {
          pool.retire(z);
        }
        synchronized (lock) {
          Counts c = counts.get(profile.name());
          c.open--;
          c.perCaller.merge(caller.identity(), -1, (a, b) -> a + b == 0 ? null : a + b);
        }
      }
    }
  }

  private byte[] bytes() {
    byte[] b = new byte[16];
    random.nextBytes(b);
    return b;
  }

  /** Counts a session in before its zygote is taken, so concurrent opens cannot overshoot. */
  private void reserve(String profile, String identity, SessionPolicy policy)
      throws PoolExhaustedException, PoolClosedException {
    synchronized (lock) {
      if (closed) {
        throw new PoolClosedException("the daemon is shutting down");
      }
      Counts c = counts.get(profile);
      int mine = c.perCaller.getOrDefault(identity, 0);
      if (c.open >= policy.maxSessions()) {
        c.refused++;
        throw new PoolExhaustedException(
            "profile '"
                + profile
                + "' has its maximum of "
                + policy.maxSessions()
                + " sessions open; close one or try again later");
      }
      if (mine >= policy.maxPerCaller()) {
        c.refused++;
        throw new PoolExhaustedException(
            "you have "
                + mine
                + " sessions open in profile '"
                + profile
                + "', the most one caller may (sessions.max_sessions_per_caller); close one first");
      }
      c.open++;
      c.perCaller.merge(identity, 1, Integer::sum);
    }
  }

  /** Closes the caller's session {@code id}: its call in progress, if any, is killed. */
  public void close(String id, Caller caller) throws NotFoundException {
    end(find(id, caller), SessionEnd.CLOSED);
  }

  /** The caller's open sessions. */
  public List<SessionInfo> list(Caller caller) {
    List<SessionInfo> out = new ArrayList<>();
    synchronized (lock) {
      for (Session s : byId.values()) {
        if (s.owner.equals(caller.identity()) && !s.isEnded()) {
          out.add(new SessionInfo(s.id, s.profile.name()));
        }
      }
    }
    out.sort(java.util.Comparator.comparing(SessionInfo::id));
    return out;
  }

  /**
   * Validates a call of session {@code r.session_id} made by {@code caller}.
   *
   * @throws NotFoundException no such open session of this caller
   * @throws InvalidRequestException a field is wrong, or a call sets a limit that only the session
   *     as a whole has (memory, processes, /work size) or exceeds the session's
   */
  public Call prepare(ExecRequest r, Caller caller)
      throws NotFoundException, InvalidRequestException {
    Session s = find(r.getSessionId(), caller);
    ExecSpec spec = validator.validateInSession(r, s.profile.name()).withCaller(caller);
    Limits l = r.getLimits();
    List<String> wide = sessionWide(l);
    if (!wide.isEmpty()) {
      throw new InvalidRequestException(
          "limits." + wide.get(0), "bounds the whole session: set it in OpenSessionRequest.limits");
    }
    LimitValues sl = s.limits;
    LimitValues cl = spec.limits();
    LimitValues limits =
        new LimitValues(
            l.hasWallTime() ? cl.wallNanos() : sl.wallNanos(),
            l.hasCpuTime() ? cl.cpuNanos() : sl.cpuNanos(),
            sl.memoryBytes(),
            sl.maxProcesses(),
            l.hasMaxOutputBytes() ? cl.maxOutputBytes() : sl.maxOutputBytes(),
            l.hasMaxOpenFiles() ? cl.maxOpenFiles() : sl.maxOpenFiles(),
            l.hasMaxFileSizeBytes() ? cl.maxFileSizeBytes() : sl.maxFileSizeBytes(),
            sl.workDirBytes());
    return new Call(s, spec.withLimits(limits));
  }

  private static List<String> sessionWide(Limits l) {
    List<String> out = new ArrayList<>();
    if (l.hasMemoryBytes()) {
      out.add("memory_bytes");
    }
    if (l.hasMaxProcesses()) {
      out.add("max_processes");
    }
    if (l.hasWorkDirBytes()) {
      out.add("work_dir_bytes");
    }
    return out;
  }

  /**
   * Runs a call in its session's zygote, after the session's call before it (waiting up to the
   * queue timeout). {@code deliver} gets the outcome.
   *
   * @throws NotFoundException the session ended meanwhile
   * @throws PoolExhaustedException another call kept the session busy past the queue timeout, or
   *     the session's CPU time is used up
   */
  public void exec(
      Call call,
      RunStreams io,
      RunControl control,
      long arrivalNanos,
      Consumer<ExecOutcome> deliver)
      throws NotFoundException,
          InvalidRequestException,
          PoolExhaustedException,
          CancelledException,
          ZygoteException,
          InterruptedException {
    Session s = call.session;
    long wait = Math.max(0, arrivalNanos + queueTimeout.toNanos() - System.nanoTime());
    if (!s.calls.tryLock(wait, TimeUnit.NANOSECONDS)) {
      throw new PoolExhaustedException(
          "session "
              + s.id
              + " was busy with another call for "
              + queueTimeout.toMillis()
              + " ms; its calls run one at a time");
    }
    try {
      if (s.isEnded()) {
        throw notFound(s.id);
      }
      if (control.isCancelled()) {
        throw new CancelledException("cancelled while waiting for the session");
      }
      s.current = control;
      long queued = System.nanoTime() - arrivalNanos;
      ExecOutcome outcome;
      try {
        s.cpuUsedNanos += HeldRun.rearm(s.zygote);
        ExecSpec spec = call.spec;
        if (s.cpuBudgetNanos != Long.MAX_VALUE) {
          long left = s.cpuBudgetNanos - s.cpuUsedNanos;
          if (left <= 0) {
            throw new PoolExhaustedException(
                "session "
                    + s.id
                    + " has used up its CPU time of "
                    + s.cpuBudgetNanos / 1_000_000
                    + " ms");
          }
          if (left < spec.limits().cpuNanos()) {
            spec = spec.withLimits(spec.limits().withCpuNanos(left));
          }
        }
        outcome =
            HeldRun.run(
                s.zygote,
                spec,
                io,
                control,
                queued,
                cgroups,
                store,
                s.keepProcesses ? RunSpec.KEEP_PROCESSES : 0);
      } catch (ZygoteException | RuntimeException | Error e) {
        // The sandbox's state is unknown: the session cannot go on.
        end(s, SessionEnd.FAILED);
        throw e;
      }
      if (s.isEnded()) {
        // Closed, expired or stopped under this call, which was killed for it.
        throw new NotFoundException(
            "session '"
                + s.id
                + "' ended ("
                + s.reason().label()
                + ") while this call ran; its processes were killed");
      }
      if (!cgroups) {
        s.cpuUsedNanos += outcome.cpuNanos();
      }
      s.callCount++;
      s.lastUsedNanos = System.nanoTime();
      deliver.accept(outcome);
    } finally {
      s.current = null;
      s.lastUsedNanos = System.nanoTime();
      s.calls.unlock();
      // Ended while this call ran (closed, expired, shutdown): this call was its last.
      s.destroyIfEndedAndIdle();
    }
  }

  /** Sessions per profile, now. */
  public List<SessionStats> stats() {
    List<SessionStats> out = new ArrayList<>();
    synchronized (lock) {
      counts.forEach(
          (profile, c) ->
              out.add(new SessionStats(profile, c.open, c.max, Map.copyOf(c.ended), c.refused)));
    }
    return out;
  }

  /** Ends every session (daemon stop): their calls are killed, their zygotes destroyed. */
  @Override
  public void close() {
    List<Session> all;
    synchronized (lock) {
      closed = true;
      all = new ArrayList<>(byId.values());
    }
    for (Session s : all) {
      end(s, SessionEnd.SHUTDOWN);
    }
    reaper.shutdownNow();
  }

  private Session find(String id, Caller caller) throws NotFoundException {
    Session s;
    synchronized (lock) {
      s = byId.get(id);
    }
    // Another caller's session is as unknown as one that never existed.
    if (s == null || s.isEnded() || !s.owner.equals(caller.identity())) {
      throw notFound(id);
    }
    return s;
  }

  private static NotFoundException notFound(String id) {
    return new NotFoundException("session '" + printable(id) + "' not found");
  }

  /** Ends {@code s} once: counted, logged, its call killed, its zygote destroyed. */
  void end(Session s, SessionEnd why) {
    if (!s.markEnded(why)) {
      return;
    }
    synchronized (lock) {
      byId.remove(s.id);
      Counts c = counts.get(s.profile.name());
      c.open--;
      c.perCaller.merge(s.owner, -1, (a, b) -> a + b == 0 ? null : a + b);
      c.ended.merge(why.label(), 1L, Long::sum);
    }
    RunControl running = s.current;
    if (running != null) {
      running.cancel();
    }
    s.destroyIfEndedAndIdle();
    log.info(
        "session "
            + s.id
            + " ended ("
            + why.label()
            + ") after "
            + (System.nanoTime() - s.openedNanos) / 1_000_000
            + " ms"
            + (running != null ? ", its call in progress killed" : ""));
  }

  /** The reaper: ends sessions past their lifetime, idle too long, or whose zygote died. */
  private void sweep() {
    try {
      List<Session> all;
      synchronized (lock) {
        all = new ArrayList<>(byId.values());
      }
      long now = System.nanoTime();
      for (Session s : all) {
        boolean busy = s.calls.isLocked();
        if (now - s.expiresNanos >= 0) {
          end(s, SessionEnd.LIFETIME);
        } else if (!busy && now - s.lastUsedNanos >= s.idleNanos) {
          end(s, SessionEnd.IDLE);
        } else if (!busy && !s.zygote.isAlive()) {
          end(s, SessionEnd.FAILED);
        }
      }
    } catch (RuntimeException | Error e) {
      // The reaper must keep running: a throw would cancel its schedule.
      log.log(Level.SEVERE, "session reaper failed", e);
    }
  }

  private static Duration timeout(
      String field, com.google.protobuf.Duration d, Duration dflt, Duration max)
      throws InvalidRequestException {
    if (d == null) {
      return dflt;
    }
    if (d.getSeconds() < 0 || d.getNanos() < 0 || d.getNanos() >= 1_000_000_000) {
      throw new InvalidRequestException(field, "is not a valid positive duration");
    }
    Duration v = Duration.ofSeconds(d.getSeconds(), d.getNanos());
    if (v.isZero()) {
      throw new InvalidRequestException(field, "must be positive (leave it unset for the default)");
    }
    if (v.compareTo(max) > 0) {
      throw new InvalidRequestException(
          field, "exceeds the profile's maximum of " + max.toMillis() + " ms");
    }
    return v;
  }

  private static String printable(String s) {
    String t = s.length() > 64 ? s.substring(0, 64) + "..." : s;
    return t.replaceAll("[^\\x20-\\x7e]", "?");
  }
}
