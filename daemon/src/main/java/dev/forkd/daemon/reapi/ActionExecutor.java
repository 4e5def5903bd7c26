package dev.forkd.daemon.reapi;

import build.bazel.remote.execution.v2.Action;
import build.bazel.remote.execution.v2.ActionResult;
import build.bazel.remote.execution.v2.Command;
import build.bazel.remote.execution.v2.Digest;
import build.bazel.remote.execution.v2.DigestFunction;
import build.bazel.remote.execution.v2.Directory;
import build.bazel.remote.execution.v2.DirectoryNode;
import build.bazel.remote.execution.v2.ExecuteRequest;
import build.bazel.remote.execution.v2.ExecuteResponse;
import build.bazel.remote.execution.v2.ExecutedActionMetadata;
import build.bazel.remote.execution.v2.ExecutionStage;
import build.bazel.remote.execution.v2.FileNode;
import build.bazel.remote.execution.v2.OutputDirectory;
import build.bazel.remote.execution.v2.OutputFile;
import build.bazel.remote.execution.v2.OutputSymlink;
import build.bazel.remote.execution.v2.Platform;
import build.bazel.remote.execution.v2.SymlinkNode;
import build.bazel.remote.execution.v2.Tree;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Timestamp;
import com.google.protobuf.util.Durations;
import dev.forkd.api.v1.Status;
import dev.forkd.daemon.config.Profile;
import dev.forkd.daemon.domain.CancelledException;
import dev.forkd.daemon.domain.InvalidRequestException;
import dev.forkd.daemon.domain.LimitValues;
import dev.forkd.daemon.domain.NotFoundException;
import dev.forkd.daemon.domain.Profiles;
import dev.forkd.daemon.exec.BufferedStreams;
import dev.forkd.daemon.exec.CollectedFile;
import dev.forkd.daemon.exec.ExecOutcome;
import dev.forkd.daemon.exec.ExecSpec;
import dev.forkd.daemon.exec.RunControl;
import dev.forkd.daemon.exec.Runner;
import dev.forkd.daemon.files.Caller;
import dev.forkd.zygote.PoolClosedException;
import dev.forkd.zygote.PoolExhaustedException;
import dev.forkd.zygote.ZygoteException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.Semaphore;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.logging.Logger;

/**
 * Executes REAPI actions in forkd sandboxes through the {@link Runner}.
 *
 * <p>An action is one run of the profile its platform names ({@code forkd-profile}, default {@code
 * default}). The run's {@code /work} is the input root: the daemon packs the tree into one archive
 * (copied in as a single file, so a tree of any number of files costs one SPAWN) and the run's
 * first step, the sandbox's {@code tar}, unpacks it and removes it before the command starts; after
 * the command the same step packs the outputs that exist into one archive, which the daemon
 * collects and stores in the CAS file by file. Both steps run as the worker, inside the sandbox,
 * under the run's limits. Outputs' parent directories and the working directory are created, as the
 * API requires.
 *
 * <p>Actions queue per profile for as many sandboxes as the pool may have (at most {@code
 * maxQueued} waiting in all, beyond that RESOURCE_EXHAUSTED) instead of failing after the Exec
 * queue timeout.
 */
public final class ActionExecutor {
  private static final Logger log = Logger.getLogger(ActionExecutor.class.getName());

  /** The platform property that picks the profile. */
  public static final String PROFILE_PROPERTY = "forkd-profile";

  private static final int MAX_INPUT_ENTRIES = 1_000_000;
  private static final long INLINE_MAX = 1 << 20;

  /**
   * The daemon's hard RLIMIT_NOFILE: a run may not be given more (setrlimit fails with EPERM), and
   * a profile's maximum may be above it on a given host. Actions get the profile's maximum up to
   * this.
   */
  private static final long HARD_NOFILE = hardNofile();

  private static long hardNofile() {
    try {
      for (String line :
          java.nio.file.Files.readAllLines(java.nio.file.Path.of("/proc/self/limits"))) {
        if (line.startsWith("Max open files")) {
          String[] f = line.substring("Max open files".length()).trim().split("\\s+");
          return f[1].equals("unlimited") ? Long.MAX_VALUE : Long.parseLong(f[1]);
        }
      }
    } catch (java.io.IOException | RuntimeException e) {
      // fall through to a value every host allows
    }
    return 1024;
  }

