package dev.forkd.daemon.exec;

import com.google.protobuf.util.Durations;
import dev.forkd.api.v1.ExecRequest;
import dev.forkd.api.v1.InputFile;
import dev.forkd.api.v1.Limits;
import dev.forkd.daemon.config.Profile;
import dev.forkd.daemon.domain.InvalidRequestException;
import dev.forkd.daemon.domain.LimitValues;
import dev.forkd.daemon.domain.NotFoundException;
import dev.forkd.daemon.domain.Profiles;
import dev.forkd.daemon.files.Caller;
import dev.forkd.daemon.files.PathRules;
import dev.forkd.zygote.frame.ProtocolLimits;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Turns an {@link ExecRequest} into an {@link ExecSpec}, or says precisely which field is wrong.
 * Pure: no I/O, no clock.
 */
public final class RequestValidator {
  /**
   * The kernel's limit for one argument or environment string (MAX_ARG_STRLEN, which the protocol's
   * string limit is), NUL included.
   */
  static final int MAX_STRING_BYTES = ProtocolLimits.MAX_ARG_STRING - 1;

  /** argv and env together; the zygote's SPAWN frame must stay under 1 MiB. */
  static final int MAX_ARGS_TOTAL_BYTES = 512 * 1024;

  static final int MAX_ARGS = ProtocolLimits.MAX_ARGS;
  static final int MAX_PATH_BYTES = 4095;

  private final Map<String, Profile> profiles;
  private final long maxStdinBytes;
  private final int maxPipelineCommands;

  public RequestValidator(Map<String, Profile> profiles, long maxStdinBytes) {
    this(profiles, maxStdinBytes, PipelineValidator.DEFAULT_MAX_COMMANDS);
  }

  /**
   * @param maxPipelineCommands most commands of one ExecPipeline (DaemonConfig field 16)
   */
  public RequestValidator(
      Map<String, Profile> profiles, long maxStdinBytes, int maxPipelineCommands) {
    this.profiles = profiles;
    this.maxStdinBytes = maxStdinBytes;
    this.maxPipelineCommands = maxPipelineCommands;
  }

  /** Most commands of one pipeline (see {@link PipelineValidator}). */
  public int maxPipelineCommands() {
    return maxPipelineCommands;
  }

  public ExecSpec validate(ExecRequest r) throws InvalidRequestException, NotFoundException {
    String name = Profiles.orDefault(r.getProfile());
    Profile profile = profiles.get(name);
    if (profile == null) {
      throw new NotFoundException("profile '" + printable(name) + "' not found");
    }
    if (!r.getSessionId().isEmpty()) {
      // A call of a session is looked up and validated by the session service
      // (validateInSession); here, where none is looked up, no id names an open session.
      throw new NotFoundException("session '" + printable(r.getSessionId()) + "' not found");
    }
    if (r.getArgvCount() == 0) {
      throw new InvalidRequestException("argv", "must not be empty");
    }
    if (r.getArgvCount() > MAX_ARGS) {
      throw new InvalidRequestException("argv", "more than " + MAX_ARGS + " arguments");
    }
    if (r.getEnvCount() > MAX_ARGS) {
      throw new InvalidRequestException("env", "more than " + MAX_ARGS + " entries");
    }
    long total = 0;
    for (int i = 0; i < r.getArgvCount(); i++) {
      total += checkString("argv[" + i + "]", r.getArgv(i), MAX_STRING_BYTES);
    }
    if (r.getArgv(0).isEmpty()) {
      throw new InvalidRequestException("argv[0]", "must not be empty");
    }
    List<String> env = r.getEnvCount() > 0 ? r.getEnvList() : profile.defaultEnv();
    for (int i = 0; i < r.getEnvCount(); i++) {
      String e = r.getEnv(i);
      total += checkString("env[" + i + "]", e, MAX_STRING_BYTES);
      if (e.indexOf('=') <= 0) {
        throw new InvalidRequestException(
            "env[" + i + "]", "must be KEY=VALUE with a non-empty KEY");
      }
    }
    if (total > MAX_ARGS_TOTAL_BYTES) {
      throw new InvalidRequestException(
          "argv",
          "argv and env together are " + total + " bytes, more than " + MAX_ARGS_TOTAL_BYTES);
    }
    String cwd = r.getCwd();
    if (!cwd.isEmpty()) {
      checkString("cwd", cwd, MAX_PATH_BYTES);
      if (!cwd.startsWith("/")) {
        throw new InvalidRequestException("cwd", "must be an absolute path inside the sandbox");
      }
    }
    if (r.getStdin().size() > maxStdinBytes) {
      throw new InvalidRequestException(
          "stdin", r.getStdin().size() + " bytes, more than the limit of " + maxStdinBytes);
    }
    LimitValues limits =
        resolve(r.hasLimits() ? r.getLimits() : Limits.getDefaultInstance(), profile);
    List<ExecSpec.Input> files = files(r, profile);
    if (r.getCollectCount() > profile.maxCollectFiles()) {
      throw new InvalidRequestException(
          "collect",
          r.getCollectCount() + " paths, more than the profile's " + profile.maxCollectFiles());
    }
    Set<String> seen = new HashSet<>();
    for (int i = 0; i < r.getCollectCount(); i++) {
      PathRules.check("collect[" + i + "]", r.getCollect(i));
      if (!seen.add(r.getCollect(i))) {
        throw new InvalidRequestException("collect[" + i + "]", "is listed twice");
      }
    }
    return new ExecSpec(
        profile,
        List.copyOf(r.getArgvList()),
        List.copyOf(env),
        cwd,
        r.getStdin().toByteArray(),
        limits,
        files,
        r.getCollectList(),
        Caller.NOBODY,
        null);
  }

