package dev.forkd.daemon.reapi;

import build.bazel.remote.execution.v2.Digest;
import com.google.protobuf.ByteString;
import dev.forkd.daemon.domain.InvalidRequestException;
import dev.forkd.daemon.domain.NotFoundException;
import dev.forkd.daemon.files.Caller;
import dev.forkd.daemon.files.FileStore;
import dev.forkd.daemon.files.StoreFullException;
import dev.forkd.zygote.posix.Posix;
import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * The content-addressable storage of the API on the {@link FileStore}: a blob is the stored file
 * {@code sha256:HASH}, so its bounds, eviction and tenancy apply (a caller sees only blobs it, or a
 * group it shares with, stored). The empty blob is always present and never stored.
 */
public final class Cas {
  private final FileStore store;
  private final ReapiMetrics metrics;

  public Cas(FileStore store, ReapiMetrics metrics) {
    this.store = store;
    this.metrics = metrics;
  }

  /** Whether {@code who} may read {@code d}, with that size; marks it used. */
  public boolean has(Caller who, Digest d) {
    if (Digests.isEmpty(d)) {
      return true;
    }
    return store.sizeOf(who, Digests.fileId(d)) == d.getSizeBytes();
  }

  public long maxBlobBytes() {
    return store.maxFileBytes();
  }

  /** Stores {@code data}, which must hash to {@code d}. */
  public void put(Caller who, Digest d, ByteString data) throws ReapiException {
    if (data.size() != d.getSizeBytes()) {
      throw ReapiException.invalid(
          "blob "
              + Digests.text(d)
              + ": "
              + data.size()
              + " bytes received, the digest says "
              + d.getSizeBytes());
    }
    try (Writer w = begin(who, d)) {
      w.write(data.asReadOnlyByteBuffer());
      w.finish();
    }
  }

  /** Stores {@code data} and returns its digest. */
  public Digest put(Caller who, byte[] data) throws ReapiException {
    Digest d = Digests.of(data);
    put(who, d, ByteString.copyFrom(data));
    return d;
  }

  /**
   * Stores the {@code size} bytes of {@code ch} at {@code offset} and returns their digest. They
   * are read twice, a piece at a time (to hash them, then to store them), never whole on the heap.
   */
  public Digest put(Caller who, FileChannel ch, long offset, long size) throws ReapiException {
    ByteBuffer buf = ByteBuffer.allocate((int) Math.min(1 << 20, Math.max(1, size)));
    java.security.MessageDigest md = Digests.sha256();
    readPieces(ch, offset, size, buf, md::update);
    Digest d =
        Digest.newBuilder()
            .setHash(java.util.HexFormat.of().formatHex(md.digest()))
            .setSizeBytes(size)
            .build();
    if (has(who, d)) {
      return d;
    }
    try (Writer w = begin(who, d)) {
      readPieces(ch, offset, size, buf, w::write);
      w.finish();
    }
    return d;
  }

  private interface Piece {
    void take(ByteBuffer piece) throws ReapiException;
  }

  /** Hands the {@code size} bytes of {@code ch} at {@code offset} to {@code to}, a buffer each. */
  private static void readPieces(FileChannel ch, long offset, long size, ByteBuffer buf, Piece to)
      throws ReapiException {
    for (long pos = 0; pos < size; ) {
      buf.clear();
      buf.limit((int) Math.min(buf.capacity(), size - pos));
      pos += readSome(ch, offset + pos, buf);
      buf.flip();
      to.take(buf);
    }
  }

  private static int readSome(FileChannel ch, long at, ByteBuffer into) throws ReapiException {
    try {
      int n = ch.read(into, at);
      if (n <= 0) {
        throw new ReapiException(ReapiException.Code.INTERNAL, "an output ended early");
      }
      return n;
    } catch (IOException e) {
      throw new ReapiException(ReapiException.Code.INTERNAL, "cannot read an output: " + e);
    }
  }

