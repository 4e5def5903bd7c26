package dev.forkd.daemon.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.forkd.daemon.Daemon;
import dev.forkd.daemon.ops.OpsConfig;
import dev.forkd.daemon.ops.OpsTestDaemons;
import io.prometheus.metrics.model.snapshots.CounterSnapshot;
import io.prometheus.metrics.model.snapshots.HistogramSnapshot;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Real Bazel (the reference REAPI client, installed by bin/check-deps) builds examples/bazel with
 * forkd as its remote executor: outputs byte for byte equal to Bazel's own linux-sandbox build, a
 * clean rebuild served entirely from the action cache, a failing action's stderr shown, {@code
 * bazel test} passing remotely, and --jobs=32 against 8 zygotes without a failure.
 */
class BazelRemoteTest {
  @TempDir Path dir;

  private Path workspace;
  private Path userRoot;

  /** What one bazel command printed and how it ended. */
  record Run(int exit, String output, long millis) {}

  private Run bazel(String... args) throws Exception {
    List<String> cmd = new ArrayList<>();
    cmd.add("bazel");
    cmd.add("--output_user_root=" + userRoot);
    cmd.add("--max_idle_secs=120");
    List<String> a = List.of(args);
    cmd.add(a.get(0));
    if (!a.get(0).equals("shutdown") && !a.get(0).equals("clean")) {
      Path off = workspace.resolve("offline");
      cmd.add(
          "--override_repository=remote_coverage_tools=" + off.resolve("remote_coverage_tools"));
      cmd.add("--override_repository=rules_cc=" + off.resolve("rules_cc"));
      cmd.add("--override_repository=rules_java=" + off.resolve("rules_java"));
      cmd.add("--color=no");
      cmd.add("--curses=no");
    }
    cmd.addAll(a.subList(1, a.size()));
    long t0 = System.nanoTime();
    Process p =
        new ProcessBuilder(cmd).directory(workspace.toFile()).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(p.waitFor(600, TimeUnit.SECONDS), "bazel ended");
    long ms = (System.nanoTime() - t0) / 1_000_000;
    return new Run(p.exitValue(), out, ms);
  }

  private static List<String> remote(int port, String... more) {
    List<String> l =
        new ArrayList<>(
            List.of(
                "--remote_executor=grpc://127.0.0.1:" + port,
                "--spawn_strategy=remote",
                "--remote_local_fallback=false"));
    l.addAll(List.of(more));
    return l;
  }

  private Run bazel(List<String> head, List<String> flags, String... targets) throws Exception {
    List<String> all = new ArrayList<>(head);
    all.addAll(flags);
    all.add("--");
    all.addAll(List.of(targets));
    return bazel(all.toArray(String[]::new));
  }

  /** Every file under bazel-bin of the main targets: path -> SHA-256 of its bytes. */
  private Map<String, String> outputs() throws IOException {
    Path bin = workspace.resolve("bazel-bin");
    Map<String, String> m = new TreeMap<>();
    for (String top :
        List.of(
            "hello.o",
            "main.o",
            "hello",
            "greeting.txt",
            "big.txt",
            "big_sum.txt",
            "numbered",
            "numbered_list.txt")) {
      Path p = bin.resolve(top);
      assertTrue(Files.exists(p), top + " was built");
      try (Stream<Path> s = Files.walk(p)) {
        for (Path f : s.filter(Files::isRegularFile).toList()) {
          byte[] b = Files.readAllBytes(f);
          m.put(
              bin.relativize(f).toString(),
              java.util.HexFormat.of()
                      .formatHex(java.security.MessageDigest.getInstance("SHA-256").digest(b))
                  // Bazel 4 marks every downloaded output executable, so modes differ by design.
                  + "");
        }
      } catch (java.security.NoSuchAlgorithmException e) {
        throw new IllegalStateException(e);
      }
    }
    return m;
  }

  private static void copy(Path from, Path to) throws IOException {
    try (Stream<Path> s = Files.walk(from)) {
      for (Path p : s.toList()) {
        String rel = from.relativize(p).toString();
        if (rel.startsWith("bazel-")) {
          continue; // convenience links of a build made in the source tree
        }
        Path t = to.resolve(rel);
        if (Files.isDirectory(p)) {
          Files.createDirectories(t);
        } else {
          Files.copy(p, t, java.nio.file.StandardCopyOption.COPY_ATTRIBUTES);
        }
      }
    }
  }

  static double counter(Daemon d, String name, String label, String value) {
    return d.metrics().registry().scrape().stream()
        .filter(m -> m.getMetadata().getName().equals(name))
        .flatMap(m -> ((CounterSnapshot) m).getDataPoints().stream())
        .filter(p -> label == null || value.equals(p.getLabels().get(label)))
        .mapToDouble(CounterSnapshot.CounterDataPointSnapshot::getValue)
        .sum();
  }