  /**
   * The run's first and last step. $1: the archive directory below /work, $2: the working
   * directory, then the command. The archives' directory is moved out of /work before the command
   * starts, so the command sees exactly its input root. A setup failure writes its reason to
   * setup-failed in /work/$1, which the daemon collects to tell it from the command's exit code.
   */
  static final String WRAPPER =
      String.join(
          "\n",
          "M=$1; W=$2; shift 2",
          "T=/tmp/$M",
          "fail() { /bin/mkdir -p /work/$M; printf '%s\\n' \"$1\" > /work/$M/setup-failed; exit 125; }",
          "cd /work || fail 'no /work'",
          "/bin/tar -x -p --no-same-owner -f \"$M/in.tar\" 2>/tmp/.forkd-tar-err"
              + " || fail \"cannot unpack the input root: $(/bin/head -c 2000 /tmp/.forkd-tar-err)\"",
          "/bin/rm -f \"$M/in.tar\" /tmp/.forkd-tar-err || fail 'cannot remove the input archive'",
          "/bin/mv \"/work/$M\" \"$T\" || fail 'cannot move the output list'",
          "cd \"/work/$W\" || fail 'no working directory'",
          "\"$@\"",
          "rc=$?",
          "cd \"/work/$W\" 2>/dev/null || cd /work",
          "while IFS= read -r p; do",
          "  if [ -e \"$p\" ] || [ -h \"$p\" ]; then printf '%s\\n' \"$p\"; fi",
          "done < \"$T/outputs\" > \"$T/found\"",
          "/bin/mkdir -p \"/work/$M\" || exit $rc",
          "/bin/tar -c -f \"/work/$M/out.tar\" --no-unquote --verbatim-files-from -T \"$T/found\""
              + " 2>\"$T/err\" || { /bin/head -c 2000 \"$T/err\" > \"/work/$M/collect-failed\"; }",
          "exit $rc");

  /** Settings of the REAPI executor. */
  public record Config(
      int maxQueued,
      long maxInputBytes,
      long maxOutputBytes,
      Duration defaultTimeout,
      boolean cacheFailed) {}

  /** What the caller may run: PERMISSION_DENIED's message for a profile, or empty. */
  public interface Access {
    Optional<String> deny(String profile);
  }

  private final Runner runner;
  private final Map<String, Profile> profiles;
  private final Cas cas;
  private final ActionCache cache;
  private final ReapiMetrics metrics;
  private final Config config;
  private final Map<String, Semaphore> slots = new HashMap<>();
  private final AtomicInteger waiting = new AtomicInteger();
  private final AtomicInteger running = new AtomicInteger();
  private final java.nio.file.Path scratch;
  private volatile ReapiFaults faults = ReapiFaults.NONE;

  /**
   * @param sandboxes the number of sandboxes each profile may run at once (its pool's maximum)
   */
  public ActionExecutor(
      Runner runner,
      Map<String, Profile> profiles,
      Function<String, Integer> sandboxes,
      Cas cas,
      ActionCache cache,
      ReapiMetrics metrics,
      Config config) {
    this.runner = runner;
    this.profiles = profiles;
    this.cas = cas;
    this.cache = cache;
    this.metrics = metrics;
    this.config = config;
    for (String p : profiles.keySet()) {
      slots.put(p, new Semaphore(Math.max(1, sandboxes.apply(p)), true));
    }
    try {
      // Each action's input archive and collected outputs live in a directory of their own here,
      // on disk and off the heap, removed when the action ends however it ends.
      this.scratch = java.nio.file.Files.createTempDirectory("forkd-reapi-");
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException("cannot create the REAPI scratch directory", e);
    }
  }

  /** Makes every later action call {@code f} at each of its stages (tests inject failures). */
  public void injectFaults(ReapiFaults f) {
    this.faults = f == null ? ReapiFaults.NONE : f;
  }

  /** Actions holding a queue slot now (materialising, running or storing outputs). */
  public int running() {
    return running.get();
  }

  /** Where actions stage their archives: empty when no action is in flight. */
  public java.nio.file.Path scratch() {
    return scratch;
  }

  /** Actions waiting for a sandbox now. */
  public int waiting() {
    return waiting.get();
  }

  public ActionCache cache() {
    return cache;
  }

  public Cas cas() {
    return cas;
  }

  public ReapiMetrics metrics() {
    return metrics;
  }

  /**
   * Runs (or finds in the cache) the action of {@code req}. Failures the API reports in the
   * ExecuteResponse (missing inputs, a bad platform, a timeout) come back in its status; a
   * ReapiException is thrown only when the request itself is malformed.
   *
   * @param stage told of each stage the action enters (QUEUED, EXECUTING)
   */
  public ExecuteResponse execute(
      Caller who,
      ExecuteRequest req,
      Access access,
      RunControl control,
      Consumer<ExecutionStage.Value> stage) {
    Instant queuedAt = Instant.now();
    try {
      return run(who, req, access, control, stage, queuedAt);
    } catch (ReapiException e) {
      return ExecuteResponse.newBuilder()
          .setStatus(Statuses.of(e))
          .setMessage(e.getMessage())
          .build();
    }
  }

