package dev.forkd.daemon.config;

import dev.forkd.config.v1.DaemonConfig;
import dev.forkd.daemon.domain.ConfigException;
import java.time.Duration;

/**
 * What the daemon lets in at once (issue 13): bytes of requests in flight, requests being received,
 * calls per connection, and how long a let-in request may take to arrive.
 *
 * @param maxBytesInFlight budget of bytes that admitted requests hold until their calls end
 * @param receptionSlots requests whose message may be in reception at once; each may take up to
 *     {@code max_request_bytes} of memory while it arrives
 * @param slotsPerIdentity slots one caller identity may hold at once
 * @param maxCallsPerConnection concurrent calls (HTTP/2 streams) per client connection
 * @param receiveTimeout how long a let-in request's message may take to arrive
 */
public record AdmissionLimits(
    long maxBytesInFlight,
    int receptionSlots,
    int slotsPerIdentity,
    int maxCallsPerConnection,
    Duration receiveTimeout) {

  /**
   * How often an admitted Exec request is held while it runs: as parsed (its ByteStrings), as the
   * validated spec's copies of stdin and file contents, and as the memfds inline files are staged
   * into.
   */
  public static final int REQUEST_COPIES = 3;

  /**
   * Resolves the configuration's values against the JVM's heap: by default a quarter of the heap
   * (at most 1 GiB) for admitted requests, and as many reception slots as that budget holds
   * requests of the maximum size (at least 2), so that requests in reception and admitted ones
   * together stay within about half the heap.
   */
  public static AdmissionLimits resolve(DaemonConfig c, long maxRequestBytes, long maxHeapBytes)
      throws ConfigException {
    // The largest Exec request counts REQUEST_COPIES times its size: the budget must hold one.
    long floor = REQUEST_COPIES * maxRequestBytes;
    long budget =
        c.getMaxBytesInFlight() != 0
            ? c.getMaxBytesInFlight()
            : Math.max(floor, Math.min(1L << 30, maxHeapBytes / 4));
    if (budget < floor) {
      throw new ConfigException(
          "max_bytes_in_flight: "
              + budget
              + " bytes cannot hold one Exec request of max_request_bytes ("
              + maxRequestBytes
              + ", counted "
              + REQUEST_COPIES
              + " times)");
    }
    int slots = (int) Math.max(2, Math.min(256, budget / Math.max(1, maxRequestBytes)));
    int calls = c.getMaxCallsPerConnection() == 0 ? 128 : c.getMaxCallsPerConnection();
    Duration receive =
        c.hasRequestReceiveTimeout()
            ? Duration.ofSeconds(
                c.getRequestReceiveTimeout().getSeconds(), c.getRequestReceiveTimeout().getNanos())
            : Duration.ofSeconds(30);
    if (receive.isNegative() || receive.isZero()) {
      throw new ConfigException("request_receive_timeout: must be positive");
    }
    return new AdmissionLimits(budget, slots, Math.max(1, slots / 2), calls, receive);
  }
}