  static long queuedObservations(Daemon d) {
    return d.metrics().registry().scrape().stream()
        .filter(m -> m.getMetadata().getName().equals("forkd_reapi_queued_seconds"))
        .flatMap(m -> ((HistogramSnapshot) m).getDataPoints().stream())
        .mapToLong(HistogramSnapshot.HistogramDataPointSnapshot::getCount)
        .sum();
  }

  @Test
  void bazelBuildsAndTestsRemotelyInForkdSandboxes() throws Exception {
    workspace = dir.resolve("ws");
    userRoot = dir.resolve("bazel-root");
    Path source = Path.of("../examples/bazel").toAbsolutePath().normalize();
    assertTrue(Files.isRegularFile(source.resolve("WORKSPACE")), "examples/bazel is there");
    copy(source, workspace);
    Daemon d =
        OpsTestDaemons.start(
            dir,
            8,
            "",
            new OpsConfig.Flags(null, "127.0.0.1:0", null, null, null, true, null, null),
            null);
    try {
      int port = d.tcpPort();
      List<String> targets = List.of("//...", "-//fail/...");
      String[] t = targets.toArray(String[]::new);

      // Bazel's own local sandboxed build: the reference outputs.
      Run local = bazel(List.of("build"), List.of("--spawn_strategy=linux-sandbox"), t);
      assertEquals(0, local.exit(), local.output());
      Map<String, String> expected = outputs();
      assertTrue(expected.size() > 30, "numbered/ holds its files: " + expected.keySet());

      // Remote, from an empty cache: byte for byte the same outputs.
      assertEquals(0, bazel("clean").exit());
      Run first = bazel(List.of("build"), remote(port), t);
      assertEquals(0, first.exit(), first.output());
      assertTrue(first.output().contains(" remote."), first.output());
      double ran = counter(d, "forkd_reapi_actions", "outcome", "ok");
      assertTrue(ran >= 50, "the actions ran in forkd: " + ran);
      assertEquals(expected, outputs());

      // A clean rebuild: every action from the action cache, none run.
      assertEquals(0, bazel("clean").exit());
      Run cached = bazel(List.of("build"), remote(port), t);
      assertEquals(0, cached.exit(), cached.output());
      assertTrue(cached.output().contains("remote cache hit"), cached.output());
      assertTrue(!cached.output().matches("(?s).*\\d+ remote[.,].*"), cached.output());
      assertEquals(ran, counter(d, "forkd_reapi_actions", "outcome", "ok"));
      assertEquals(expected, outputs());

      // bazel test, remotely.
      Run test = bazel(List.of("test"), remote(port), "//:hello_test");
      assertEquals(0, test.exit(), test.output());
      assertTrue(test.output().contains("PASSED"), test.output());

      // A failing action: its stderr shown by Bazel, its failure not cached.
      Run fail = bazel(List.of("build"), remote(port), "//fail:fails");
      assertNotEquals(0, fail.exit(), fail.output());
      assertTrue(
          fail.output().contains("forkd-bazel-expected-failure: this action fails on purpose"),
          fail.output());

      // --jobs=32 against 8 zygotes: the actions queue, none fails.
      assertEquals(0, bazel("clean").exit());
      long queuedBefore = queuedObservations(d);
      Run par =
          bazel(
              List.of("build"),
              remote(port, "--jobs=32", "--noremote_accept_cached"),
              "//:parallel");
      assertEquals(0, par.exit(), par.output());
      assertTrue(queuedObservations(d) - queuedBefore >= 48, "every action went through the queue");
      assertEquals(0.0, counter(d, "forkd_reapi_actions", "outcome", "error"));

      // The bench figures of this run (not asserted: timings under a loaded machine vary).
      assertEquals(0, bazel("clean").exit());
      Run localAgain = bazel(List.of("build"), List.of("--spawn_strategy=linux-sandbox"), t);
      assertEquals(0, bazel("clean").exit());
      Run remoteNoCache = bazel(List.of("build"), remote(port, "--noremote_accept_cached"), t);
      assertEquals(0, bazel("clean").exit());
      Run remoteCached = bazel(List.of("build"), remote(port), t);
      System.out.printf(
          "bazel bench: local linux-sandbox %d ms, remote forkd (cache off) %d ms, remote fully"
              + " cached %d ms%n",
          localAgain.millis(), remoteNoCache.millis(), remoteCached.millis());
    } finally {
      bazel("shutdown");
      d.shutdown(5000);
    }
  }
}
