package dev.forkd.daemon.reapi;

import build.bazel.remote.execution.v2.ActionResult;
import build.bazel.remote.execution.v2.Digest;
import build.bazel.remote.execution.v2.Directory;
import build.bazel.remote.execution.v2.FileNode;
import build.bazel.remote.execution.v2.OutputDirectory;
import build.bazel.remote.execution.v2.OutputFile;
import build.bazel.remote.execution.v2.Tree;
import com.google.errorprone.annotations.concurrent.GuardedBy;
import com.google.protobuf.InvalidProtocolBufferException;
import dev.forkd.daemon.files.Caller;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Action results by action digest, per caller identity and instance name, at most {@code
 * maxEntries} (the least recently used go). A result is served only while every blob it names is
 * still in the CAS for that caller; a lookup marks those blobs used, so they stay at least as long
 * as the result does, and a result whose blob was evicted anyway is dropped (a miss: the action
 * runs again) rather than served broken.
 */
public final class ActionCache {
  private final int maxEntries;
  private final Cas cas;
  private final Object lock = new Object();

  /** Least recently used first; evicted beyond {@link #maxEntries}. */
  @GuardedBy("lock")
  private final Map<String, ActionResult> entries;

  public ActionCache(int maxEntries, Cas cas) {
    this.maxEntries = maxEntries;
    this.cas = cas;
    this.entries =
        new LinkedHashMap<>(16, 0.75f, true) {
          private static final long serialVersionUID = 1L;

          @Override
          protected boolean removeEldestEntry(Map.Entry<String, ActionResult> e) {
            return size() > ActionCache.this.maxEntries;
          }
        };
  }

  private static String key(Caller who, String instance, Digest action) {
    return who.identity() + "\0" + instance + "\0" + Digests.text(action);
  }

  /** The cached result, or null. */
  public ActionResult get(Caller who, String instance, Digest action) {
    String k = key(who, instance, action);
    ActionResult r;
    synchronized (lock) {
      r = entries.get(k);
    }
    if (r == null) {
      return null;
    }
    if (!complete(who, r)) {
      synchronized (lock) {
        entries.remove(k, r);
      }
      return null;
    }
    return r;
  }

  public void put(Caller who, String instance, Digest action, ActionResult r) {
    synchronized (lock) {
      entries.put(key(who, instance, action), r);
    }
  }

  public int size() {
    synchronized (lock) {
      return entries.size();
    }
  }

  /** Whether every blob {@code r} names is present (and so marked used). */
  public boolean complete(Caller who, ActionResult r) {
    List<Digest> need = new ArrayList<>();
    for (OutputFile f : r.getOutputFilesList()) {
      need.add(f.getDigest());
    }
    if (r.hasStdoutDigest()) {
      need.add(r.getStdoutDigest());
    }
    if (r.hasStderrDigest()) {
      need.add(r.getStderrDigest());
    }
    for (OutputDirectory d : r.getOutputDirectoriesList()) {
      if (!cas.has(who, d.getTreeDigest())) {
        return false;
      }
      try {
        Tree t = Tree.parseFrom(cas.read(who, d.getTreeDigest()));
        addFiles(t.getRoot(), need);
        for (Directory c : t.getChildrenList()) {
          addFiles(c, need);
        }
      } catch (InvalidProtocolBufferException | ReapiException e) {
        return false;
      }
    }
    for (Digest d : need) {
      if (!cas.has(who, d)) {
        return false;
      }
    }
    return true;
  }

  private static void addFiles(Directory d, List<Digest> need) {
    for (FileNode f : d.getFilesList()) {
      need.add(f.getDigest());
    }
  }
}
