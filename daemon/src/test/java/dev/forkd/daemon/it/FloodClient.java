package dev.forkd.daemon.it;

import com.google.protobuf.ByteString;
import dev.forkd.api.v1.ExecRequest;
import dev.forkd.client.ForkdClient;
import dev.forkd.client.ForkdException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A hostile caller for {@link AdmissionFloodTest}, run as its own process (and uid): {@code
 * clients} threads, each on its own connection, send Exec requests of {@code bytes} of stdin back
 * to back for {@code seconds}, then it prints one line of outcome counts and exits.
 */
public final class FloodClient {
  public static void main(String[] args) throws Exception {
    Path socket = Path.of(args[0]);
    int clients = Integer.parseInt(args[1]);
    int bytes = Integer.parseInt(args[2]);
    long until = System.nanoTime() + Duration.ofSeconds(Long.parseLong(args[3])).toNanos();
    ExecRequest big =
        ExecRequest.newBuilder()
            .addArgv("/bin/true")
            .setStdin(ByteString.copyFrom(new byte[bytes]))
            .build();
    Map<String, AtomicLong> counts = new ConcurrentHashMap<>();
    Map<String, String> samples = new ConcurrentHashMap<>();
    List<Thread> threads = new ArrayList<>();
    for (int i = 0; i < clients; i++) {
      Thread t =
          new Thread(
              () -> {
                try (ForkdClient c = ForkdClient.unix(socket)) {
                  while (System.nanoTime() < until) {
                    String outcome;
                    try {
                      outcome = "OK_" + c.exec(big, Duration.ofSeconds(60)).getStatus();
                    } catch (ForkdException e) {
                      outcome = e.code().toString();
                      samples.putIfAbsent(outcome, e.description());
                    }
                    counts.computeIfAbsent(outcome, k -> new AtomicLong()).incrementAndGet();
                  }
                }
              });
      t.start();
      threads.add(t);
    }
    for (Thread t : threads) {
      t.join();
    }
    System.out.println("flood " + new java.util.TreeMap<>(counts));
    samples.forEach((k, v) -> System.out.println("  e.g. " + k + ": " + v));
  }
}
