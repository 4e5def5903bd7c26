package dev.forkd.daemon.config;

import java.nio.file.Files;
import java.nio.file.Path;

/** What tests of several packages need from the build and the embedded configuration. */
public final class TestConfigs {
  private static final String PYTHON_PROFILE = "\n# The warm Python profile";

  private TestConfigs() {}

  /** The zygote launcher this build made (its warm-Python sibling is next to it). */
  public static Path zygoteBinary() {
    Path p = Path.of(System.getProperty("forkd.zygote.binary", "../native/build/forkd-zygote"));
    if (!Files.isExecutable(p)) {
      throw new IllegalStateException("zygote binary not built: " + p);
    }
    return p.toAbsolutePath();
  }

  /**
   * The embedded default without its profile "python", for tests whose counts (zygotes, host id
   * sub-ranges) are about the profile "default" alone.
   */
  public static String defaultTextWithoutPython() {
    String text = ConfigLoader.defaultText();
    int at = text.indexOf(PYTHON_PROFILE);
    if (at < 0 || !text.substring(at).contains("name: \"python\"")) {
      throw new IllegalStateException("the embedded default no longer ends with profile python");
    }
    return text.substring(0, at) + "\n";
  }
}
