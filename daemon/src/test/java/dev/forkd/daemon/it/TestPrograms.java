package dev.forkd.daemon.it;

import com.google.protobuf.ByteString;
import dev.forkd.api.v1.ExecRequest;
import dev.forkd.api.v1.Limits;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Small C programs compiled (statically) at test time and run inside a sandbox by piping the binary
 * in as stdin. Every program starts with {@link #GUARD}: it refuses to do anything unless its pid
 * and mount namespaces differ from the test runner's, so a broken sandbox fails a test instead of
 * hurting the machine.
 */
final class TestPrograms {
  /** C: argv[1], argv[2] are the runner's pid and mnt namespace links; exits 99 if ours match. */
  static final String GUARD =
      String.join(
          "\n",
          "#define _GNU_SOURCE",
          "#include <stdio.h>",
          "#include <stdlib.h>",
          "#include <string.h>",
          "#include <unistd.h>",
          "static void guard(int argc, char **argv) {",
          "  char pid[64] = {0}, mnt[64] = {0};",
          "  if (argc < 3 || readlink(\"/proc/self/ns/pid\", pid, 63) <= 0",
          "      || readlink(\"/proc/self/ns/mnt\", mnt, 63) <= 0",
          "      || !strcmp(pid, argv[1]) || !strcmp(mnt, argv[2])) {",
          "    puts(\"REFUSED: not in a sandbox\");",
          "    exit(99);",
          "  }",
          "}",
          "");

  private static final Map<String, Path> BUILT = new ConcurrentHashMap<>();

  private TestPrograms() {}

  /** Compiles {@code body} (which must call guard(argc, argv) first) once per JVM. */
  static Path compile(Path dir, String name, String body) throws IOException, InterruptedException {
    Path cached = BUILT.get(name);
    if (cached != null && Files.exists(cached)) {
      return cached;
    }
    Path src = dir.resolve(name + ".c");
    Path bin = dir.resolve(name);
    Files.writeString(src, GUARD + body);
    Process p =
        new ProcessBuilder("gcc", "-O1", "-static", "-o", bin.toString(), src.toString())
            .redirectErrorStream(true)
            .start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (p.waitFor() != 0) {
      throw new IllegalStateException("gcc failed for " + name + ":\n" + out);
    }
    BUILT.put(name, bin);
    return bin;
  }

  static String hostNs(String ns) throws IOException {
    return Files.readSymbolicLink(Path.of("/proc/self/ns", ns)).toString();
  }

  /** A request that runs {@code binary} inside the sandbox with the guard's arguments first. */
  static ExecRequest.Builder request(Path binary, Limits limits, String... args)
      throws IOException {
    ExecRequest.Builder b =
        ExecRequest.newBuilder()
            .addArgv("/bin/sh")
            .addArgv("-c")
            .addArgv("cat > /tmp/prog && chmod 755 /tmp/prog && exec /tmp/prog \"$@\"")
            .addArgv("prog")
            .addArgv(hostNs("pid"))
            .addArgv(hostNs("mnt"))
            .addAllArgv(List.of(args))
            .setStdin(ByteString.copyFrom(Files.readAllBytes(binary)));
    if (limits != null) {
      b.setLimits(limits);
    }
    return b;
  }
}
