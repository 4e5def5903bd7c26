package dev.forkd.daemon.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.forkd.api.v1.ExecRequest;
import dev.forkd.api.v1.ExecResult;
import dev.forkd.api.v1.InputFile;
import dev.forkd.api.v1.Status;
import dev.forkd.client.ForkdClient;
import dev.forkd.client.ForkdException;
import dev.forkd.daemon.Daemon;
import dev.forkd.daemon.config.ConfigLoader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A flood of uploads against a daemon process: 50,000 tiny distinct files leave its fd count where
 * it was, the uploads past the caller's quota are RESOURCE_EXHAUSTED naming it, and the daemon goes
 * on serving. Before the store was bounded, each stored file kept a memfd open: 20,000 such uploads
 * exhausted the daemon's fds and no zygote could start.
 */
class FileFloodTest {
  static final int MAX_MEMFDS = 64;
  static final int MEDIUM = 300;
  static final int TINY = 50_000;

  /** More than the heap tier holds (16,384 pages by default): the rest spill to disk. */
  static final int OWNER_MAX_FILES = 40_000;

  @TempDir Path dir;

  static int fds(long pid) throws Exception {
    try (Stream<Path> s = Files.list(Path.of("/proc/" + pid + "/fd"))) {
      return (int) s.count();
    }
  }

  static ExecResult cat(ForkdClient c, String id) {
    return c.exec(
        ExecRequest.newBuilder()
            .addArgv("cat")
            .addArgv("f")
            .addFiles(InputFile.newBuilder().setPath("f").setFileId(id))
            .build());
  }

  @Test
  @Timeout(value = 10, unit = TimeUnit.MINUTES)
  void fiftyThousandTinyUploadsLeaveTheFdsBoundedAndTheDaemonServing() throws Exception {
    Path socket = dir.resolve("forkd.sock");
    Path config = dir.resolve("forkd.textproto");
    Files.writeString(
        config,
        ConfigLoader.defaultText()
            + "\nfile_store { max_memfds: "
            + MAX_MEMFDS
            + " owner_max_files: "
            + OWNER_MAX_FILES
            + " }\n");
    DaemonProcess daemon =
        DaemonProcess.in(dir).zygotes(1).args("--config", config.toString()).start();
    Path spill = Daemon.defaultSpillDir(socket);
    try (ForkdClient c = ForkdClient.unix(socket)) {
      daemon.awaitServing(c, 1);
      long pid = daemon.pid();
      // Warm-up: one of each call, so that the count below is the serving daemon's.
      String first = c.putFile("warm-up\n".getBytes(StandardCharsets.UTF_8)).getFileId();
      assertEquals("warm-up\n", cat(c, first).getStdout().toStringUtf8());
      int before = fds(pid);

      // Files too big for the heap: memfds, at most MAX_MEMFDS of them stay open.
      byte[] medium = new byte[70_000];
      List<String> mediumIds = new ArrayList<>();
      for (int i = 0; i < MEDIUM; i++) {
        new Random(i).nextBytes(medium);
        mediumIds.add(c.putFile(medium).getFileId());
      }
      int afterMedium = fds(pid);

      ExecutorService pool = Executors.newFixedThreadPool(4);
      AtomicInteger ok = new AtomicInteger();
      AtomicInteger exhausted = new AtomicInteger();
      AtomicReference<String> quotaMessage = new AtomicReference<>();
      ConcurrentHashMap<String, Integer> otherCodes = new ConcurrentHashMap<>();
      AtomicReference<String> aTinyId = new AtomicReference<>();
      AtomicInteger next = new AtomicInteger();
      long t0 = System.nanoTime();
      List<Future<?>> workers = new ArrayList<>();
      for (int w = 0; w < 4; w++) {
        workers.add(
            pool.submit(
                () -> {
                  for (int i = next.getAndIncrement(); i < TINY; i = next.getAndIncrement()) {
                    try {
                      String id =
                          c.putFile(("tiny " + i).getBytes(StandardCharsets.UTF_8)).getFileId();
                      ok.incrementAndGet();
                      if (i == 7) {
                        aTinyId.set(id);
                      }
                    } catch (ForkdException e) {
                      if (e.code() == io.grpc.Status.Code.RESOURCE_EXHAUSTED) {
                        exhausted.incrementAndGet();
                        quotaMessage.compareAndSet(null, e.description());
                      } else {
                        otherCodes.merge(e.code() + ": " + e.description(), 1, Integer::sum);
                      }
                    }
                  }
                  return null;
                }));
      }
      for (Future<?> f : workers) {
        f.get(8, TimeUnit.MINUTES);
      }
      pool.shutdown();
      long floodMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
      int after = fds(pid);
      System.out.printf(
          "file flood: fds %d before, %d after %d medium uploads, %d after %d tiny uploads"
              + " (%d stored, %d RESOURCE_EXHAUSTED) in %d ms%n",
          before, afterMedium, MEDIUM, after, TINY, ok.get(), exhausted.get(), floodMillis);

      assertEquals(java.util.Map.of(), otherCodes, "no other outcome");
      // The caller's quota (owner_max_files) is what stopped the flood: the warm-up file, the
      // medium ones and the tiny ones that fit.
      assertEquals(OWNER_MAX_FILES - 1 - MEDIUM, ok.get());
      assertEquals(TINY - ok.get(), exhausted.get());
      assertTrue(quotaMessage.get().contains("owner_max_files"), quotaMessage.get());
      // The store's fds are its memfds: capped, however many files it holds.
      assertTrue(afterMedium <= before + MAX_MEMFDS + 16, "fds " + before + " -> " + afterMedium);
      assertTrue(after <= before + MAX_MEMFDS + 16, "fds " + before + " -> " + after);

      // Still serving: runs, stored files as inputs, and uploads again once the caller deletes.
      for (int i = 0; i < 5; i++) {
        ExecResult r = c.exec(ExecRequest.newBuilder().addArgv("/bin/true").build());
        assertEquals(Status.STATUS_EXITED, r.getStatus(), r.toString());
      }
      assertEquals("tiny 7", cat(c, aTinyId.get()).getStdout().toStringUtf8());
      new Random(0).nextBytes(medium);
      ExecResult m =
          c.exec(
              ExecRequest.newBuilder()
                  .addArgv("wc")
                  .addArgv("-c")
                  .addArgv("f")
                  .addFiles(InputFile.newBuilder().setPath("f").setFileId(mediumIds.get(0)))
                  .build());
      assertEquals("70000 f\n", m.getStdout().toStringUtf8(), "a spilled medium file");
      assertTrue(c.deleteFile(aTinyId.get()));
      c.putFile("after the flood".getBytes(StandardCharsets.UTF_8));
      String log = daemon.log();
      assertTrue(log.contains("call method=PutFile peer_uid=0"), "FileStore calls are logged");
      assertTrue(log.contains("call_failed method=PutFile peer_uid=0"), "and their refusals");
      assertTrue(Files.isDirectory(spill), spill.toString());
    } finally {
      daemon.close();
    }
    assertEquals(0, daemon.process.exitValue());
    assertFalse(Files.exists(spill), "the spill directory is gone with the daemon");
  }
}
