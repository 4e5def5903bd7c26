package dev.forkd.daemon.seccomp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The jnr-ffi binding against the installed libseccomp.so.2. */
class LibSeccompTest {
  private final LibSeccomp lib = LibSeccomp.get();

  @Test
  void loadsTheRuntimeLibrary() {
    assertTrue(lib.version().matches("2\\.\\d+\\.\\d+"), lib.version());
    assertEquals(lib, LibSeccomp.get(), "one binding per process");
  }

  @Test
  void missingLibraryIsAClearError() {
    SeccompException e =
        assertThrows(SeccompException.class, () -> LibSeccomp.load("libseccomp-missing.so.2"));
    assertTrue(
        e.getMessage()
            .startsWith(
                "libseccomp-missing.so.2 not found: install the Debian package libseccomp2"),
        e.getMessage());
  }

  @Test
  void resolvesSyscallNames() {
    if (lib.nativeArch() == BpfInterpreter.AUDIT_ARCH_X86_64) {
      assertEquals(0, lib.resolveSyscall("read"));
      assertEquals(16, lib.resolveSyscall("ioctl"));
      assertEquals(435, lib.resolveSyscall("clone3"));
      assertTrue(lib.resolveSyscall("arm_fadvise64_64") < -1, "other architectures' pseudo nr");
    }
    assertEquals(LibSeccomp.NR_UNKNOWN, lib.resolveSyscall("foo"));
    assertTrue(lib.isKnownSyscall("execve"));
    assertFalse(lib.isKnownSyscall("foo"));
    assertFalse(lib.isKnownSyscall(""));
  }

  @Test
  void everyNameOfTheDefaultPolicyIsKnown() {
    Set<String> names = new HashSet<>(DefaultPolicy.rules().keySet());
    DefaultPolicy.DENIED.values().forEach(names::addAll);
    for (String n : names) {
      assertTrue(lib.isKnownSyscall(n), n);
      if (lib.nativeArch() == BpfInterpreter.AUDIT_ARCH_X86_64) {
        assertTrue(lib.resolveSyscall(n) >= 0, n + " has no number on x86_64");
      }
    }
  }

  @Test
  void filterRejectsBadRulesWithTheCall() {
    try (LibSeccomp.Filter f = lib.newFilter(SeccompCompiler.errnoAction(1))) {
      // The default action again: libseccomp refuses.
      SeccompException e =
          assertThrows(
              SeccompException.class,
              () -> f.addRule(SeccompCompiler.errnoAction(1), 0, List.of()));
      assertTrue(e.getMessage().startsWith("seccomp_rule_add_array(syscall 0"), e.getMessage());
      f.addRule(LibSeccomp.ACT_ALLOW, 0, List.of(ArgCmp.low32(0, 3)));
      byte[] bpf = f.exportBpf();
      assertTrue(bpf.length > 0 && bpf.length % 8 == 0);
      if (lib.nativeArch() == BpfInterpreter.AUDIT_ARCH_X86_64) {
        int arch = BpfInterpreter.AUDIT_ARCH_X86_64;
        assertEquals(BpfInterpreter.RET_ALLOW, BpfInterpreter.run(bpf, arch, 0, 3));
        assertEquals(BpfInterpreter.errno(1), BpfInterpreter.run(bpf, arch, 0, 4));
      }
    }
  }
}
