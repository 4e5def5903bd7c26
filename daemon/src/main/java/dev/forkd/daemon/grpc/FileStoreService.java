package dev.forkd.daemon.grpc;

import com.google.errorprone.annotations.concurrent.GuardedBy;
import com.google.protobuf.ByteString;
import com.google.protobuf.Timestamp;
import dev.forkd.api.v1.DeleteFileRequest;
import dev.forkd.api.v1.DeleteFileResponse;
import dev.forkd.api.v1.FileChunk;
import dev.forkd.api.v1.FileInfo;
import dev.forkd.api.v1.FileRef;
import dev.forkd.api.v1.FileStoreGrpc;
import dev.forkd.api.v1.GetFileRequest;
import dev.forkd.api.v1.ListFilesRequest;
import dev.forkd.api.v1.ListFilesResponse;
import dev.forkd.api.v1.PutFileRequest;
import dev.forkd.daemon.domain.NotFoundException;
import dev.forkd.daemon.files.Caller;
import dev.forkd.daemon.files.FileStore;
import dev.forkd.daemon.files.StoreFullException;
import dev.forkd.daemon.files.StoredFile;
import dev.forkd.zygote.posix.Posix;
import io.grpc.Status;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Comparator;

/**
 * Thin gRPC face of {@link FileStore}: uploads in chunks, downloads paced by the client. Every call
 * acts for its caller ({@link CallerInterceptor}): it stores under the caller's identity and sees
 * only what the caller may use; a bound of the store is RESOURCE_EXHAUSTED naming it.
 */
final class FileStoreService extends FileStoreGrpc.FileStoreImplBase {
  private static final int CHUNK = 64 * 1024;
  private final FileStore store;

  FileStoreService(FileStore store) {
    this.store = store;
  }

  @Override
  public StreamObserver<PutFileRequest> putFile(StreamObserver<FileRef> out) {
    Caller caller = CallerInterceptor.current();
    return new StreamObserver<>() {
      private FileStore.Upload upload;
      private boolean failed;

      @Override
      public void onNext(PutFileRequest r) {
        if (failed) {
          return;
        }
        try {
          if (upload == null) {
            upload = store.upload(caller, r.getSize());
            expectedSize = r.getSize();
            expectedSha = r.getSha256();
          }
          upload.write(r.getData().asReadOnlyByteBuffer());
        } catch (Exception e) {
          fail(e);
        }
      }

      private long expectedSize;
      private String expectedSha = "";

      private void fail(Exception e) {
        failed = true;
        if (upload != null) {
          upload.close();
        }
        out.onError(status(e).asRuntimeException());
      }

      @Override
      public void onError(Throwable t) {
        if (upload != null) {
          upload.close();
        }
      }

      @Override
      public void onCompleted() {
        if (failed) {
          return;
        }
        try {
          if (upload == null) {
            upload = store.upload(caller, 0);
          }
          StoredFile f = upload.finish(expectedSize, expectedSha);
          out.onNext(FileRef.newBuilder().setFileId(f.id()).setSize(f.size()).build());
          out.onCompleted();
        } catch (Exception e) {
          fail(e);
        }
      }
    };
  }

  private static Status status(Exception e) {
    if (e instanceof StoreFullException) {
      return Status.RESOURCE_EXHAUSTED.withDescription(e.getMessage());
    }
    return StatusMapping.of(e);
  }

  @Override
  public void getFile(GetFileRequest request, StreamObserver<FileChunk> observer) {
    ServerCallStreamObserver<FileChunk> out = (ServerCallStreamObserver<FileChunk>) observer;
    int fd;
    try {
      fd = store.open(CallerInterceptor.current(), request.getFileId()).fd();
    } catch (NotFoundException e) {
      out.onError(StatusMapping.of(e).asRuntimeException());
      return;
    }
    FileChannel ch;
    try {
      ch = FileChannel.open(Path.of("/proc/self/fd/" + fd), StandardOpenOption.READ);
    } catch (IOException e) {
      Posix.closeQuietly(fd);
      out.onError(Status.INTERNAL.withDescription("cannot read the file").asRuntimeException());
      return;
    }
    // The channel holds its own open file description now.
    Posix.closeQuietly(fd);
    // Chunks go out only while the client keeps up (onReady), so a slow reader holds no more than
    // the transport's buffer in memory.
    Runnable pump =
        new Runnable() {
          @GuardedBy("this")
          private long offset;

          @GuardedBy("this")
          private boolean done;

          @Override
          public synchronized void run() {
            try {
              while (!done && out.isReady()) {
                ByteBuffer b = ByteBuffer.allocate(CHUNK);
                int n = ch.read(b, offset);
                if (n < 0) {
                  done = true;
                  ch.close();
                  out.onCompleted();
                  return;
                }
                b.flip();
                out.onNext(
                    FileChunk.newBuilder()
                        .setData(ByteString.copyFrom(b))
                        .setOffset(offset)
                        .build());
                offset += n;
              }
            } catch (IOException e) {
              done = true;
              out.onError(Status.INTERNAL.withDescription("reading failed").asRuntimeException());
            }
          }
        };
    out.setOnCancelHandler(
        () -> {
          try {
            ch.close();
          } catch (IOException e) {
            // nothing to do
          }
        });
    out.setOnReadyHandler(pump);
    pump.run();
  }

  @Override
  public void deleteFile(DeleteFileRequest request, StreamObserver<DeleteFileResponse> out) {
    out.onNext(
        DeleteFileResponse.newBuilder()
            .setDeleted(store.delete(CallerInterceptor.current(), request.getFileId()))
            .build());
    out.onCompleted();
  }

  @Override
  public void listFiles(ListFilesRequest request, StreamObserver<ListFilesResponse> out) {
    ListFilesResponse.Builder b = ListFilesResponse.newBuilder();
    store.list(CallerInterceptor.current()).stream()
        .sorted(Comparator.comparing(StoredFile::id))
        .forEach(
            f ->
                b.addFiles(
                    FileInfo.newBuilder()
                        .setFileId(f.id())
                        .setSize(f.size())
                        .setLastUsed(timestamp(f.lastUsed()))));
    out.onNext(b.build());
    out.onCompleted();
  }

  private static Timestamp timestamp(java.time.Instant t) {
    return Timestamp.newBuilder().setSeconds(t.getEpochSecond()).setNanos(t.getNano()).build();
  }
}