  /** Starts storing the blob {@code d} in pieces. */
  public Writer begin(Caller who, Digest d) throws ReapiException {
    if (d.getSizeBytes() > store.maxFileBytes()) {
      throw ReapiException.invalid(
          "blob "
              + Digests.text(d)
              + " is larger than the store's limit of "
              + store.maxFileBytes()
              + " bytes");
    }
    if (Digests.isEmpty(d)) {
      return new Writer(d, null);
    }
    try {
      return new Writer(d, store.upload(who, d.getSizeBytes()));
    } catch (IOException e) {
      throw new ReapiException(ReapiException.Code.UNAVAILABLE, "cannot store: " + e.getMessage());
    } catch (InvalidRequestException e) {
      throw ReapiException.invalid(e.getMessage());
    } catch (StoreFullException e) {
      throw new ReapiException(ReapiException.Code.RESOURCE_EXHAUSTED, e.getMessage());
    }
  }

  /** One blob being written; {@link #close()} drops what {@link #finish()} did not complete. */
  public final class Writer implements Closeable {
    private final Digest digest;
    private final FileStore.Upload upload;
    private long written;

    private Writer(Digest digest, FileStore.Upload upload) {
      this.digest = digest;
      this.upload = upload;
    }

    public long written() {
      return written;
    }

    public void write(ByteBuffer data) throws ReapiException {
      int n = data.remaining();
      if (written + n > digest.getSizeBytes()) {
        throw ReapiException.invalid(
            "blob "
                + Digests.text(digest)
                + ": more than its "
                + digest.getSizeBytes()
                + " bytes were sent");
      }
      if (n == 0) {
        return;
      }
      try {
        upload.write(data);
      } catch (IOException e) {
        throw new ReapiException(
            ReapiException.Code.UNAVAILABLE, "cannot store: " + e.getMessage());
      } catch (InvalidRequestException e) {
        throw ReapiException.invalid(e.getMessage());
      } catch (StoreFullException e) {
        throw new ReapiException(ReapiException.Code.RESOURCE_EXHAUSTED, e.getMessage());
      }
      written += n;
      metrics.in(n);
    }

    /** Completes the blob; INVALID_ARGUMENT when its bytes do not hash to the digest. */
    public void finish() throws ReapiException {
      if (written != digest.getSizeBytes()) {
        throw ReapiException.invalid(
            "blob "
                + Digests.text(digest)
                + ": "
                + written
                + " bytes received, the digest says "
                + digest.getSizeBytes());
      }
      if (upload == null) {
        return;
      }
      try {
        upload.finish(digest.getSizeBytes(), digest.getHash());
      } catch (IOException e) {
        throw new ReapiException(
            ReapiException.Code.UNAVAILABLE, "cannot store: " + e.getMessage());
      } catch (InvalidRequestException e) {
        throw ReapiException.invalid(
            "blob " + Digests.text(digest) + ": its bytes do not hash to its digest");
      } catch (StoreFullException e) {
        throw new ReapiException(ReapiException.Code.RESOURCE_EXHAUSTED, e.getMessage());
      }
    }

    @Override
    public void close() {
      if (upload != null) {
        upload.close();
      }
    }
  }

  /** The whole blob; NOT_FOUND when {@code who} has no such blob. */
  public byte[] read(Caller who, Digest d) throws ReapiException {
    if (d.getSizeBytes() > Integer.MAX_VALUE - 16) {
      throw new ReapiException(
          ReapiException.Code.OUT_OF_RANGE,
          "blob " + Digests.text(d) + " is too large to read whole; use ByteStream.Read");
    }
    ByteBuffer b = ByteBuffer.allocate((int) d.getSizeBytes());
    read(who, d, 0, d.getSizeBytes(), chunk -> b.put(chunk));
    return b.array();
  }

  /** Receives the chunks of a read, in order. */
  public interface Sink {
    void accept(ByteBuffer chunk) throws ReapiException;
  }

