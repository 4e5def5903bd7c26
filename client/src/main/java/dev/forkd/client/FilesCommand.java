package dev.forkd.client;

import dev.forkd.api.v1.FileInfo;
import dev.forkd.api.v1.FileRef;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;

/** {@code forkctl files put FILE | get ID [OUT] | ls | rm ID}: the daemon's file cache. */
final class FilesCommand extends Subcommands {
  static final String USAGE =
      "usage: forkctl files put FILE | get ID [OUT] | ls | rm ID\n"
          + "  the daemon's content-addressed file cache: ids are sha256:<hex>";

  FilesCommand() {
    super(USAGE);
  }

  @Override
  int run(Cli cli, String sub, Args a) throws IOException {
    try (ForkdClient client = cli.connect()) {
      switch (sub) {
        case "put" -> {
          Path p = Path.of(a.value("put"));
          try (InputStream in = Files.newInputStream(p)) {
            FileRef ref = client.putFile(in, Files.size(p));
            cli.out.println(ref.getFileId() + " " + ref.getSize());
          }
        }
        case "get" -> {
          String id = a.value("get");
          String to = a.next();
          if (to != null) {
            try (OutputStream o = Files.newOutputStream(Path.of(to))) {
              client.getFile(id, o);
            }
          } else {
            client.getFile(id, cli.out);
            cli.out.flush();
          }
        }
        case "ls" -> {
          for (FileInfo f : client.listFiles()) {
            cli.out.println(f.getFileId() + " " + f.getSize());
          }
        }
        case "rm" -> {
          String id = a.value("rm");
          if (!client.deleteFile(id)) {
            cli.err.println("forkctl: no such file: " + id);
            return 1;
          }
        }
        default -> throw new IllegalArgumentException("files: unknown command '" + sub + "'");
      }
    }
    return 0;
  }
}
