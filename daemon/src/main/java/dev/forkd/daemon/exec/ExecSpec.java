package dev.forkd.daemon.exec;

import dev.forkd.daemon.config.Profile;
import java.util.List;

/** A validated run request: what to run, where, and under which resolved limits. */
public record ExecSpec(
    Profile profile,
    List<String> argv,
    List<String> env,
    String cwd,
    byte[] stdin,
    LimitValues limits) {}
