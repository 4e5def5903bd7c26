package dev.forkd.daemon.grpc.reapi;

import com.google.bytestream.ByteStreamGrpc;
import com.google.bytestream.QueryWriteStatusRequest;
import com.google.bytestream.QueryWriteStatusResponse;
import com.google.bytestream.ReadRequest;
import com.google.bytestream.ReadResponse;
import com.google.bytestream.WriteRequest;
import com.google.bytestream.WriteResponse;
import com.google.errorprone.annotations.concurrent.GuardedBy;
import com.google.protobuf.ByteString;
import dev.forkd.daemon.files.Caller;
import dev.forkd.daemon.grpc.CallerInterceptor;
import dev.forkd.daemon.reapi.Cas;
import dev.forkd.daemon.reapi.ReapiException;
import dev.forkd.daemon.reapi.ResourceName;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.nio.ByteBuffer;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Blobs of any size in and out of the CAS. Reads are paced by the client (a chunk goes out only
 * while the transport is ready); writes go straight into a FileStore upload, checked against the
 * digest in the name when they finish.
 */
final class ByteStreamService extends ByteStreamGrpc.ByteStreamImplBase {
  private static final int CHUNK = 64 * 1024;
  private final Cas cas;

  /** Writes in progress, by identity and resource name: their committed sizes. */
  private final Map<String, AtomicLong> writes = new ConcurrentHashMap<>();

  ByteStreamService(Cas cas) {
    this.cas = cas;
  }

  @Override
  public void read(ReadRequest r, StreamObserver<ReadResponse> observer) {
    ServerCallStreamObserver<ReadResponse> out = (ServerCallStreamObserver<ReadResponse>) observer;
    Cas.Reader reader;
    long end;
    long start = r.getReadOffset();
    try {
      ResourceName n = ResourceName.parse(r.getResourceName(), false);
      if (start < 0 || start > n.digest().getSizeBytes()) {
        throw new ReapiException(
            ReapiException.Code.OUT_OF_RANGE,
            "read_offset "
                + start
                + " is outside the blob of "
                + n.digest().getSizeBytes()
                + " bytes");
      }
      if (r.getReadLimit() < 0) {
        throw new ReapiException(ReapiException.Code.INVALID_ARGUMENT, "read_limit is negative");
      }
      reader = cas.open(CallerInterceptor.current(), n.digest());
      end =
          r.getReadLimit() == 0 ? reader.size() : Math.min(reader.size(), start + r.getReadLimit());
    } catch (ReapiException e) {
      out.onError(ReapiStatus.of(e));
      return;
    }
    if (end == start) {
      reader.close();
      out.onCompleted();
      return;
    }
    java.util.concurrent.atomic.AtomicBoolean cancelled =
        new java.util.concurrent.atomic.AtomicBoolean();
    Runnable pump =
        new Runnable() {
          @GuardedBy("this")
          private long pos = start;

          @GuardedBy("this")
          private boolean done;

          @Override
          public synchronized void run() {
            if (done || cancelled.get()) {
              return;
            }
            try {
              while (out.isReady() && pos < end) {
                ByteBuffer b = reader.read(pos, (int) Math.min(CHUNK, end - pos));
                if (b.remaining() == 0) {
                  throw new ReapiException(ReapiException.Code.INTERNAL, "the blob ended early");
                }
                pos += b.remaining();
                cas.countOut(b.remaining());
                out.onNext(ReadResponse.newBuilder().setData(ByteString.copyFrom(b)).build());
              }
              if (pos >= end) {
                done = true;
                reader.close();
                out.onCompleted();
              }
            } catch (ReapiException e) {
              done = true;
              reader.close();
              out.onError(ReapiStatus.of(e));
            }
          }
        };
    out.setOnCancelHandler(
        () -> {
          cancelled.set(true);
          synchronized (pump) {
            reader.close();
          }
        });
    out.setOnReadyHandler(pump);
    pump.run();
  }

  @Override
  public StreamObserver<WriteRequest> write(StreamObserver<WriteResponse> out) {
    Caller who = CallerInterceptor.current();
    return new StreamObserver<>() {
      private Cas.Writer writer;
      private String name;
      private String key;
      private AtomicLong committed;
      private boolean ended;

      @Override
      public void onNext(WriteRequest r) {
        if (ended) {
          return;
        }
        try {
          if (writer == null) {
            ResourceName n = ResourceName.parse(r.getResourceName(), true);
            name = r.getResourceName();
            key = who.identity() + "\0" + name;
            writer = cas.begin(who, n.digest());
            committed = new AtomicLong();
            writes.put(key, committed);
          } else if (!r.getResourceName().isEmpty() && !r.getResourceName().equals(name)) {
            throw new ReapiException(
                ReapiException.Code.INVALID_ARGUMENT,
                "resource_name: differs from the first message's");
          }
          if (r.getWriteOffset() != writer.written()) {
            throw new ReapiException(
                ReapiException.Code.INVALID_ARGUMENT,
                "write_offset "
                    + r.getWriteOffset()
                    + ", but "
                    + writer.written()
                    + " bytes were written");
          }
          writer.write(r.getData().asReadOnlyByteBuffer());
          committed.set(writer.written());
          if (r.getFinishWrite()) {
            writer.finish();
            end();
            out.onNext(WriteResponse.newBuilder().setCommittedSize(writer.written()).build());
            out.onCompleted();
          }
        } catch (ReapiException e) {
          end();
          out.onError(ReapiStatus.of(e));
        } catch (RuntimeException e) {
          end();
          out.onError(ReapiStatus.of(e));
        }
      }

      private void end() {
        ended = true;
        if (writer != null) {
          writer.close();
        }
        if (key != null) {
          writes.remove(key, committed);
        }
      }

      @Override
      public void onError(Throwable t) {
        end();
      }

      @Override
      public void onCompleted() {
        if (!ended) {
          end();
          out.onError(
              ReapiStatus.of(
                  new ReapiException(
                      ReapiException.Code.INVALID_ARGUMENT,
                      "the stream ended without finish_write")));
        }
      }
    };
  }

  @Override
  public void queryWriteStatus(
      QueryWriteStatusRequest r, StreamObserver<QueryWriteStatusResponse> out) {
    Caller who = CallerInterceptor.current();
    try {
      ResourceName n = ResourceName.parse(r.getResourceName(), true);
      QueryWriteStatusResponse.Builder b = QueryWriteStatusResponse.newBuilder();
      if (cas.has(who, n.digest())) {
        b.setCommittedSize(n.digest().getSizeBytes()).setComplete(true);
      } else {
        AtomicLong c = writes.get(who.identity() + "\0" + r.getResourceName());
        b.setCommittedSize(c == null ? 0 : c.get());
      }
      out.onNext(b.build());
      out.onCompleted();
    } catch (ReapiException e) {
      out.onError(ReapiStatus.of(e));
    }
  }
}
