/**
 * Seccomp policies and their compilation into BPF (DESIGN.md §6).
 *
 * <p>{@link dev.forkd.daemon.seccomp.SeccompPolicies} resolves the configuration into {@link
 * dev.forkd.daemon.seccomp.SyscallPolicy} values (the built-in {@code default} allowlist, the
 * unconfined {@code none}, custom policies); {@link dev.forkd.daemon.seccomp.SeccompCompiler} turns
 * a policy into the classic BPF program the zygote loads in each worker right before exec, once per
 * policy, through {@link dev.forkd.daemon.seccomp.LibSeccomp} (libseccomp.so.2 via jnr-ffi).
 */
package dev.forkd.daemon.seccomp;
