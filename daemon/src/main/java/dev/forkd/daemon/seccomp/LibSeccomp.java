package dev.forkd.daemon.seccomp;

import com.google.errorprone.annotations.concurrent.GuardedBy;
import java.util.List;
import jnr.ffi.LibraryLoader;
import jnr.ffi.Memory;
import jnr.ffi.Pointer;
import jnr.ffi.Runtime;
import jnr.ffi.annotations.SaveError;

/**
 * The runtime library {@code libseccomp.so.2}, called through jnr-ffi (no {@code -dev} package is
 * needed). Only compiles filters into BPF: the daemon itself never loads a filter.
 *
 * <p>libseccomp functions return a negative errno on failure; each wrapper here turns that into a
 * {@link SeccompException} naming the call. A {@link Filter} is used by one thread at a time.
 */
public final class LibSeccomp {
  /** The library's file name; loading by this exact name needs only the runtime package. */
  public static final String LIBRARY = "libseccomp.so.2";

  // Actions (seccomp.h).
  public static final int ACT_KILL_PROCESS = 0x8000_0000;
  public static final int ACT_ALLOW = 0x7fff_0000;

  // enum scmp_filter_attr.
  static final int ATTR_ACT_BADARCH = 2;
  static final int ATTR_CTL_OPTIMIZE = 8;

  /** Value of {@link #ATTR_CTL_OPTIMIZE}: dispatch on the syscall number with a binary tree. */
  static final int OPTIMIZE_BINARY_TREE = 2;

  /** What {@code seccomp_syscall_resolve_name} answers for a name it does not know. */
  static final int NR_UNKNOWN = -1;

  /**
   * Oldest libseccomp accepted: 2.4.0 fixed the 64-bit argument comparisons (CVE-2019-9893) and
   * added KILL_PROCESS.
   */
  static final int MIN_MAJOR = 2;

  static final int MIN_MINOR = 4;

  private static final int ARG_CMP_SIZE = 24;
  private static final int MFD_CLOEXEC = 1;
  private static final int SEEK_END = 2;

  /** libseccomp's C API (seccomp.h); uint32_t values are passed as Java ints. */
  public interface Native {
    Pointer seccomp_init(int defAction);

    void seccomp_release(Pointer ctx);

    int seccomp_rule_add_array(Pointer ctx, int action, int syscall, int argCnt, Pointer args);

    int seccomp_syscall_resolve_name(String name);

    int seccomp_attr_set(Pointer ctx, int attr, int value);

    int seccomp_arch_native();

    int seccomp_export_bpf(Pointer ctx, int fd);

    /** {@code const struct scmp_version *}: three unsigned ints, major, minor, micro. */
    Pointer seccomp_version();
  }

  /** The libc calls that read an exported program back. */
  public interface LibC {
    @SaveError
    int memfd_create(String name, int flags);

    @SaveError
    long lseek(int fd, long offset, int whence);

    @SaveError
    long pread(int fd, Pointer buf, long count, long offset);

    int close(int fd);

    String strerror(int errnum);
  }

  private static final Object LOAD_LOCK = new Object();

  /** The library, once loaded. */
  @GuardedBy("LOAD_LOCK")
  private static LibSeccomp instance;

  private final Native lib;
  private final LibC libc;
  private final Runtime runtime;
  private final String version;
  private final int nativeArch;

  private LibSeccomp(Native lib, LibC libc, String version) {
    this.lib = lib;
    this.libc = libc;
    this.runtime = Runtime.getRuntime(lib);
    this.version = version;
    this.nativeArch = lib.seccomp_arch_native();
  }

  /**
   * The process-wide binding, loaded on first use.
   *
   * @throws SeccompException if the library is missing or older than 2.4.0
   */
  public static LibSeccomp get() {
    synchronized (LOAD_LOCK) {
      if (instance == null) {
        instance = load(LIBRARY);
      }
      return instance;
    }
  }

  /** Loads {@code library} (a file name for dlopen). Package-private: tests load missing names. */
  static LibSeccomp load(String library) {
    Native lib;
    try {
      lib = LibraryLoader.create(Native.class).failImmediately().load(library);
    } catch (LinkageError e) {
      throw new SeccompException(
          library + " not found: install the Debian package libseccomp2 (" + e.getMessage() + ")",
          e);
    }
    String version;
    try {
      Pointer v = lib.seccomp_version();
      int major = v.getInt(0);
      int minor = v.getInt(4);
      version = major + "." + minor + "." + v.getInt(8);
      if (major < MIN_MAJOR || (major == MIN_MAJOR && minor < MIN_MINOR)) {
        throw new SeccompException(
            library + " is version " + version + "; forkd needs 2.4.0 or later");
      }
    } catch (LinkageError e) {
      throw new SeccompException(library + " is older than 2.4.0; forkd needs 2.4.0 or later", e);
    }
    LibC libc = LibraryLoader.create(LibC.class).failImmediately().load("c");
    return new LibSeccomp(lib, libc, version);
  }