  /**
   * Validates a call of an open session whose profile is {@code profile}: as {@link #validate}, in
   * that profile ({@code r.profile} must be empty or name it).
   */
  public ExecSpec validateInSession(ExecRequest r, String profile)
      throws InvalidRequestException, NotFoundException {
    if (!r.getProfile().isEmpty() && !r.getProfile().equals(profile)) {
      throw new InvalidRequestException(
          "profile", "the session runs in profile '" + profile + "'; leave profile empty");
    }
    return validate(r.toBuilder().clearSessionId().setProfile(profile).build());
  }

  /** The profile named {@code name} (empty: "default"), or NOT_FOUND. */
  public Profile profile(String name) throws NotFoundException {
    String n = Profiles.orDefault(name);
    Profile p = profiles.get(n);
    if (p == null) {
      throw new NotFoundException("profile '" + printable(n) + "' not found");
    }
    return p;
  }

  /**
   * Files to copy in ({@code files[i]} of a request), checked as {@link ExecRequest#getFilesList()}
   * is.
   */
  public static List<ExecSpec.Input> inputs(List<InputFile> files, Profile profile)
      throws InvalidRequestException {
    return files(ExecRequest.newBuilder().addAllFiles(files).build(), profile);
  }

  /** {@code l} resolved against {@code p}'s defaults and maxima, naming a field out of bounds. */
  public static LimitValues resolveLimits(Limits l, Profile p) throws InvalidRequestException {
    return resolve(l, p);
  }

  private static List<ExecSpec.Input> files(ExecRequest r, Profile profile)
      throws InvalidRequestException {
    if (r.getFilesCount() > profile.maxInputFiles()) {
      throw new InvalidRequestException(
          "files",
          r.getFilesCount() + " files, more than the profile's " + profile.maxInputFiles());
    }
    List<ExecSpec.Input> out = new ArrayList<>();
    Set<String> paths = new HashSet<>();
    for (int i = 0; i < r.getFilesCount(); i++) {
      InputFile f = r.getFiles(i);
      String field = "files[" + i + "]";
      String path = PathRules.check(field + ".path", f.getPath());
      for (String other : paths) {
        if (other.equals(path) || other.startsWith(path + "/") || path.startsWith(other + "/")) {
          throw new InvalidRequestException(
              field + ".path", "'" + path + "' collides with another file's path");
        }
      }
      paths.add(path);
      switch (f.getSourceCase()) {
        case CONTENT ->
            out.add(
                new ExecSpec.Input(path, f.getExecutable(), f.getContent().toByteArray(), null));
        case FILE_ID -> {
          if (f.getFileId().isEmpty()) {
            throw new InvalidRequestException(field + ".file_id", "must not be empty");
          }
          out.add(new ExecSpec.Input(path, f.getExecutable(), null, f.getFileId()));
        }
        default -> throw new InvalidRequestException(field, "needs content or file_id");
      }
    }
    return out;
  }

