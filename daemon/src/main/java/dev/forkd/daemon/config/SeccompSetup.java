package dev.forkd.daemon.config;

import dev.forkd.config.v1.DaemonConfig;
import dev.forkd.daemon.domain.ConfigException;
import dev.forkd.daemon.seccomp.LibSeccomp;
import dev.forkd.daemon.seccomp.SeccompCompiler;
import dev.forkd.daemon.seccomp.SeccompException;
import dev.forkd.daemon.seccomp.SeccompPolicies;
import dev.forkd.daemon.seccomp.SyscallPolicy;
import java.util.logging.Logger;

/**
 * Gives each profile its compiled seccomp program, at start-up (so a bad policy stops the start).
 */
public interface SeccompSetup {
  /** The BPF program for a profile's policy, or null for the unconfined policy "none". */
  byte[] programFor(String profile, String policy) throws ConfigException;

  /**
   * The program for the profile's policy in a daemon without cgroups (see {@link
   * SeccompPolicies#withoutCgroups}). This default, for stand-ins that compile nothing, is {@link
   * #programFor}; {@link #of} compiles the variant.
   */
  default byte[] programWithoutCgroupsFor(String profile, String policy) throws ConfigException {
    return programFor(profile, policy);
  }

  /** With libseccomp: resolves the configuration's policies and compiles them. */
  static SeccompSetup of(DaemonConfig config) throws ConfigException {
    Logger log = Logger.getLogger(SeccompSetup.class.getName());
    LibSeccomp lib;
    try {
      lib = LibSeccomp.get();
    } catch (SeccompException e) {
      throw new ConfigException(e.getMessage(), e);
    }
    SeccompPolicies policies =
        SeccompPolicies.resolve(config.getSeccompPoliciesList(), lib::isKnownSyscall);
    SeccompCompiler compiler = new SeccompCompiler(lib);
    return new SeccompSetup() {
      @Override
      public byte[] programFor(String profile, String name) throws ConfigException {
        SyscallPolicy p = policies.forProfile(profile, name);
        if (p.unconfined()) {
          log.warning(
              "profile " + profile + " runs WITHOUT a seccomp filter (policy 'none'): unsafe");
          return null;
        }
        byte[] bpf = compile(compiler, profile, p);
        log.info(
            "profile "
                + profile
                + ": seccomp policy '"
                + (name.isEmpty() ? "default" : name)
                + "', "
                + bpf.length / SeccompCompiler.INSTRUCTION_BYTES
                + " BPF instructions");
        return bpf;
      }

      @Override
      public byte[] programWithoutCgroupsFor(String profile, String name) throws ConfigException {
        SyscallPolicy p = policies.forProfile(profile, name);
        return p.unconfined()
            ? null
            : compile(compiler, profile, SeccompPolicies.withoutCgroups(p));
      }
    };
  }

  private static byte[] compile(SeccompCompiler compiler, String profile, SyscallPolicy p)
      throws ConfigException {
    try {
      return compiler.compile(p);
    } catch (SeccompException e) {
      throw new ConfigException("profiles['" + profile + "'].seccomp_policy: " + e.getMessage(), e);
    }
  }
}
