package dev.forkd.daemon.config;

import dev.forkd.daemon.domain.ConfigException;
import dev.forkd.zygote.ZygoteSpec;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Pattern;

/**
 * The warm runtimes a profile may name (DESIGN 3b, config field {@code warm_runtime}): which
 * launcher binary embeds each, and what it preloads by default.
 */
public final class WarmRuntimes {
  /** The one runtime today: Python 3, embedded in {@code forkd-zygote-python}. */
  public static final String PYTHON = "python3";

  /** Unset {@code max_zygote_age} of a warm profile: ASLR layout and hash secret rotate. */
  static final long DEFAULT_MAX_AGE_NANOS = 10L * 60 * 1_000_000_000L;

  /**
   * What code-interpreter and grader programs import most, all from the standard library: the
   * common data, text, math and concurrency modules (about 5 ms of import each run saved).
   */
  public static final List<String> DEFAULT_PYTHON_PRELOAD =
      List.of(
          "abc",
          "argparse",
          "base64",
          "bisect",
          "collections",
          "copy",
          "csv",
          "dataclasses",
          "datetime",
          "decimal",
          "enum",
          "fractions",
          "functools",
          "hashlib",
          "heapq",
          "io",
          "itertools",
          "json",
          "math",
          "operator",
          "os",
          "pathlib",
          "random",
          "re",
          "statistics",
          "string",
          "struct",
          "subprocess",
          "textwrap",
          "threading",
          "time",
          "traceback",
          "typing");

  private static final Pattern MODULE =
      Pattern.compile("[A-Za-z_][A-Za-z0-9_]*(\\.[A-Za-z_][A-Za-z0-9_]*)*");

  private WarmRuntimes() {}

  /** The launcher of a warm runtime's zygotes: next to {@code forkd-zygote}, with a suffix. */
  static Path binaryFor(Path zygoteBinary) {
    return zygoteBinary.resolveSibling(zygoteBinary.getFileName() + "-python");
  }

  static ZygoteSpec apply(
      ZygoteSpec spec, dev.forkd.config.v1.Profile p, Path zygoteBinary, String where)
      throws ConfigException {
    if (!PYTHON.equals(p.getWarmRuntime())) {
      throw new ConfigException(
          where + ".warm_runtime: '" + p.getWarmRuntime() + "' is unknown (known: " + PYTHON + ")");
    }
    List<String> preload =
        p.getWarmPreloadCount() == 0 ? DEFAULT_PYTHON_PRELOAD : p.getWarmPreloadList();
    for (String m : preload) {
      if (!MODULE.matcher(m).matches()) {
        throw new ConfigException(where + ".warm_preload: '" + m + "' is not a module name");
      }
    }
    Path binary = binaryFor(zygoteBinary);
    if (!Files.isExecutable(binary)) {
      throw new ConfigException(
          where
              + ".warm_runtime: "
              + PYTHON
              + " needs the launcher "
              + binary.getFileName()
              + " next to "
              + zygoteBinary.getFileName()
              + " (make -C native builds it; it needs libpython3.11-dev)");
    }
    return spec.withWarmRuntime(binary, PYTHON, preload, p.getDefaultEnvList());
  }
}
