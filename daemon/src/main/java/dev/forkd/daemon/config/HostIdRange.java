package dev.forkd.daemon.config;

import java.util.List;

/**
 * The host uid/gid range of a root daemon ({@code host_id_base}, {@code host_id_count}), cut into
 * sub-ranges of {@link #IDS_PER_ZYGOTE} ids, one per live zygote: concurrent runs then share no
 * per-uid kernel accounting (RLIMIT_NPROC, inotify instances, pipe-user-pages, mqueue bytes).
 *
 * <p>A sandbox uses two ids of its own: 0 (the zygote) and the profile's worker id. Every other id
 * inside is unmapped, as host ids outside the map are to the sandbox (they show as the overflow id
 * 65534); so a zygote needs two host ids, not 65536. Pure: no I/O.
 */
public record HostIdRange(long base, long count) {
  /** Host ids per zygote: inside id 0 and the worker id. */
  public static final int IDS_PER_ZYGOTE = 2;

  public HostIdRange {
    if (base <= 0 || count < IDS_PER_ZYGOTE || base + count - 1 > 0xFFFFFFFEL) {
      throw new IllegalArgumentException("bad host id range " + base + "+" + count);
    }
  }

  /** How many zygotes can hold a sub-range at once. */
  public int subRanges() {
    return (int) Math.min(Integer.MAX_VALUE, count / IDS_PER_ZYGOTE);
  }

  /** First host id of sub-range {@code slot}. */
  public long first(int slot) {
    if (slot < 0 || slot >= subRanges()) {
      throw new IllegalArgumentException("no sub-range " + slot + " of " + subRanges());
    }
    return base + (long) slot * IDS_PER_ZYGOTE;
  }

  /**
   * Lines {@code inside:outside:count} of sub-range {@code slot}'s uid_map or gid_map: 0 to its
   * first id, {@code workerId} to the next.
   */
  public List<String> map(int slot, int workerId) {
    if (workerId <= 0) {
      throw new IllegalArgumentException("worker id " + workerId + " is not above 0");
    }
    long first = first(slot);
    return List.of("0:" + first + ":1", workerId + ":" + (first + 1) + ":1");
  }
}
