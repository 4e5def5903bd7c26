package dev.forkd.daemon.reapi;

import build.bazel.remote.execution.v2.ActionResult;
import build.bazel.remote.execution.v2.OutputFile;
import com.google.protobuf.ByteString;
import dev.forkd.daemon.files.Caller;
import java.util.List;

/**
 * Inlining of small outputs into an ActionResult, where a client asks for it: the cached and stored
 * form never holds inline bytes, each answer adds them anew (best effort: a blob that cannot be
 * read stays a digest only, which the API allows).
 */
public final class Inline {
  private Inline() {}

  public static ActionResult apply(
      Cas cas,
      Caller who,
      ActionResult r,
      boolean stdout,
      boolean stderr,
      List<String> files,
      long max) {
    if (!stdout && !stderr && files.isEmpty()) {
      return r;
    }
    ActionResult.Builder b = r.toBuilder();
    long budget = max;
    if (stdout && r.hasStdoutDigest() && r.getStdoutDigest().getSizeBytes() <= budget) {
      byte[] d = read(cas, who, r.getStdoutDigest());
      if (d != null) {
        b.setStdoutRaw(ByteString.copyFrom(d));
        budget -= d.length;
      }
    }
    if (stderr && r.hasStderrDigest() && r.getStderrDigest().getSizeBytes() <= budget) {
      byte[] d = read(cas, who, r.getStderrDigest());
      if (d != null) {
        b.setStderrRaw(ByteString.copyFrom(d));
        budget -= d.length;
      }
    }
    for (int i = 0; i < b.getOutputFilesCount(); i++) {
      OutputFile f = b.getOutputFiles(i);
      if (files.contains(f.getPath()) && f.getDigest().getSizeBytes() <= budget) {
        byte[] d = read(cas, who, f.getDigest());
        if (d != null) {
          b.setOutputFiles(i, f.toBuilder().setContents(ByteString.copyFrom(d)));
          budget -= d.length;
        }
      }
    }
    return b.build();
  }

  private static byte[] read(Cas cas, Caller who, build.bazel.remote.execution.v2.Digest d) {
    try {
      return cas.read(who, d);
    } catch (ReapiException e) {
      return null;
    }
  }
}