  private ExecuteResponse run(
      Caller who,
      ExecuteRequest req,
      Access access,
      RunControl control,
      Consumer<ExecutionStage.Value> stage,
      Instant queuedAt)
      throws ReapiException {
    if (req.getDigestFunction() != DigestFunction.Value.UNKNOWN
        && req.getDigestFunction() != DigestFunction.Value.SHA256) {
      throw ReapiException.invalid("digest_function: only SHA256 is supported");
    }
    Digest actionDigest = req.getActionDigest();
    Digests.check(actionDigest, "action_digest");
    Action action = parse(who, actionDigest, "action", Action::parseFrom);
    boolean cacheable = !action.getDoNotCache();
    String instance = req.getInstanceName();
    if (cacheable && !req.getSkipCacheLookup()) {
      ActionResult hit = cache.get(who, instance, actionDigest);
      if (hit != null) {
        metrics.hit();
        log.fine(() -> "REAPI action " + Digests.text(actionDigest) + ": cache hit");
        return ExecuteResponse.newBuilder()
            .setResult(inline(who, hit, req.getInlineStdout(), req.getInlineStderr(), req))
            .setCachedResult(true)
            .setStatus(com.google.rpc.Status.newBuilder().setCode(0))
            .build();
      }
      metrics.miss();
    }
    Digests.check(action.getCommandDigest(), "action.command_digest");
    Digests.check(action.getInputRootDigest(), "action.input_root_digest");
    Command cmd = parse(who, action.getCommandDigest(), "command", Command::parseFrom);
    Platform platform = action.hasPlatform() ? action.getPlatform() : cmd.getPlatform();
    String profileName = profileOf(platform);
    Profile profile = profiles.get(profileName);
    if (profile == null) {
      throw new ReapiException(
          ReapiException.Code.FAILED_PRECONDITION,
          "platform property "
              + PROFILE_PROPERTY
              + ": no profile '"
              + Digests.shown(profileName)
              + "'",
          List.of(
              new ReapiException.Violation(
                  "INVALID_PLATFORM", PROFILE_PROPERTY, "no such profile on this server")));
    }
    Optional<String> denied = access.deny(profileName);
    if (denied.isPresent()) {
      throw new ReapiException(ReapiException.Code.PERMISSION_DENIED, denied.get());
    }
    if (cmd.getArgumentsCount() == 0) {
      throw ReapiException.invalid("command.arguments: empty");
    }
    String wd = relative(cmd.getWorkingDirectory(), "command.working_directory", true);
    Set<String> fileOutputs = new LinkedHashSet<>();
    Set<String> dirOutputs = new LinkedHashSet<>();
    Set<String> anyOutputs = new LinkedHashSet<>();
    for (String p : cmd.getOutputFilesList()) {
      fileOutputs.add(relative(p, "command.output_files", false));
    }
    for (String p : cmd.getOutputDirectoriesList()) {
      dirOutputs.add(relative(p, "command.output_directories", false));
    }
    for (String p : cmd.getOutputPathsList()) {
      anyOutputs.add(relative(p, "command.output_paths", false));
    }
    LimitValues limits = limits(profile, action);
    List<String> env = new ArrayList<>();
    for (Command.EnvironmentVariable v : cmd.getEnvironmentVariablesList()) {
      if (v.getName().isEmpty() || v.getName().indexOf('=') >= 0) {
        throw ReapiException.invalid(
            "command.environment_variables: '" + Digests.shown(v.getName()) + "' is not a name");
      }
      env.add(v.getName() + "=" + v.getValue());
    }

    // Queue for a sandbox of the profile (bounded), then gather the inputs: only as many input
    // archives are in memory as sandboxes run.
    stage.accept(ExecutionStage.Value.QUEUED);
    Semaphore slot = slots.get(profileName);
    long waitStart = System.nanoTime();
    acquire(slot, control);
    running.incrementAndGet();
    java.nio.file.Path work = null;
    try {
      metrics.queued(System.nanoTime() - waitStart);
      faults.at(ReapiFaults.Stage.SLOT_TAKEN);
      Instant workerStart = Instant.now();
      long fetchStart = System.nanoTime();
      InputRoot root =
          InputRoot.resolve(
              cas, who, action.getInputRootDigest(), config.maxInputBytes(), MAX_INPUT_ENTRIES);
      String meta = ".forkd-reapi-" + Long.toHexString(ThreadLocalRandom.current().nextLong());
      Set<String> extraDirs = new LinkedHashSet<>();
      addWithParents(extraDirs, wd);
      List<String> all = new ArrayList<>(fileOutputs);
      all.addAll(dirOutputs);
      all.addAll(anyOutputs);
      for (String o : all) {
        String full = join(wd, o);
        int slash = full.lastIndexOf('/');
        if (slash > 0) {
          addWithParents(extraDirs, full.substring(0, slash));
        }
      }
      for (String o : dirOutputs) {
        // The API has the server create output directories' parents only; the directories
        // themselves are the action's to make.
        extraDirs.remove(join(wd, o));
      }
      work = java.nio.file.Files.createTempDirectory(scratch, "action-");
      java.nio.file.Path archive = work.resolve("in.tar");
      long archiveBytes;
      try (java.nio.channels.FileChannel ch =
          java.nio.channels.FileChannel.open(
              archive,
              java.nio.file.StandardOpenOption.CREATE_NEW,
              java.nio.file.StandardOpenOption.WRITE)) {
        archiveBytes = root.archive(cas, who, extraDirs, ch, faults);
      }
      StringBuilder list = new StringBuilder();
      for (String o : all) {
        list.append(o).append('\n');
      }
      Instant fetchDone = Instant.now();
      long fetchNanos = System.nanoTime() - fetchStart;
      metrics.inputFetch(fetchNanos);
      // The archive and what it unpacks to are both in /work until the archive is removed.
      if (archiveBytes > limits.workDirBytes() / 2) {
        throw new ReapiException(
            ReapiException.Code.RESOURCE_EXHAUSTED,
            "the input root ("
                + archiveBytes
                + " bytes packed) needs more than half the profile's largest work dir ("
                + limits.workDirBytes()
                + " bytes)");
      }
      faults.at(ReapiFaults.Stage.MATERIALISED);
      List<String> argv =
          new ArrayList<>(List.of("/bin/sh", "-c", WRAPPER, "forkd-action", meta, wd));
      argv.addAll(cmd.getArgumentsList());
      Profile runProfile = withCollectBudget(profile, config.maxOutputBytes());
      ExecSpec spec =
          new ExecSpec(
              runProfile,
              argv,
              env,
              "",
              new byte[0],
              limits,
              List.of(
                  new ExecSpec.Input(meta + "/in.tar", false, null, null, archive),
                  new ExecSpec.Input(
                      meta + "/outputs",
                      false,
                      list.toString().getBytes(StandardCharsets.UTF_8),
                      null)),
              List.of(meta + "/out.tar", meta + "/setup-failed", meta + "/collect-failed"),
              who,
              work);
      stage.accept(ExecutionStage.Value.EXECUTING);
      Instant execStart = Instant.now();
      ExecOutcome outcome = runOnce(spec, control);
      Instant execDone = Instant.now();
      faults.at(ReapiFaults.Stage.COLLECTED);
      ExecuteResponse r =
          finish(
              who,
              req,
              actionDigest,
              instance,
              cacheable,
              profileName,
              limits,
              outcome,
              fileOutputs,
              dirOutputs,
              anyOutputs,
              ExecutedActionMetadata.newBuilder()
                  .setWorker("forkd/" + profileName)
                  .setQueuedTimestamp(ts(queuedAt))
                  .setWorkerStartTimestamp(ts(workerStart))
                  .setInputFetchStartTimestamp(ts(workerStart))
                  .setInputFetchCompletedTimestamp(ts(fetchDone))
                  .setExecutionStartTimestamp(ts(execStart))
                  .setExecutionCompletedTimestamp(ts(execDone)));
      log.info(
          () ->
              "REAPI action "
                  + Digests.text(actionDigest)
                  + " profile="
                  + profileName
                  + " inputs="
                  + root.fileCount()
                  + " files/"
                  + root.bytes()
                  + "B materialise_ms="
                  + fetchNanos / 1_000_000
                  + " exit="
                  + r.getResult().getExitCode()
                  + " status="
                  + com.google.rpc.Code.forNumber(r.getStatus().getCode())
                  + " queued_ms="
                  + (workerStart.toEpochMilli() - queuedAt.toEpochMilli())
                  + " run_ms="
                  + (execDone.toEpochMilli() - execStart.toEpochMilli()));
      return r;
    } catch (java.io.IOException e) {
      throw new ReapiException(
          ReapiException.Code.INTERNAL, "cannot stage the action: " + e.getMessage());
    } finally {
      if (work != null) {
        deleteTree(work);
      }
      running.decrementAndGet();
      slot.release();
    }
  }

