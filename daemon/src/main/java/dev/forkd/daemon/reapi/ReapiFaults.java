package dev.forkd.daemon.reapi;

import java.io.IOException;

/**
 * Fault injection for the resources of an action (the REAPI side of {@code RunFaults}): {@link
 * ActionExecutor} calls {@link #at} at each stage between taking its queue slot and answering, so a
 * test can make any stage fail and check that the slot, the zygote, the staged archive and the
 * collected outputs are all released. The daemon runs with {@link #NONE}.
 */
@FunctionalInterface
public interface ReapiFaults {
  /** The stages of one action, in order. */
  enum Stage {
    /** The action holds its queue slot. */
    SLOT_TAKEN,
    /** The input archive is being written: its first file is in it. */
    MATERIALISING,
    /** The input archive is written, before the run. */
    MATERIALISED,
    /** The run has ended; its outputs, collected to disk, are stored next. */
    COLLECTED
  }

  ReapiFaults NONE = stage -> {};

  /** An IOException here is treated as a failure of the disk the action is staged on. */
  void at(Stage stage) throws IOException;
}
