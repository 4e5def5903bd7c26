package dev.forkd.daemon.it;

import dev.forkd.api.v1.ExecRequest;
import dev.forkd.api.v1.ExecResult;
import dev.forkd.api.v1.FileInfo;
import dev.forkd.api.v1.InputFile;
import dev.forkd.client.ForkdClient;
import dev.forkd.client.ForkdException;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.stream.Collectors;

/**
 * A FileStore client run as another uid (setpriv) by {@link FileTenancyTest}: {@code FileProbe
 * SOCKET COMMAND...}, each command one of {@code ls}, {@code get ID}, {@code rm ID}, {@code exec
 * ID} (cat of the file given as file_id), {@code put TEXT}, and for sessions {@code sopen PROFILE},
 * {@code sls}, {@code sexec ID} (cat of /work/marker in the session), {@code sclose ID}; one output
 * line per command, {@code <command> OK <result>} or {@code <command> <gRPC code> <description>}.
 */
public final class FileProbe {
  /**
   * Runs this probe as {@code uid} with supplementary {@code groups} (setpriv, no capabilities)
   * against the daemon on {@code socket}; its output lines, warnings left out. Writes its output to
   * a fresh file in {@code dir}.
   */
  static java.util.List<String> runAs(
      Path dir, Path socket, String classpath, int uid, String groups, String... commands)
      throws Exception {
    java.util.List<String> cmd = new java.util.ArrayList<>();
    cmd.addAll(
        java.util.List.of(
            "/usr/bin/setpriv",
            "--reuid=" + uid,
            "--regid=" + uid,
            "--groups=" + groups,
            "--inh-caps=-all",
            "--bounding-set=-all",
            Path.of(System.getProperty("java.home"), "bin", "java").toString(),
            "-Duser.home=/tmp",
            "-XX:TieredStopAtLevel=1",
            "-cp",
            classpath,
            FileProbe.class.getName(),
            socket.toString()));
    cmd.addAll(java.util.List.of(commands));
    Path out = dir.resolve("probe-" + uid + "-" + System.nanoTime() + ".out");
    Process p =
        new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(out.toFile()).start();
    org.junit.jupiter.api.Assertions.assertTrue(
        p.waitFor(120, java.util.concurrent.TimeUnit.SECONDS), "probe timed out");
    String text = java.nio.file.Files.readString(out);
    org.junit.jupiter.api.Assertions.assertEquals(0, p.exitValue(), text);
    return text.lines().filter(l -> !l.startsWith("WARNING")).toList();
  }

  private FileProbe() {}

  public static void main(String[] args) throws Exception {
    try (ForkdClient c = ForkdClient.unix(Path.of(args[0]))) {
      for (int i = 1; i < args.length; i++) {
        String cmd = args[i];
        String arg = cmd.equals("ls") || cmd.equals("sls") ? "" : args[++i];
        String out;
        try {
          out = cmd + " OK " + run(c, cmd, arg);
        } catch (ForkdException e) {
          out = cmd + " " + e.code() + " " + e.description();
        }
        System.out.println(out.replace('\n', ' '));
      }
    }
  }

  private static String run(ForkdClient c, String cmd, String arg) throws Exception {
    switch (cmd) {
      case "ls":
        return c.listFiles().stream().map(FileInfo::getFileId).collect(Collectors.joining(","));
      case "get":
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        c.getFile(arg, b);
        return b.toString(StandardCharsets.UTF_8);
      case "rm":
        return String.valueOf(c.deleteFile(arg));
      case "put":
        return c.putFile(arg.getBytes(StandardCharsets.UTF_8)).getFileId();
      case "exec":
        ExecResult r =
            c.exec(
                ExecRequest.newBuilder()
                    .addArgv("cat")
                    .addArgv("f")
                    .addFiles(InputFile.newBuilder().setPath("f").setFileId(arg))
                    .build());
        return r.getStatus() + " " + r.getStdout().toStringUtf8();
      case "sopen":
        return c.openSession(
                dev.forkd.api.v1.OpenSessionRequest.newBuilder().setProfile(arg).build())
            .getSessionId();
      case "sls":
        return c.listSessions().stream()
            .map(dev.forkd.api.v1.Session::getSessionId)
            .collect(Collectors.joining(","));
      case "sexec":
        ExecResult s =
            c.execIn(arg, ExecRequest.newBuilder().addArgv("cat").addArgv("marker").build());
        return s.getStatus() + " " + s.getStdout().toStringUtf8();
      case "sclose":
        c.closeSession(arg);
        return "closed";
      default:
        throw new IllegalArgumentException(cmd);
    }
  }
}