  /** Removes an action's scratch directory (flat: its archive and collected files). */
  private static void deleteTree(java.nio.file.Path dir) {
    try (java.util.stream.Stream<java.nio.file.Path> s = java.nio.file.Files.list(dir)) {
      for (java.nio.file.Path p : (Iterable<java.nio.file.Path>) s::iterator) {
        java.nio.file.Files.deleteIfExists(p);
      }
      java.nio.file.Files.deleteIfExists(dir);
    } catch (java.io.IOException e) {
      log.warning("cannot remove an action's scratch directory: " + e.getMessage());
    }
  }

  private void acquire(Semaphore slot, RunControl control) throws ReapiException {
    if (waiting.incrementAndGet() > config.maxQueued()) {
      waiting.decrementAndGet();
      throw new ReapiException(
          ReapiException.Code.RESOURCE_EXHAUSTED,
          config.maxQueued()
              + " actions are waiting already (remote_execution.max_queued_actions)");
    }
    try {
      while (!slot.tryAcquire(100, TimeUnit.MILLISECONDS)) {
        if (control.isCancelled()) {
          throw new ReapiException(ReapiException.Code.CANCELLED, "cancelled while queued");
        }
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new ReapiException(ReapiException.Code.CANCELLED, "interrupted while queued");
    } finally {
      waiting.decrementAndGet();
    }
  }

  /**
   * One run; a pool busy with other callers' runs (past the queue timeout) is tried again, as long
   * as the action is wanted, for up to ten minutes.
   */
  private ExecOutcome runOnce(ExecSpec spec, RunControl control) throws ReapiException {
    long giveUp = System.nanoTime() + TimeUnit.MINUTES.toNanos(10);
    while (true) {
      AtomicReference<ExecOutcome> got = new AtomicReference<>();
      try {
        runner.exec(spec, BufferedStreams.of(spec), control, System.nanoTime(), got::set);
        return got.get();
      } catch (PoolExhaustedException e) {
        if (System.nanoTime() > giveUp || control.isCancelled()) {
          throw new ReapiException(
              ReapiException.Code.RESOURCE_EXHAUSTED, "no sandbox became free: " + e.getMessage());
        }
      } catch (PoolClosedException e) {
        throw new ReapiException(ReapiException.Code.UNAVAILABLE, "the daemon is stopping");
      } catch (ZygoteException e) {
        throw new ReapiException(
            ReapiException.Code.INTERNAL, "the sandbox failed: " + e.getMessage());
      } catch (CancelledException e) {
        throw new ReapiException(ReapiException.Code.CANCELLED, e.getMessage());
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new ReapiException(ReapiException.Code.CANCELLED, "interrupted");
      } catch (InvalidRequestException e) {
        throw ReapiException.invalid(e.getMessage());
      } catch (NotFoundException e) {
        throw new ReapiException(ReapiException.Code.INTERNAL, e.getMessage());
      }
    }
  }

  private ExecuteResponse finish(
      Caller who,
      ExecuteRequest req,
      Digest actionDigest,
      String instance,
      boolean cacheable,
      String profileName,
      LimitValues limits,
      ExecOutcome o,
      Set<String> fileOutputs,
      Set<String> dirOutputs,
      Set<String> anyOutputs,
      ExecutedActionMetadata.Builder meta)
      throws ReapiException {
    if (o.status() == Status.STATUS_EXEC_FAILED) {
      metrics.action(profileName, "error");
      throw new ReapiException(
          ReapiException.Code.INTERNAL, "the action's sandbox step failed: " + o.message());
    }
    java.nio.file.Path outArchive = null;
    for (CollectedFile f : o.files()) {
      if (f.path().endsWith("/setup-failed") && f.error().isEmpty()) {
        metrics.action(profileName, "error");
        throw new ReapiException(
            ReapiException.Code.INTERNAL, "cannot lay out the action in its sandbox: " + head(f));
      }
      if (f.path().endsWith("/collect-failed") && f.error().isEmpty()) {
        metrics.action(profileName, "error");
        throw new ReapiException(
            ReapiException.Code.INTERNAL, "cannot collect the action's outputs: " + head(f));
      }
      if (f.path().endsWith("/out.tar")) {
        if (f.error().isEmpty()) {
          outArchive = f.spilled();
        } else if (f.size() > 0) {
          metrics.action(profileName, "error");
          throw new ReapiException(
              ReapiException.Code.RESOURCE_EXHAUSTED,
              "the action's outputs are too large: "
                  + f.error()
                  + " (remote_execution.max_output_bytes)");
        }
      }
    }
    meta.setOutputUploadStartTimestamp(ts(Instant.now()));
    ActionResult.Builder result = ActionResult.newBuilder().setExitCode(o.exitCode());
    if (outArchive != null) {
      try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(outArchive)) {
        outputs(who, ch, Tar.read(ch), fileOutputs, dirOutputs, anyOutputs, result);
      } catch (java.io.IOException e) {
        throw new ReapiException(
            ReapiException.Code.INTERNAL, "cannot read the action's outputs: " + e.getMessage());
      }
    }
    if (o.stdout().length > 0) {
      result.setStdoutDigest(cas.put(who, o.stdout()));
    }
    if (o.stderr().length > 0) {
      result.setStderrDigest(cas.put(who, o.stderr()));
    }
    Instant done = Instant.now();
    meta.setOutputUploadCompletedTimestamp(ts(done)).setWorkerCompletedTimestamp(ts(done));
    result.setExecutionMetadata(meta);
    ActionResult stored = result.build();
    com.google.rpc.Status.Builder status = com.google.rpc.Status.newBuilder().setCode(0);
    String outcome = o.exitCode() == 0 ? "ok" : "failed";
    switch (o.status()) {
      case STATUS_WALL_TIME_LIMIT_EXCEEDED -> {
        status
            .setCode(com.google.rpc.Code.DEADLINE_EXCEEDED_VALUE)
            .setMessage("the action timed out after " + limits.wallNanos() / 1_000_000 + " ms");
        outcome = "timeout";
      }
      case STATUS_MEMORY_LIMIT_EXCEEDED,
          STATUS_CPU_TIME_LIMIT_EXCEEDED,
          STATUS_OUTPUT_LIMIT_EXCEEDED -> {
        status.setCode(com.google.rpc.Code.RESOURCE_EXHAUSTED_VALUE).setMessage(o.message());
        outcome = "limit";
      }
      default -> {}
    }
    metrics.action(profileName, outcome);
    if (cacheable && status.getCode() == 0 && (o.exitCode() == 0 || config.cacheFailed())) {
      cache.put(who, instance, actionDigest, stored);
    }
    return ExecuteResponse.newBuilder()
        .setResult(inline(who, stored, req.getInlineStdout(), req.getInlineStderr(), req))
        .setStatus(status)
        .setMessage(status.getMessage())
        .build();
  }

