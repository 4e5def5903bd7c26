package dev.forkd.daemon.reapi;

import build.bazel.remote.execution.v2.Digest;
import build.bazel.remote.execution.v2.Directory;
import build.bazel.remote.execution.v2.DirectoryNode;
import build.bazel.remote.execution.v2.FileNode;
import build.bazel.remote.execution.v2.SymlinkNode;
import com.google.protobuf.InvalidProtocolBufferException;
import dev.forkd.daemon.files.Caller;
import java.nio.channels.FileChannel;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Deque;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * An action's input root, gathered from the CAS: every Directory from the root down (any depth),
 * checked (names are single path components, no duplicates), then written as one archive that the
 * sandbox unpacks into {@code /work}. Every missing blob is reported at once, so that the client
 * uploads them all and retries.
 */
final class InputRoot {
  /** A file of the tree: where, and which blob. */
  private record FileAt(String path, Digest digest, boolean executable) {}

  private final List<String> dirs = new ArrayList<>();
  private final List<FileAt> files = new ArrayList<>();
  private final Map<String, String> symlinks = new LinkedHashMap<>();
  private long bytes;

  private InputRoot() {}

  long bytes() {
    return bytes;
  }

  int fileCount() {
    return files.size();
  }

  /**
   * Resolves the tree under {@code root}; FAILED_PRECONDITION listing every missing blob,
   * INVALID_ARGUMENT for a malformed tree, RESOURCE_EXHAUSTED beyond {@code maxBytes}.
   */
  static InputRoot resolve(Cas cas, Caller who, Digest root, long maxBytes, int maxEntries)
      throws ReapiException {
    InputRoot r = new InputRoot();
    Set<String> missing = new LinkedHashSet<>();
    Map<String, Directory> byDigest = new HashMap<>();
    Deque<Map.Entry<String, Digest>> todo = new ArrayDeque<>();
    todo.add(Map.entry("", root));
    int entries = 0;
    while (!todo.isEmpty()) {
      Map.Entry<String, Digest> next = todo.poll();
      String at = next.getKey();
      Digest d = next.getValue();
      Digests.check(d, "input directory " + (at.isEmpty() ? "(root)" : at));
      Directory dir = byDigest.get(Digests.text(d));
      if (dir == null) {
        if (!cas.has(who, d)) {
          missing.add(Digests.text(d));
          continue;
        }
        try {
          dir = Directory.parseFrom(cas.read(who, d));
        } catch (InvalidProtocolBufferException e) {
          throw ReapiException.invalid(
              "input directory " + Digests.text(d) + " is not a Directory message");
        } catch (ReapiException e) {
          if (e.code() == ReapiException.Code.NOT_FOUND) {
            missing.add(Digests.text(d));
            continue;
          }
          throw e;
        }
        byDigest.put(Digests.text(d), dir);
      }
      if (!at.isEmpty()) {
        r.dirs.add(at);
      }
      Set<String> names = new java.util.HashSet<>();
      for (FileNode f : dir.getFilesList()) {
        String p = child(at, f.getName(), names);
        Digests.check(f.getDigest(), "input file " + p);
        if (!cas.has(who, f.getDigest())) {
          missing.add(Digests.text(f.getDigest()));
        }
        r.files.add(new FileAt(p, f.getDigest(), f.getIsExecutable()));
        r.bytes += f.getDigest().getSizeBytes();
      }
      for (SymlinkNode s : dir.getSymlinksList()) {
        String p = child(at, s.getName(), names);
        if (s.getTarget().isEmpty() || s.getTarget().indexOf('\0') >= 0) {
          throw ReapiException.invalid("input symlink " + p + ": an empty or NUL target");
        }
        r.symlinks.put(p, s.getTarget());
      }
      for (DirectoryNode n : dir.getDirectoriesList()) {
        todo.add(Map.entry(child(at, n.getName(), names), n.getDigest()));
      }
      entries += dir.getFilesCount() + dir.getSymlinksCount() + dir.getDirectoriesCount();
      if (entries > maxEntries) {
        throw new ReapiException(
            ReapiException.Code.RESOURCE_EXHAUSTED,
            "the input root has more than " + maxEntries + " entries");
      }
      if (r.bytes > maxBytes) {
        throw new ReapiException(
            ReapiException.Code.RESOURCE_EXHAUSTED,
            "the input root's files take more than "
                + maxBytes
                + " bytes (remote_execution.max_input_root_bytes)");
      }
    }
    if (!missing.isEmpty()) {
      throw missingBlobs(missing);
    }
    return r;
  }

  static ReapiException missingBlobs(Collection<String> digests) {
    List<ReapiException.Violation> v = new ArrayList<>();
    for (String d : digests) {
      v.add(new ReapiException.Violation("MISSING", "blobs/" + d, "not in the CAS"));
    }
    return new ReapiException(
        ReapiException.Code.FAILED_PRECONDITION,
        digests.size() + " blob(s) of the action are missing from the CAS",
        v);
  }

  private static String child(String at, String name, Set<String> seen) throws ReapiException {
    if (name.isEmpty()
        || name.equals(".")
        || name.equals("..")
        || name.indexOf('/') >= 0
        || name.indexOf('\0') >= 0) {
      throw ReapiException.invalid(
          "input root: '"
              + Digests.shown(name)
              + "' in "
              + (at.isEmpty() ? "(root)" : at)
              + " is not a file name");
    }
    if (!seen.add(name)) {
      throw ReapiException.invalid(
          "input root: '"
              + Digests.shown(name)
              + "' appears twice in "
              + (at.isEmpty() ? "(root)" : at));
    }
    return at.isEmpty() ? name : at + "/" + name;
  }

  /**
   * Writes the archive of this tree into {@code out}, plus the directories {@code extraDirs} (the
   * working directory and the outputs' parents, which the API has the server create) where the tree
   * has none. File bodies go from the store to {@code out} by the kernel: only headers pass through
   * the heap. Returns the archive's size.
   */
  long archive(
      Cas cas, Caller who, Collection<String> extraDirs, FileChannel out, ReapiFaults faults)
      throws ReapiException {
    Tar.Writer w = new Tar.Writer(out);
    try {
      for (String d : dirs) {
        w.dir(d);
      }
      Set<String> have = new java.util.HashSet<>(dirs);
      for (String d : extraDirs) {
        if (!d.isEmpty() && have.add(d)) {
          w.dir(d);
        }
      }
      boolean first = true;
      for (FileAt f : files) {
        try (Cas.Reader r = open(cas, who, f.digest())) {
          w.file(f.path(), f.executable(), r.size(), r.channel());
          cas.countOut(r.size());
        }
        if (first) {
          faults.at(ReapiFaults.Stage.MATERIALISING);
          first = false;
        }
      }
      for (Map.Entry<String, String> l : symlinks.entrySet()) {
        w.symlink(l.getKey(), l.getValue());
      }
      return w.finish();
    } catch (java.io.IOException e) {
      throw new ReapiException(
          ReapiException.Code.INTERNAL, "cannot write the input archive: " + e.getMessage());
    }
  }

  private static Cas.Reader open(Cas cas, Caller who, Digest d) throws ReapiException {
    try {
      return cas.open(who, d);
    } catch (ReapiException e) {
      if (e.code() == ReapiException.Code.NOT_FOUND) {
        // Evicted since the check: the client uploads it again.
        throw missingBlobs(List.of(Digests.text(d)));
      }
      throw e;
    }
  }
}
