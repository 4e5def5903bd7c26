package dev.forkd.daemon.reapi;

import build.bazel.remote.execution.v2.Digest;
import com.google.protobuf.ByteString;
import com.google.protobuf.Message;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/** SHA-256 digests of the API: checked, computed, and mapped to FileStore ids. */
public final class Digests {
  /** The digest of no bytes: present in every CAS without being stored. */
  public static final Digest EMPTY = of(ByteString.EMPTY);

  private Digests() {}

  public static Digest of(ByteString data) {
    return Digest.newBuilder()
        .setHash(HexFormat.of().formatHex(sha256().digest(data.toByteArray())))
        .setSizeBytes(data.size())
        .build();
  }

  public static Digest of(byte[] data) {
    return Digest.newBuilder()
        .setHash(HexFormat.of().formatHex(sha256().digest(data)))
        .setSizeBytes(data.length)
        .build();
  }

  public static Digest of(Message m) {
    return of(m.toByteString());
  }

  static MessageDigest sha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  /** INVALID_ARGUMENT unless {@code d} is a SHA-256 digest: 64 lowercase hex digits, size >= 0. */
  public static void check(Digest d, String field) throws ReapiException {
    String h = d.getHash();
    if (h.length() != 64
        || !h.chars().allMatch(c -> (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
      throw ReapiException.invalid(
          field + ": '" + shown(h) + "' is not a SHA-256 hash (64 lowercase hex digits)");
    }
    if (d.getSizeBytes() < 0) {
      throw ReapiException.invalid(field + ": size_bytes " + d.getSizeBytes() + " is negative");
    }
  }

  public static boolean isEmpty(Digest d) {
    return d.getSizeBytes() == 0 && d.getHash().equals(EMPTY.getHash());
  }

  /** The FileStore id of the content of {@code d}. */
  static String fileId(Digest d) {
    return "sha256:" + d.getHash();
  }

  /** {@code HASH/SIZE}, as in resource names and precondition subjects. */
  public static String text(Digest d) {
    return d.getHash() + "/" + d.getSizeBytes();
  }

  static String shown(String s) {
    String t = s.length() > 80 ? s.substring(0, 80) + "..." : s;
    return t.replaceAll("[^\\x20-\\x7e]", "?");
  }
}
