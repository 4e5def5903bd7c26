import dev.forkd.daemon.seccomp.LibSeccomp;
import dev.forkd.daemon.seccomp.SeccompCompiler;
import dev.forkd.daemon.seccomp.SeccompPolicies;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Writes forkd's default seccomp policy, compiled the way the daemon compiles it, as raw {@code
 * struct sock_filter[]} to the file given, so that the floor loads the very same program. Run as
 * a single-file source program on the daemon's class path (bench/run does).
 */
public final class DumpBpf {
  public static void main(String[] args) throws Exception {
    if (args.length != 1) {
      System.err.println("usage: java -cp DAEMON_CLASSPATH DumpBpf.java OUT_FILE");
      System.exit(2);
    }
    byte[] bpf = new SeccompCompiler(LibSeccomp.get()).compile(SeccompPolicies.defaultPolicy());
    Files.write(Path.of(args[0]), bpf);
    System.out.println(bpf.length / SeccompCompiler.INSTRUCTION_BYTES + " instructions");
  }

  private DumpBpf() {}
}
