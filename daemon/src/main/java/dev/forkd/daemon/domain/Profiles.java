package dev.forkd.daemon.domain;

/** What every layer needs to know of profile names, said once. */
public final class Profiles {
  /** The profile of a request (or session) that names none. */
  public static final String DEFAULT = "default";

  private Profiles() {}

  /** {@code name}, or {@link #DEFAULT} when it is empty (the API's "unset"). */
  public static String orDefault(String name) {
    return name.isEmpty() ? DEFAULT : name;
  }
}