  /** The start of a small collected file (a setup step's reason), as text. */
  private static String head(CollectedFile f) {
    if (f.spilled() == null) {
      return new String(f.content(), StandardCharsets.UTF_8).strip();
    }
    try (java.io.InputStream in = java.nio.file.Files.newInputStream(f.spilled())) {
      return new String(in.readNBytes(4096), StandardCharsets.UTF_8).strip();
    } catch (java.io.IOException e) {
      return "(unreadable: " + e.getMessage() + ")";
    }
  }

  /** Stores the outputs found in the archive and lists them in {@code result}. */
  private void outputs(
      Caller who,
      java.nio.channels.FileChannel ch,
      List<Tar.Entry> entries,
      Set<String> fileOutputs,
      Set<String> dirOutputs,
      Set<String> anyOutputs,
      ActionResult.Builder result)
      throws ReapiException {
    Map<String, Tar.Entry> byPath = new HashMap<>();
    for (Tar.Entry e : entries) {
      byPath.put(e.path(), e);
    }
    for (String p : fileOutputs) {
      Tar.Entry e = byPath.get(p);
      if (e == null) {
        continue;
      }
      if (e.kind() == Tar.Kind.FILE) {
        result.addOutputFiles(outputFile(who, ch, p, e));
      } else if (e.kind() == Tar.Kind.SYMLINK) {
        OutputSymlink s = OutputSymlink.newBuilder().setPath(p).setTarget(e.target()).build();
        result.addOutputFileSymlinks(s).addOutputSymlinks(s);
      }
    }
    for (String p : dirOutputs) {
      Tar.Entry e = byPath.get(p);
      if (e == null) {
        continue;
      }
      if (e.kind() == Tar.Kind.DIR) {
        result.addOutputDirectories(outputDirectory(who, ch, p, entries));
      } else if (e.kind() == Tar.Kind.SYMLINK) {
        OutputSymlink s = OutputSymlink.newBuilder().setPath(p).setTarget(e.target()).build();
        result.addOutputDirectorySymlinks(s).addOutputSymlinks(s);
      }
    }
    for (String p : anyOutputs) {
      Tar.Entry e = byPath.get(p);
      if (e == null) {
        continue;
      }
      switch (e.kind()) {
        case FILE -> result.addOutputFiles(outputFile(who, ch, p, e));
        case DIR -> result.addOutputDirectories(outputDirectory(who, ch, p, entries));
        case SYMLINK ->
            result.addOutputSymlinks(
                OutputSymlink.newBuilder().setPath(p).setTarget(e.target()).build());
      }
    }
  }

