package dev.forkd.daemon.cgroup;

/** No cgroup access (rootless without delegation): limits by rlimits only, usage approximate. */
public final class NoCgroups implements CgroupDriver {
  private final String why;

  NoCgroups(String why) {
    this.why = why;
  }

  @Override
  public String mode() {
    return "none";
  }

  @Override
  public String describe() {
    return "no cgroups (" + why + "): limits by rlimits only, accounting approximate";
  }

  @Override
  public void start() {}

  @Override
  public ZygoteCgroup create(String name) {
    return null;
  }

  @Override
  public void close() {}
}
