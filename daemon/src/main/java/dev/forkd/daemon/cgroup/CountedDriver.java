package dev.forkd.daemon.cgroup;

import java.io.IOException;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A driver whose zygote groups count their failed operations, their creation's included, into one
 * total: {@link #errors()}, for forkd_cgroup_errors_total.
 */
abstract class CountedDriver implements CgroupDriver {
  private final AtomicLong errors = new AtomicLong();

  @Override
  public final long errors() {
    return errors.get();
  }

  @Override
  public final ZygoteCgroup create(String name) throws IOException {
    return CountedCgroup.create(errors, () -> createGroup(name));
  }

  /** Creates the group(s) of zygote {@code name}; a failure here is counted by the caller. */
  abstract ZygoteCgroup createGroup(String name) throws IOException;
}