  private OutputFile outputFile(
      Caller who, java.nio.channels.FileChannel ch, String path, Tar.Entry e)
      throws ReapiException {
    return OutputFile.newBuilder()
        .setPath(path)
        .setDigest(cas.put(who, ch, e.offset(), e.size()))
        .setIsExecutable((e.mode() & 0100) != 0)
        .build();
  }

  /** The Tree of the output directory {@code path}, stored with its files. */
  private OutputDirectory outputDirectory(
      Caller who, java.nio.channels.FileChannel ch, String path, List<Tar.Entry> entries)
      throws ReapiException {
    String prefix = path + "/";
    // Every directory of the tree, by its path relative to the output directory ("" = itself).
    Map<String, Directory.Builder> dirs = new TreeMap<>();
    dirs.put("", Directory.newBuilder());
    for (Tar.Entry e : entries) {
      if (!e.path().startsWith(prefix)) {
        continue;
      }
      String rel = e.path().substring(prefix.length());
      String parent = rel.contains("/") ? rel.substring(0, rel.lastIndexOf('/')) : "";
      String name = rel.substring(rel.lastIndexOf('/') + 1);
      for (String d = parent; ; d = d.contains("/") ? d.substring(0, d.lastIndexOf('/')) : "") {
        dirs.computeIfAbsent(d, k -> Directory.newBuilder());
        if (d.isEmpty()) {
          break;
        }
      }
      Directory.Builder at = dirs.get(parent);
      switch (e.kind()) {
        case FILE ->
            at.addFiles(
                FileNode.newBuilder()
                    .setName(name)
                    .setDigest(cas.put(who, ch, e.offset(), e.size()))
                    .setIsExecutable((e.mode() & 0100) != 0));
        case SYMLINK ->
            at.addSymlinks(SymlinkNode.newBuilder().setName(name).setTarget(e.target()));
        case DIR -> dirs.computeIfAbsent(rel, k -> Directory.newBuilder());
      }
    }
    // Deepest first, so that each directory's digest is known before its parent lists it.
    List<String> order = new ArrayList<>(dirs.keySet());
    order.sort(
        Comparator.comparingInt((String s) -> s.isEmpty() ? 0 : s.split("/").length).reversed());
    Map<String, Directory> built = new HashMap<>();
    for (String d : order) {
      Directory done = sorted(dirs.get(d));
      built.put(d, done);
      if (!d.isEmpty()) {
        String parent = d.contains("/") ? d.substring(0, d.lastIndexOf('/')) : "";
        dirs.get(parent)
            .addDirectories(
                DirectoryNode.newBuilder()
                    .setName(d.substring(d.lastIndexOf('/') + 1))
                    .setDigest(Digests.of(done)));
      }
    }
    Tree.Builder tree = Tree.newBuilder().setRoot(built.get(""));
    Set<String> seen = new HashSet<>();
    for (Map.Entry<String, Directory> e : built.entrySet()) {
      if (!e.getKey().isEmpty() && seen.add(Digests.text(Digests.of(e.getValue())))) {
        tree.addChildren(e.getValue());
      }
    }
    Tree t = tree.build();
    Digest treeDigest = cas.put(who, t.toByteArray());
    Digest rootDigest = Digests.of(t.getRoot());
    return OutputDirectory.newBuilder()
        .setPath(path)
        .setTreeDigest(treeDigest)
        .setRootDirectoryDigest(rootDigest)
        .build();
  }

