package dev.forkd.daemon.config;

import dev.forkd.daemon.domain.LimitValues;
import dev.forkd.zygote.PoolConfig;
import dev.forkd.zygote.ZygoteSpec;
import java.util.List;

/**
 * A resolved profile: everything expensive and shared by its runs.
 *
 * @param workerUid uid the workers run as inside the sandbox
 * @param seccompBpf the compiled seccomp program loaded in every worker, or null (policy "none")
 * @param seccompBpfWithoutCgroups the program for a daemon without cgroups (memfd and SysV shared
 *     memory refused: see {@code SeccompPolicies.withoutCgroups}), or null (policy "none")
 * @param sessions how many sessions the profile serves, for how long
 */
public record Profile(
    String name,
    ZygoteSpec zygote,
    int workerUid,
    int workerGid,
    List<String> defaultEnv,
    LimitValues defaults,
    LimitValues maxima,
    PoolConfig pool,
    byte[] seccompBpf,
    int maxInputFiles,
    int maxCollectFiles,
    long maxCollectBytes,
    byte[] seccompBpfWithoutCgroups,
    SessionPolicy sessions) {

  /** This profile in a daemon without cgroups: workers load {@link #seccompBpfWithoutCgroups}. */
  public Profile withoutCgroups() {
    return with(seccompBpfWithoutCgroups, maxCollectBytes);
  }

  /** This profile with another collect budget (the REAPI's outputs travel as one archive). */
  public Profile withMaxCollectBytes(long bytes) {
    return with(seccompBpf, bytes);
  }

  /** This profile with the fields that its variants change; every other field kept. */
  private Profile with(byte[] seccompBpf, long maxCollectBytes) {
    return new Profile(
        name,
        zygote,
        workerUid,
        workerGid,
        defaultEnv,
        defaults,
        maxima,
        pool,
        seccompBpf,
        maxInputFiles,
        maxCollectFiles,
        maxCollectBytes,
        seccompBpfWithoutCgroups,
        sessions);
  }
}