  /** Streams {@code limit} bytes (0 = to the end) of blob {@code d} from {@code offset}. */
  public void read(Caller who, Digest d, long offset, long limit, Sink sink) throws ReapiException {
    if (offset < 0 || offset > d.getSizeBytes()) {
      throw new ReapiException(
          ReapiException.Code.OUT_OF_RANGE,
          "read_offset " + offset + " is outside blob " + Digests.text(d));
    }
    if (limit < 0) {
      throw ReapiException.invalid("read_limit " + limit + " is negative");
    }
    if (Digests.isEmpty(d)) {
      return;
    }
    FileStore.Opened o = openBlob(who, d);
    try (FileChannel ch =
        FileChannel.open(Path.of("/proc/self/fd/" + o.fd()), StandardOpenOption.READ)) {
      if (o.size() != d.getSizeBytes()) {
        throw new ReapiException(
            ReapiException.Code.NOT_FOUND, "blob " + Digests.text(d) + " not found");
      }
      long end = limit == 0 ? o.size() : Math.min(o.size(), offset + limit);
      long pos = offset;
      ByteBuffer buf = ByteBuffer.allocate((int) Math.min(1 << 20, Math.max(1, end - pos)));
      while (pos < end) {
        buf.clear();
        buf.limit((int) Math.min(buf.capacity(), end - pos));
        int n = ch.read(buf, pos);
        if (n <= 0) {
          throw new ReapiException(
              ReapiException.Code.INTERNAL, "blob " + Digests.text(d) + " ended early");
        }
        pos += n;
        buf.flip();
        metrics.out(n);
        sink.accept(buf);
      }
    } catch (IOException e) {
      throw new ReapiException(
          ReapiException.Code.INTERNAL, "cannot read blob " + Digests.text(d) + ": " + e);
    } finally {
      Posix.closeQuietly(o.fd());
    }
  }

  /** An open blob, read at explicit positions; the caller closes it. */
  public record Reader(FileChannel channel, long size) implements Closeable {
    @Override
    public void close() {
      try {
        if (channel != null) {
          channel.close();
        }
      } catch (IOException e) {
        // nothing was written through it
      }
    }

    /** Reads up to {@code max} bytes at {@code pos}. */
    public ByteBuffer read(long pos, int max) throws ReapiException {
      ByteBuffer b = ByteBuffer.allocate(max);
      try {
        while (b.hasRemaining()) {
          int n = channel.read(b, pos + b.position());
          if (n <= 0) {
            break;
          }
        }
      } catch (IOException e) {
        throw new ReapiException(ReapiException.Code.INTERNAL, "cannot read a blob: " + e);
      }
      b.flip();
      return b;
    }
  }

  /** The stored file of blob {@code d}; NOT_FOUND when {@code who} has no such blob. */
  private FileStore.Opened openBlob(Caller who, Digest d) throws ReapiException {
    try {
      return store.open(who, Digests.fileId(d));
    } catch (NotFoundException e) {
      throw new ReapiException(
          ReapiException.Code.NOT_FOUND, "blob " + Digests.text(d) + " not found");
    }
  }

  /** Opens blob {@code d} for reading; NOT_FOUND when {@code who} has no such blob. */
  public Reader open(Caller who, Digest d) throws ReapiException {
    if (Digests.isEmpty(d)) {
      return new Reader(null, 0);
    }
    FileStore.Opened o = openBlob(who, d);
    try {
      if (o.size() != d.getSizeBytes()) {
        throw new ReapiException(
            ReapiException.Code.NOT_FOUND, "blob " + Digests.text(d) + " not found");
      }
      return new Reader(
          FileChannel.open(Path.of("/proc/self/fd/" + o.fd()), StandardOpenOption.READ), o.size());
    } catch (IOException e) {
      throw new ReapiException(ReapiException.Code.INTERNAL, "cannot open a blob: " + e);
    } finally {
      Posix.closeQuietly(o.fd());
    }
  }

  public void countOut(long n) {
    metrics.out(n);
  }

  /** The store's size, for status. */
  public FileStore.Stats stats() {
    return store.stats();
  }
}