  /** The API's canonical form: each kind of entry sorted by name. */
  private static Directory sorted(Directory.Builder b) {
    List<FileNode> f = new ArrayList<>(b.getFilesList());
    f.sort(Comparator.comparing(FileNode::getName));
    List<DirectoryNode> d = new ArrayList<>(b.getDirectoriesList());
    d.sort(Comparator.comparing(DirectoryNode::getName));
    List<SymlinkNode> s = new ArrayList<>(b.getSymlinksList());
    s.sort(Comparator.comparing(SymlinkNode::getName));
    return Directory.newBuilder().addAllFiles(f).addAllDirectories(d).addAllSymlinks(s).build();
  }

  /** {@code r} with stdout, stderr and the named output files inline where asked and small. */
  ActionResult inline(
      Caller who, ActionResult r, boolean stdout, boolean stderr, ExecuteRequest req) {
    return Inline.apply(cas, who, r, stdout, stderr, req.getInlineOutputFilesList(), INLINE_MAX);
  }

  private LimitValues limits(Profile p, Action action) throws ReapiException {
    LimitValues max = p.maxima();
    long wall;
    com.google.protobuf.Duration t = action.getTimeout();
    if (action.hasTimeout() && (t.getSeconds() != 0 || t.getNanos() != 0)) {
      if (!Durations.isValid(t) || Durations.isNegative(t)) {
        throw ReapiException.invalid("action.timeout: not a valid positive duration");
      }
      // The seconds first: a valid Duration's nanoseconds can overflow a long (a wall limit that
      // wrapped negative had been taken).
      if (t.getSeconds() > max.wallNanos() / 1_000_000_000L
          || (wall = Durations.toNanos(t)) > max.wallNanos()) {
        throw ReapiException.invalid(
            "action.timeout: "
                + Durations.toMillis(t)
                + " ms, more than the profile's maximum of "
                + max.wallNanos() / 1_000_000
                + " ms");
      }
    } else if (config.defaultTimeout() != null) {
      wall = Math.min(max.wallNanos(), config.defaultTimeout().toNanos());
    } else {
      wall = max.wallNanos();
    }
    return new LimitValues(
        wall,
        max.cpuNanos(),
        max.memoryBytes(),
        max.maxProcesses(),
        Math.min(max.maxOutputBytes(), 64L << 20),
        Math.min(max.maxOpenFiles(), HARD_NOFILE),
        max.maxFileSizeBytes(),
        max.workDirBytes());
  }