  /** Requested value, else the profile's default; above the profile's maximum is an error. */
  static LimitValues resolve(Limits l, Profile p) throws InvalidRequestException {
    LimitValues d = p.defaults();
    LimitValues m = p.maxima();
    return new LimitValues(
        l.hasWallTime()
            ? duration("limits.wall_time", l.getWallTime(), m.wallNanos())
            : d.wallNanos(),
        l.hasCpuTime() ? duration("limits.cpu_time", l.getCpuTime(), m.cpuNanos()) : d.cpuNanos(),
        l.hasMemoryBytes()
            ? bounded("limits.memory_bytes", l.getMemoryBytes(), 1 << 20, m.memoryBytes())
            : d.memoryBytes(),
        l.hasMaxProcesses()
            ? bounded(
                "limits.max_processes",
                Integer.toUnsignedLong(l.getMaxProcesses()),
                1,
                m.maxProcesses())
            : d.maxProcesses(),
        l.hasMaxOutputBytes()
            ? bounded("limits.max_output_bytes", l.getMaxOutputBytes(), 0, m.maxOutputBytes())
            : d.maxOutputBytes(),
        l.hasMaxOpenFiles()
            ? bounded(
                "limits.max_open_files",
                Integer.toUnsignedLong(l.getMaxOpenFiles()),
                3,
                m.maxOpenFiles())
            : d.maxOpenFiles(),
        l.hasMaxFileSizeBytes()
            ? bounded(
                "limits.max_file_size_bytes", l.getMaxFileSizeBytes(), 0, m.maxFileSizeBytes())
            : d.maxFileSizeBytes(),
        l.hasWorkDirBytes()
            ? bounded("limits.work_dir_bytes", l.getWorkDirBytes(), 0, m.workDirBytes())
            : d.workDirBytes());
  }

  private static long duration(String field, com.google.protobuf.Duration d, long max)
      throws InvalidRequestException {
    if (d.getSeconds() < 0 || d.getNanos() < 0 || d.getNanos() >= 1_000_000_000) {
      throw new InvalidRequestException(field, "is not a valid positive duration");
    }
    if (d.getSeconds() == 0 && d.getNanos() == 0) {
      throw new InvalidRequestException(field, "must be positive (leave it unset for the default)");
    }
    if (d.getSeconds() > max / 1_000_000_000L || Durations.toNanos(d) > max) {
      throw new InvalidRequestException(
          field, "exceeds the profile's maximum of " + (max / 1_000_000) + " ms");
    }
    return Durations.toNanos(d);
  }

  private static long bounded(String field, long v, long min, long max)
      throws InvalidRequestException {
    if (Long.compareUnsigned(v, max) > 0) {
      throw new InvalidRequestException(
          field, Long.toUnsignedString(v) + " exceeds the profile's maximum of " + max);
    }
    if (v < min) {
      throw new InvalidRequestException(field, v + " is below the minimum of " + min);
    }
    return v;
  }

  /** Checks for NUL and length; returns the UTF-8 length. */
  private static int checkString(String field, String s, int maxBytes)
      throws InvalidRequestException {
    int nul = s.indexOf('\0');
    if (nul >= 0) {
      throw new InvalidRequestException(field, "contains a NUL byte at offset " + nul);
    }
    int bytes = utf8Length(s);
    if (bytes > maxBytes) {
      throw new InvalidRequestException(field, bytes + " bytes, more than " + maxBytes);
    }
    return bytes;
  }

  static int utf8Length(String s) {
    int n = 0;
    for (int i = 0; i < s.length(); i++) {
      char ch = s.charAt(i);
      if (ch < 0x80) {
        n += 1;
      } else if (ch < 0x800) {
        n += 2;
      } else if (Character.isHighSurrogate(ch) && i + 1 < s.length()) {
        n += 4;
        i++;
      } else {
        n += 3;
      }
    }
    return n;
  }

  private static String printable(String s) {
    String t = s.length() > 64 ? s.substring(0, 64) + "..." : s;
    return t.replaceAll("[^\\x20-\\x7e]", "?");
  }
}
