package dev.forkd.zygote.frame;

/** The field tags of native/PROTOCOL.md, with the shape of their values. */
public enum Tag {
  PROTO_VERSION(1, Kind.U32),
  LAUNCHER_PID(2, Kind.U32),
  ARGV(3, Kind.ARG_STRING),
  ENV(4, Kind.ARG_STRING),
  CWD(5, Kind.STRING),
  WALL_TIME_NS(6, Kind.U64),
  UID(7, Kind.U32),
  GID(8, Kind.U32),
  RLIMIT(9, Kind.RLIMIT),
  PID(10, Kind.U32),
  ERRNO(11, Kind.U32),
  STEP(12, Kind.STRING),
  WAIT_STATUS(13, Kind.U32),
  WALL_NS(14, Kind.U64),
  UTIME_NS(15, Kind.U64),
  STIME_NS(16, Kind.U64),
  MAXRSS_KB(17, Kind.U64),
  FLAGS(18, Kind.U32),
  SPAWN_NS(19, Kind.U64),
  MESSAGE(20, Kind.STRING),
  SECCOMP_BPF(21, Kind.BPF),
  SIGNAL_NUMBER(22, Kind.U32),
  WORK_DIR_BYTES(23, Kind.U64),
  FILE(24, Kind.FILE),
  PATH(25, Kind.PATH),
  COLLECT_RESULT(26, Kind.COLLECT_RESULT),
  /** Pipelines: the run's fd number (3..63) of the next extra fd of SPAWN. */
  PIPE_FD(27, Kind.U32),
  /** Pipelines: bit i set when SPAWN's stdio fd i is a pipe end of the pipeline (0..7). */
  STDIO_PIPED(28, Kind.U32),
  /** Sessions (tags 30-34): bits of a session's run; bit 0 keeps its processes. */
  RUN_FLAGS(30, Kind.U32),
  /** STARTED: 1 when the zygote's warm runtime serves the run (no execve). */
  WARM(35, Kind.U32),
  /** STARTED of a warm run: the zygote's resident set (KiB) when it forked the run. */
  BASE_RSS_KB(36, Kind.U64),
  /** SPAWN: how long the zygote may hold STARTED back, to send it with EXITED (ns, 0: never). */
  STARTED_HOLD_NS(37, Kind.U64),
  /** STARTED: CLOCK_MONOTONIC (System.nanoTime's clock) when the target was running. */
  EXEC_AT_NS(38, Kind.U64);

  /** How a value is laid out on the wire. */
  enum Kind {
    U32,
    U64,
    /** 0..65535 bytes, no NUL. */
    STRING,
    /** 0..131072 bytes, no NUL. */
    ARG_STRING,
    /** u32 resource, u64 soft, u64 hard. */
    RLIMIT,
    /** 1..4096 classic BPF instructions of 8 bytes. */
    BPF,
    /** u32 mode (0644 or 0755), u64 size, then a relative path. */
    FILE,
    /** A relative path. */
    PATH,
    /** u32 errno, u64 size, u32 reserved = 0, then a relative path. */
    COLLECT_RESULT
  }

  static final int MAX_STRING = ProtocolLimits.MAX_STRING;
  static final int MAX_ARG_STRING = ProtocolLimits.MAX_ARG_STRING;
  static final int MAX_BPF_INSNS = ProtocolLimits.MAX_BPF_INSNS;

  private static final Tag[] BY_NUMBER = new Tag[64];

  static {
    for (Tag t : values()) {
      BY_NUMBER[t.number] = t;
    }
  }

  final int number;
  final Kind kind;

  Tag(int number, Kind kind) {
    this.number = number;
    this.kind = kind;
  }

  public int number() {
    return number;
  }

  static Tag byNumber(int number) {
    return number >= 0 && number < BY_NUMBER.length ? BY_NUMBER[number] : null;
  }
}
