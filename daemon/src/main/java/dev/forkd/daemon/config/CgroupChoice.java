package dev.forkd.daemon.config;

import dev.forkd.config.v1.CgroupConfig;
import dev.forkd.daemon.domain.ConfigException;
import java.nio.file.Path;
import java.util.Locale;

/**
 * The configured cgroup driver ({@code cgroups} of the configuration), checked: which mode, and for
 * v2 the group to work in. The daemon turns it into a driver at start ({@code Daemon}).
 *
 * @param v2Group the v2 group the daemon's groups go below, or null (its own v2 group)
 */
public record CgroupChoice(Mode mode, Path v2Group) {
  /** The drivers; AUTO lets the host decide. */
  public enum Mode {
    AUTO,
    V1,
    V2,
    NONE
  }

  public static final CgroupChoice AUTO = new CgroupChoice(Mode.AUTO, null);

  static CgroupChoice resolve(CgroupConfig c) throws ConfigException {
    Mode mode =
        switch (c.getMode()) {
          case "", "auto" -> Mode.AUTO;
          case "v1" -> Mode.V1;
          case "v2" -> Mode.V2;
          case "none" -> Mode.NONE;
          default ->
              throw new ConfigException(
                  "cgroups.mode: '" + c.getMode() + "' is not one of auto, v1, v2, none");
        };
    if (c.getV2Group().isEmpty()) {
      return new CgroupChoice(mode, null);
    }
    if (mode != Mode.V2) {
      throw new ConfigException(
          "cgroups.v2_group: only with mode \"v2\" (mode is \""
              + mode.name().toLowerCase(Locale.ROOT)
              + "\")");
    }
    Path group = Path.of(c.getV2Group());
    if (!group.isAbsolute() || !group.normalize().equals(group)) {
      throw new ConfigException(
          "cgroups.v2_group: '" + c.getV2Group() + "' is not an absolute, normalized path");
    }
    return new CgroupChoice(mode, group);
  }
}
