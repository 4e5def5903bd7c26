package dev.forkd.daemon.config;

import com.google.protobuf.util.Durations;
import dev.forkd.daemon.domain.ConfigException;
import dev.forkd.daemon.domain.LimitValues;

/** Reads a profile's limit sets from the configuration. */
final class Limits {
  private Limits() {}

  /** The fields of a limit set as the config names them, in {@link #values}' order. */
  private static final String[] NAMES = {
    "wall_time",
    "cpu_time",
    "memory_bytes",
    "max_processes",
    "max_output_bytes",
    "max_open_files",
    "max_file_size_bytes",
    "work_dir_bytes"
  };

  /** A complete limit set: every field must be given. */
  static LimitValues fromProto(dev.forkd.api.v1.Limits l, String where) throws ConfigException {
    boolean[] present = {
      l.hasWallTime(),
      l.hasCpuTime(),
      l.hasMemoryBytes(),
      l.hasMaxProcesses(),
      l.hasMaxOutputBytes(),
      l.hasMaxOpenFiles(),
      l.hasMaxFileSizeBytes(),
      l.hasWorkDirBytes()
    };
    for (int i = 0; i < NAMES.length; i++) {
      if (!present[i]) {
        throw new ConfigException(where + "." + NAMES[i] + ": must be set");
      }
    }
    long wall = nanos(l.getWallTime(), where + ".wall_time");
    long cpu = nanos(l.getCpuTime(), where + ".cpu_time");
    LimitValues v =
        new LimitValues(
            wall,
            cpu,
            l.getMemoryBytes(),
            Integer.toUnsignedLong(l.getMaxProcesses()),
            l.getMaxOutputBytes(),
            Integer.toUnsignedLong(l.getMaxOpenFiles()),
            l.getMaxFileSizeBytes(),
            l.getWorkDirBytes());
    if (v.memoryBytes() < (1 << 20)) {
      throw new ConfigException(where + ".memory_bytes: must be at least 1 MiB");
    }
    if (v.maxProcesses() < 1 || v.maxOpenFiles() < 3) {
      throw new ConfigException(where + ": max_processes >= 1 and max_open_files >= 3 required");
    }
    return v;
  }

  static void checkWithin(LimitValues d, LimitValues m, String where) throws ConfigException {
    long[] dv = values(d);
    long[] mv = values(m);
    for (int i = 0; i < dv.length; i++) {
      if (Long.compareUnsigned(dv[i], mv[i]) > 0) {
        throw new ConfigException(
            where + ".default_limits." + NAMES[i] + ": above max_limits." + NAMES[i]);
      }
    }
  }

  static long[] values(LimitValues v) {
    return new long[] {
      v.wallNanos(),
      v.cpuNanos(),
      v.memoryBytes(),
      v.maxProcesses(),
      v.maxOutputBytes(),
      v.maxOpenFiles(),
      v.maxFileSizeBytes(),
      v.workDirBytes()
    };
  }

  static long nanos(com.google.protobuf.Duration d, String field) throws ConfigException {
    if (d.getSeconds() < 0 || d.getNanos() < 0 || (d.getSeconds() == 0 && d.getNanos() == 0)) {
      throw new ConfigException(field + ": must be positive");
    }
    if (d.getSeconds() > 86_400L * 365) {
      throw new ConfigException(field + ": more than a year");
    }
    return Durations.toNanos(d);
  }
}