  private static Profile withCollectBudget(Profile p, long bytes) {
    return p.withMaxCollectBytes(bytes);
  }

  static String profileOf(Platform platform) throws ReapiException {
    String profile = Profiles.DEFAULT;
    List<ReapiException.Violation> bad = new ArrayList<>();
    for (Platform.Property prop : platform.getPropertiesList()) {
      if (prop.getName().equals(PROFILE_PROPERTY)) {
        profile = prop.getValue();
      } else {
        bad.add(
            new ReapiException.Violation(
                "INVALID_PLATFORM",
                Digests.shown(prop.getName()),
                "platform property not supported by this server (only " + PROFILE_PROPERTY + ")"));
      }
    }
    if (!bad.isEmpty()) {
      throw new ReapiException(
          ReapiException.Code.FAILED_PRECONDITION,
          "unsupported platform properties: "
              + String.join(", ", bad.stream().map(ReapiException.Violation::subject).toList()),
          bad);
    }
    return profile;
  }

  /** A relative, normalised path ('' allowed for the working directory only). */
  static String relative(String p, String field, boolean emptyOk) throws ReapiException {
    if (p.isEmpty()) {
      if (emptyOk) {
        return "";
      }
      throw ReapiException.invalid(field + ": an empty path");
    }
    if (p.startsWith("/") || p.endsWith("/") || p.indexOf('\0') >= 0 || p.indexOf('\n') >= 0) {
      throw ReapiException.invalid(field + ": '" + Digests.shown(p) + "' is not a relative path");
    }
    for (String part : p.split("/", -1)) {
      if (part.isEmpty() || part.equals(".") || part.equals("..")) {
        throw ReapiException.invalid(
            field + ": '" + Digests.shown(p) + "' is not a normalised relative path");
      }
    }
    if (p.startsWith(".forkd-reapi-")) {
      throw ReapiException.invalid(field + ": '" + Digests.shown(p) + "' is reserved");
    }
    return p;
  }

  private static String join(String wd, String p) {
    return wd.isEmpty() ? p : wd + "/" + p;
  }

  private static void addWithParents(Set<String> dirs, String path) {
    if (path.isEmpty()) {
      return;
    }
    int i = 0;
    while ((i = path.indexOf('/', i + 1)) > 0) {
      dirs.add(path.substring(0, i));
    }
    dirs.add(path);
  }

  private interface Parser<T> {
    T parse(byte[] b) throws InvalidProtocolBufferException;
  }

  private <T> T parse(Caller who, Digest d, String what, Parser<T> p) throws ReapiException {
    if (!cas.has(who, d)) {
      throw InputRoot.missingBlobs(List.of(Digests.text(d)));
    }
    try {
      return p.parse(cas.read(who, d));
    } catch (InvalidProtocolBufferException e) {
      throw ReapiException.invalid("the " + what + " blob " + Digests.text(d) + " does not parse");
    } catch (ReapiException e) {
      if (e.code() == ReapiException.Code.NOT_FOUND) {
        throw InputRoot.missingBlobs(List.of(Digests.text(d)));
      }
      throw e;
    }
  }

  static Timestamp ts(Instant i) {
    return Timestamp.newBuilder().setSeconds(i.getEpochSecond()).setNanos(i.getNano()).build();
  }
}
