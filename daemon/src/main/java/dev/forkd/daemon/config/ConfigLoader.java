package dev.forkd.daemon.config;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.TextFormat;
import com.google.protobuf.util.JsonFormat;
import dev.forkd.config.v1.DaemonConfig;
import dev.forkd.daemon.domain.ConfigException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Reads {@code forkd.config.v1.DaemonConfig} from protobuf text or JSON, or the embedded default.
 */
public final class ConfigLoader {
  private static final String DEFAULT_RESOURCE = "/dev/forkd/daemon/default-config.textproto";

  private ConfigLoader() {}

  /** The embedded default's text, as shipped. */
  public static String defaultText() {
    try (InputStream in = ConfigLoader.class.getResourceAsStream(DEFAULT_RESOURCE)) {
      if (in == null) {
        throw new IllegalStateException("embedded default configuration missing");
      }
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new IllegalStateException("embedded default configuration unreadable", e);
    }
  }

  public static DaemonConfig defaults() {
    try {
      return parse(defaultText(), "the embedded default");
    } catch (ConfigException e) {
      throw new IllegalStateException(e);
    }
  }

  /** Reads a file: JSON if it starts with '{', protobuf text otherwise. */
  public static DaemonConfig load(Path file) throws ConfigException {
    String text;
    try {
      text = Files.readString(file, StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new ConfigException("cannot read configuration " + file + ": " + e.getMessage(), e);
    }
    return parse(text, file.toString());
  }

  /** Parses text or JSON; {@code origin} names the source in errors. */
  public static DaemonConfig parse(String text, String origin) throws ConfigException {
    DaemonConfig.Builder b = DaemonConfig.newBuilder();
    try {
      if (text.stripLeading().startsWith("{")) {
        JsonFormat.parser().merge(text, b);
      } else {
        TextFormat.merge(text, b);
      }
    } catch (TextFormat.ParseException e) {
      throw new ConfigException(origin + ": " + e.getMessage(), e);
    } catch (InvalidProtocolBufferException e) {
      throw new ConfigException(origin + ": " + e.getMessage(), e);
    }
    return b.build();
  }
}
