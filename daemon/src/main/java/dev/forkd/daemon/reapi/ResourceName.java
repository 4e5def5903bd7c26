package dev.forkd.daemon.reapi;

import build.bazel.remote.execution.v2.Digest;

/**
 * ByteStream resource names of the API: {@code [INSTANCE/]blobs/HASH/SIZE[/...]} to read and {@code
 * [INSTANCE/]uploads/UUID/blobs/HASH/SIZE[/...]} to write (the upload part may be left out). The
 * instance name is everything before; it may have several segments but none of the API's reserved
 * words.
 */
public record ResourceName(String instance, String upload, Digest digest) {

  public static ResourceName parse(String name, boolean write) throws ReapiException {
    if (name.isEmpty()) {
      throw ReapiException.invalid("resource_name: empty");
    }
    String[] s = name.split("/", -1);
    for (int i = 0; i < s.length; i++) {
      if (s[i].equals("compressed-blobs")) {
        throw ReapiException.invalid(
            "resource_name: compressed blobs are not supported (no compressor is announced)");
      }
      if (!s[i].equals("blobs") || i + 2 >= s.length) {
        continue;
      }
      int start = i;
      String upload = "";
      if (i >= 2 && s[i - 2].equals("uploads")) {
        upload = s[i - 1];
        start = i - 2;
        if (!write) {
          throw ReapiException.invalid(
              "resource_name: '" + Digests.shown(name) + "' names an upload");
        }
      }
      long size;
      try {
        size = Long.parseLong(s[i + 2]);
      } catch (NumberFormatException e) {
        throw ReapiException.invalid(
            "resource_name: '" + Digests.shown(s[i + 2]) + "' is not a size in bytes");
      }
      Digest d = Digest.newBuilder().setHash(s[i + 1]).setSizeBytes(size).build();
      Digests.check(d, "resource_name");
      String instance = String.join("/", java.util.Arrays.copyOfRange(s, 0, start));
      return new ResourceName(instance, upload, d);
    }
    throw ReapiException.invalid(
        "resource_name: '"
            + Digests.shown(name)
            + "' is not "
            + (write ? "[instance/]uploads/UUID/blobs/HASH/SIZE" : "[instance/]blobs/HASH/SIZE"));
  }
}
