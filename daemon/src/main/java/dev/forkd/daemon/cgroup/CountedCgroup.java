package dev.forkd.daemon.cgroup;

import dev.forkd.daemon.domain.LimitValues;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

/** Counts the failed operations of a zygote's cgroup (for forkd_cgroup_errors_total). */
final class CountedCgroup implements ZygoteCgroup {
  /** Creates a group, the way each driver does. */
  interface Creator {
    ZygoteCgroup create() throws IOException;
  }

  private final ZygoteCgroup inner;
  private final AtomicLong errors;

  private CountedCgroup(ZygoteCgroup inner, AtomicLong errors) {
    this.inner = inner;
    this.errors = errors;
  }

  /** Creates a group whose failures, its creation's included, count into {@code errors}. */
  static ZygoteCgroup create(AtomicLong errors, Creator creator) throws IOException {
    try {
      return new CountedCgroup(creator.create(), errors);
    } catch (IOException e) {
      errors.incrementAndGet();
      throw e;
    }
  }

  private IOException counted(IOException e) {
    errors.incrementAndGet();
    return e;
  }

  @Override
  public List<Path> dirs() {
    return inner.dirs();
  }

  @Override
  public void rearm() throws IOException {
    try {
      inner.rearm();
    } catch (IOException e) {
      throw counted(e);
    }
  }

  @Override
  public void applyLimits(LimitValues limits) throws IOException {
    try {
      inner.applyLimits(limits);
    } catch (IOException e) {
      throw counted(e);
    }
  }

  @Override
  public long cpuNanos() throws IOException {
    try {
      return inner.cpuNanos();
    } catch (IOException e) {
      throw counted(e);
    }
  }

  @Override
  public long memoryBaselineBytes() {
    return inner.memoryBaselineBytes();
  }

  @Override
  public RunUsage usage() throws IOException {
    try {
      return inner.usage();
    } catch (IOException e) {
      throw counted(e);
    }
  }

  @Override
  public boolean kill() throws IOException {
    try {
      return inner.kill();
    } catch (IOException e) {
      throw counted(e);
    }
  }

  @Override
  public void remove() {
    inner.remove();
  }
}
