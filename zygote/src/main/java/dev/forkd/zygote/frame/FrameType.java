package dev.forkd.zygote.frame;

import java.util.Collections;
import java.util.EnumMap;
import java.util.Map;

/** The frame types of native/PROTOCOL.md and the fields each may carry. */
public enum FrameType {
  HELLO(1, true, rules().required(Tag.PROTO_VERSION).required(Tag.LAUNCHER_PID)),
  SPAWN(
      2,
      false,
      rules()
          .repeatedAtLeastOne(Tag.ARGV, ProtocolLimits.MAX_ARGS)
          .repeated(Tag.ENV, ProtocolLimits.MAX_ARGS)
          .optional(Tag.CWD)
          .optional(Tag.WALL_TIME_NS)
          .optional(Tag.UID)
          .optional(Tag.GID)
          .repeated(Tag.RLIMIT, ProtocolLimits.MAX_RLIMITS)
          .optional(Tag.SECCOMP_BPF)
          .optional(Tag.WORK_DIR_BYTES)
          .repeated(Tag.FILE, ProtocolLimits.MAX_FILES)
          .repeated(Tag.PIPE_FD, ProtocolLimits.MAX_PIPE_FD - 2)
          .optional(Tag.STDIO_PIPED)
          .optional(Tag.RUN_FLAGS)
          .optional(Tag.STARTED_HOLD_NS)),
  STARTED(
      3,
      true,
      rules()
          .required(Tag.PID)
          .required(Tag.SPAWN_NS)
          .optional(Tag.WARM)
          .optional(Tag.BASE_RSS_KB)
          .optional(Tag.EXEC_AT_NS)),
  EXEC_FAILED(4, true, rules().required(Tag.STEP).required(Tag.ERRNO).optional(Tag.MESSAGE)),
  KILL(5, false, rules()),
  EXITED(
      6,
      true,
      rules()
          .required(Tag.WAIT_STATUS)
          .required(Tag.WALL_NS)
          .required(Tag.UTIME_NS)
          .required(Tag.STIME_NS)
          .required(Tag.MAXRSS_KB)
          .required(Tag.FLAGS)),
  RESET(7, false, rules()),
  RESET_DONE(8, true, rules()),
  ERROR(9, true, rules().required(Tag.STEP).required(Tag.ERRNO).optional(Tag.MESSAGE)),
  PING(10, false, rules()),
  PONG(11, true, rules()),
  SIGNAL(12, false, rules().required(Tag.SIGNAL_NUMBER)),
  COLLECT(13, false, rules().repeatedAtLeastOne(Tag.PATH, ProtocolLimits.MAX_FILES)),
  COLLECTED(14, true, rules().repeated(Tag.COLLECT_RESULT, ProtocolLimits.MAX_FILES)),
  /** Sessions (types 15-17): a session's /work and files, copied in when it opens. */
  SEED(
      15,
      false,
      rules()
          .optional(Tag.UID)
          .optional(Tag.GID)
          .optional(Tag.WORK_DIR_BYTES)
          .repeated(Tag.FILE, ProtocolLimits.MAX_FILES)),
  SEEDED(16, true, rules());

  /** Most files one SPAWN copies in, or one COLLECT asks for. */
  public static final int MAX_FILES = ProtocolLimits.MAX_FILES;

  /** How often a tag may occur in a frame: {@code min..max} times. */
  record Rule(int min, int max) {}

  private static final FrameType[] BY_NUMBER = new FrameType[64];

  static {
    for (FrameType t : values()) {
      BY_NUMBER[t.number] = t;
    }
  }

  final int number;

  /** True if the zygote sends it, false if the daemon does. */
  final boolean fromZygote;

  @SuppressWarnings("ImmutableEnumChecker") // an unmodifiable view of a map no one else holds
  final Map<Tag, Rule> rules;

  FrameType(int number, boolean fromZygote, RuleBuilder rules) {
    this.number = number;
    this.fromZygote = fromZygote;
    this.rules = Collections.unmodifiableMap(rules.map);
  }

  public int number() {
    return number;
  }

  public boolean fromZygote() {
    return fromZygote;
  }

  /** The type with that number, or null. */
  public static FrameType byNumber(int number) {
    return number >= 0 && number < BY_NUMBER.length ? BY_NUMBER[number] : null;
  }

  private static RuleBuilder rules() {
    return new RuleBuilder();
  }

  /** Collects the field rules of one frame type, in wire order. */
  private static final class RuleBuilder {
    final Map<Tag, Rule> map = new EnumMap<>(Tag.class);

    RuleBuilder required(Tag t) {
      map.put(t, new Rule(1, 1));
      return this;
    }

    RuleBuilder optional(Tag t) {
      map.put(t, new Rule(0, 1));
      return this;
    }

    RuleBuilder repeated(Tag t, int max) {
      map.put(t, new Rule(0, max));
      return this;
    }

    RuleBuilder repeatedAtLeastOne(Tag t, int max) {
      map.put(t, new Rule(1, max));
      return this;
    }
  }
}
