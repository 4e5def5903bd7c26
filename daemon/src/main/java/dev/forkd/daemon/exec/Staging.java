package dev.forkd.daemon.exec;

import dev.forkd.daemon.domain.InvalidRequestException;
import dev.forkd.daemon.domain.NotFoundException;
import dev.forkd.daemon.files.FileStore;
import dev.forkd.zygote.RunSpec;
import dev.forkd.zygote.Zygote;
import dev.forkd.zygote.ZygoteException;
import dev.forkd.zygote.posix.Posix;
import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;

/**
 * Copy-in and copy-out for one run. Inputs become fds handed to the zygote with SPAWN: inline
 * content goes into a memfd, a stored file is opened from the store (no copy through the heap); the
 * zygote writes them into the fresh work dir before the worker starts. Outputs are opened by the
 * zygote after every process of the run is dead (no symlink followed, regular files only) and read
 * here from the fds it returns, within the profile's collect budget.
 */
final class Staging implements Closeable {
  private static final long PAGE = 4096;

  private final List<RunSpec.InputFile> inputs = new ArrayList<>();

  private Staging() {}

  /** Opens every input of {@code spec}; on failure closes what it opened. */
  static Staging of(ExecSpec spec, FileStore store)
      throws InvalidRequestException, NotFoundException, IOException {
    Staging s = new Staging();
    try {
      long bytes = 0;
      for (int i = 0; i < spec.files().size(); i++) {
        ExecSpec.Input in = spec.files().get(i);
        int fd;
        long size;
        if (in.content() != null) {
          size = in.content().length;
          fd = memfd(in.content());
        } else if (in.local() != null) {
          size = java.nio.file.Files.size(in.local());
          fd = Posix.libc().open(in.local().toString(), Posix.O_CLOEXEC, 0);
          if (fd < 0) {
            throw new IOException("cannot open an input: " + Posix.error("open").getMessage());
          }
        } else {
          if (store == null) {
            throw new NotFoundException("files[" + i + "].file_id: this daemon has no file store");
          }
          try {
            // Only the caller's files (and those shared with its groups): another's file is as
            // unknown as an id never stored.
            FileStore.Opened o = store.open(spec.caller(), in.fileId());
            fd = o.fd();
            size = o.size();
          } catch (NotFoundException e) {
            throw new NotFoundException("files[" + i + "].file_id: " + e.getMessage());
          }
        }
        s.inputs.add(new RunSpec.InputFile(in.path(), in.executable(), size, fd));
        bytes += (size + PAGE - 1) / PAGE * PAGE;
      }
      if (bytes > spec.limits().workDirBytes()) {
        throw new InvalidRequestException(
            "files",
            bytes
                + " bytes (in pages) do not fit limits.work_dir_bytes ("
                + spec.limits().workDirBytes()
                + ")");
      }
      return s;
    } catch (InvalidRequestException | NotFoundException | IOException | RuntimeException e) {
      s.close();
      throw e;
    }
  }

  private static int memfd(byte[] content) throws IOException {
    return Posix.memfdOf("forkd-input", content);
  }

  List<RunSpec.InputFile> inputs() {
    return inputs;
  }

  /** Collects {@code paths} from a zygote whose run has ended, within {@code budget} bytes. */
  static List<CollectedFile> collect(Zygote z, List<String> paths, long budget)
      throws ZygoteException {
    return collect(z, paths, budget, null);
  }

  /**
   * Collects {@code paths} within {@code budget} bytes; with a {@code spillDir} each file is copied
   * (by the kernel, not through the heap) into a new file there, which the caller owns.
   */
  static List<CollectedFile> collect(Zygote z, List<String> paths, long budget, Path spillDir)
      throws ZygoteException {
    List<CollectedFile> out = new ArrayList<>();
    if (paths.isEmpty()) {
      return out;
    }
    List<Zygote.Collected> got = z.collect(paths);
    long left = budget;
    try {
      for (Zygote.Collected c : got) {
        if (c.errno() != 0) {
          out.add(new CollectedFile(c.path(), new byte[0], 0, describe(c.errno())));
        } else if (c.size() > left) {
          out.add(
              new CollectedFile(
                  c.path(),
                  new byte[0],
                  c.size(),
                  "larger than what is left of the collect budget ("
                      + left
                      + " of "
                      + budget
                      + " bytes)"));
        } else if (spillDir != null) {
          Path f = spill(c.fd(), c.size(), spillDir);
          left -= c.size();
          out.add(new CollectedFile(c.path(), new byte[0], c.size(), "", f));
        } else {
          byte[] content = read(c.fd(), c.size());
          left -= content.length;
          out.add(new CollectedFile(c.path(), content, content.length, ""));
        }
      }
    } catch (ZygoteException | RuntimeException | Error e) {
      for (CollectedFile f : out) {
        if (f.spilled() != null) {
          deleteQuietly(f.spilled());
        }
      }
      throw e;
    } finally {
      for (Zygote.Collected c : got) {
        Posix.closeQuietly(c.fd());
      }
    }
    return out;
  }

  private static Path spill(int fd, long size, Path dir) throws ZygoteException {
    Path f = null;
    try {
      f = java.nio.file.Files.createTempFile(dir, "collected-", "");
      try (FileChannel in =
              FileChannel.open(Path.of("/proc/self/fd/" + fd), StandardOpenOption.READ);
          FileChannel out = FileChannel.open(f, StandardOpenOption.WRITE)) {
        long pos = 0;
        while (pos < size) {
          long n = in.transferTo(pos, size - pos, out);
          if (n <= 0) {
            break;
          }
          pos += n;
        }
      }
      return f;
    } catch (IOException e) {
      if (f != null) {
        deleteQuietly(f);
      }
      throw new ZygoteException("cannot spill a collected file: " + e.getMessage(), e);
    }
  }

  private static void deleteQuietly(Path p) {
    try {
      java.nio.file.Files.deleteIfExists(p);
    } catch (IOException e) {
      // the caller's directory; it is cleaned with it
    }
  }

  private static byte[] read(int fd, long size) throws ZygoteException {
    try (FileChannel ch =
        FileChannel.open(Path.of("/proc/self/fd/" + fd), StandardOpenOption.READ)) {
      ByteBuffer b = ByteBuffer.allocate((int) size);
      while (b.hasRemaining() && ch.read(b) > 0) {
        // A file cannot grow or shrink now: every process of the run is dead.
      }
      b.flip();
      byte[] out = new byte[b.remaining()];
      b.get(out);
      return out;
    } catch (IOException e) {
      throw new ZygoteException("cannot read a collected file: " + e.getMessage(), e);
    }
  }

  static String describe(int errno) {
    return switch (errno) {
      case 2 -> "no such file (ENOENT)";
      case 40 -> "a symbolic link on the path; links are not followed (ELOOP)";
      case 22 -> "not a regular file (EINVAL)";
      case 18 -> "the path leaves the work dir (EXDEV)";
      case 13 -> "permission denied (EACCES)";
      default -> Posix.libc().strerror(errno) + " (errno " + errno + ")";
    };
  }

  @Override
  public void close() {
    for (RunSpec.InputFile f : inputs) {
      Posix.closeQuietly(f.fd());
    }
    inputs.clear();
  }
}