  /** The library's version, e.g. "2.5.4". */
  public String version() {
    return version;
  }

  /** The audit architecture token of this process (e.g. AUDIT_ARCH_X86_64, 0xc000003e). */
  public int nativeArch() {
    return nativeArch;
  }

  /**
   * The syscall's number on this architecture; a negative pseudo number (below -1) for a syscall
   * that libseccomp knows only on other architectures; {@link #NR_UNKNOWN} for an unknown name.
   */
  public int resolveSyscall(String name) {
    return lib.seccomp_syscall_resolve_name(name);
  }

  /** True if libseccomp knows the name on some architecture. */
  public boolean isKnownSyscall(String name) {
    return !name.isEmpty() && resolveSyscall(name) != NR_UNKNOWN;
  }

  /** A new, empty filter for this architecture; close it. */
  public Filter newFilter(int defaultAction) {
    Pointer ctx = lib.seccomp_init(defaultAction);
    if (ctx == null || ctx.address() == 0) {
      throw new SeccompException(
          "seccomp_init(0x" + Integer.toHexString(defaultAction) + ") failed");
    }
    return new Filter(ctx);
  }

  /** One libseccomp filter context ({@code scmp_filter_ctx}). Not thread-safe. */
  public final class Filter implements AutoCloseable {
    private Pointer ctx;

    private Filter(Pointer ctx) {
      this.ctx = ctx;
    }

    /** {@code seccomp_attr_set}. */
    public void setAttribute(int attr, int value) {
      check(lib.seccomp_attr_set(ctx(), attr, value), "seccomp_attr_set(" + attr + ")");
    }

    /** {@code seccomp_attr_set}, answering false instead of failing (for optional attributes). */
    public boolean trySetAttribute(int attr, int value) {
      return lib.seccomp_attr_set(ctx(), attr, value) == 0;
    }

    /** {@code seccomp_rule_add_array}: {@code action} when every comparison holds. */
    public void addRule(int action, int syscall, List<ArgCmp> args) {
      Pointer array = null;
      if (!args.isEmpty()) {
        array = Memory.allocateDirect(runtime, ARG_CMP_SIZE * args.size(), true);
        for (int i = 0; i < args.size(); i++) {
          ArgCmp a = args.get(i);
          long off = (long) i * ARG_CMP_SIZE;
          array.putInt(off, a.arg());
          array.putInt(off + 4, a.op().nativeValue);
          array.putLong(off + 8, a.datumA());
          array.putLong(off + 16, a.datumB());
        }
      }
      check(
          lib.seccomp_rule_add_array(ctx(), action, syscall, args.size(), array),
          "seccomp_rule_add_array(syscall " + syscall + ", " + args + ")");
    }

    /** The filter as raw BPF ({@code struct sock_filter[]}, 8 bytes per instruction). */
    public byte[] exportBpf() {
      int fd = libc.memfd_create("forkd-seccomp", MFD_CLOEXEC);
      if (fd < 0) {
        throw posixError("memfd_create");
      }
      try {
        check(lib.seccomp_export_bpf(ctx(), fd), "seccomp_export_bpf");
        long size = libc.lseek(fd, 0, SEEK_END);
        if (size < 0) {
          throw posixError("lseek");
        }
        if (size > Integer.MAX_VALUE) {
          throw new SeccompException("seccomp_export_bpf wrote " + size + " bytes");
        }
        Pointer buf = Memory.allocateDirect(runtime, (int) size, true);
        for (long done = 0; done < size; ) {
          long n = libc.pread(fd, buf.slice(done), size - done, done);
          if (n <= 0) {
            throw n < 0 ? posixError("pread") : new SeccompException("short read of the BPF");
          }
          done += n;
        }
        byte[] out = new byte[(int) size];
        buf.get(0, out, 0, out.length);
        return out;
      } finally {
        libc.close(fd);
      }
    }

    private Pointer ctx() {
      if (ctx == null) {
        throw new IllegalStateException("filter released");
      }
      return ctx;
    }

    @Override
    public void close() {
      if (ctx != null) {
        lib.seccomp_release(ctx);
        ctx = null;
      }
    }
  }

  private SeccompException posixError(String call) {
    int errno = Runtime.getRuntime(libc).getLastError();
    return new SeccompException(
        call + " failed: " + libc.strerror(errno) + " (errno " + errno + ")");
  }

  private void check(int rc, String call) {
    if (rc < 0) {
      throw new SeccompException(
          call + " failed: " + libc.strerror(-rc) + " (libseccomp " + version + ")");
    }
  }
}
