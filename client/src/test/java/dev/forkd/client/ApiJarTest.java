package dev.forkd.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.Descriptors.Descriptor;
import com.google.protobuf.Descriptors.FileDescriptor;
import dev.forkd.api.v1.AdminProto;
import dev.forkd.api.v1.ExecRequest;
import dev.forkd.api.v1.FileStoreProto;
import dev.forkd.api.v1.SandboxProto;
import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Deque;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.jar.JarFile;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The API jar (forkd-proto) and everything a client depends on carry the API, not the daemon's
 * configuration schema (forkd.config.v1, module forkd-config-proto): a client built on forkd must
 * not see, nor be able to build against, DaemonConfig.
 */
class ApiJarTest {
  private static final ClassLoader LOADER = ApiJarTest.class.getClassLoader();

  /** Messages of the configuration schema, by simple name. */
  private static final Set<String> CONFIG_MESSAGES =
      Set.of(
          "DaemonConfig",
          "RemoteExecutionConfig",
          "TcpListenerConfig",
          "FileStoreConfig",
          "SeccompPolicy",
          "PoolConfig",
          "Profile",
          "SessionConfig");

  @Test
  void theClientsClassPathHasNoConfigurationClasses() throws IOException {
    // Precondition: the API is on this class path, classes and .proto sources alike, so that the
    // absences below are the absence of the schema and not of a class path to look in.
    assertNotNull(LOADER.getResource("dev/forkd/api/v1/ExecRequest.class"));
    assertNotNull(LOADER.getResource("forkd/v1/sandbox.proto"), "API .proto sources not found");

    for (String name :
        List.of("dev.forkd.config.v1.DaemonConfig", "dev.forkd.api.v1.DaemonConfig")) {
      assertThrows(ClassNotFoundException.class, () -> Class.forName(name, false, LOADER), name);
    }
    for (String resource :
        List.of(
            "dev/forkd/config",
            "forkd/config",
            "forkd/config/v1/config.proto",
            "forkd/v1/config.proto")) {
      assertFalse(LOADER.getResources(resource).hasMoreElements(), resource + " on the class path");
    }
  }

  @Test
  void theApisDescriptorsDeclareNoConfigurationMessage() {
    List<FileDescriptor> files = new ArrayList<>();
    Deque<FileDescriptor> todo =
        new ArrayDeque<>(
            List.of(
                SandboxProto.getDescriptor(),
                AdminProto.getDescriptor(),
                FileStoreProto.getDescriptor()));
    Set<String> seen = new HashSet<>();
    while (!todo.isEmpty()) {
      FileDescriptor f = todo.pop();
      if (seen.add(f.getName())) {
        files.add(f);
        todo.addAll(f.getDependencies());
      }
    }
    // Precondition: the walk reached the API's own messages.
    assertTrue(
        files.stream().anyMatch(f -> f.findMessageTypeByName("ExecRequest") != null),
        "ExecRequest not among " + seen);
    for (FileDescriptor f : files) {
      assertFalse(f.getPackage().startsWith("forkd.config"), f.getName());
      if (f.getPackage().equals("forkd.v1")) {
        for (Descriptor m : f.getMessageTypes()) {
          assertFalse(
              CONFIG_MESSAGES.contains(m.getName()), f.getName() + " declares " + m.getName());
        }
      }
    }
  }

  @Test
  void theApiJarHoldsNoConfigurationEntry() throws IOException, URISyntaxException {
    Path where =
        Path.of(ExecRequest.class.getProtectionDomain().getCodeSource().getLocation().toURI());
    List<String> entries = new ArrayList<>();
    if (Files.isDirectory(where)) {
      try (Stream<Path> s = Files.walk(where)) {
        s.filter(Files::isRegularFile).forEach(p -> entries.add(where.relativize(p).toString()));
      }
    } else {
      try (JarFile jar = new JarFile(where.toFile())) {
        Collections.list(jar.entries()).forEach(e -> entries.add(e.getName()));
      }
    }
    // Precondition: this is the API's jar (or class directory), with its classes and sources.
    assertTrue(
        entries.contains("dev/forkd/api/v1/ExecRequest.class"), where + ": " + entries.size());
    assertTrue(entries.contains("forkd/v1/sandbox.proto"), where + " has no .proto sources");
    List<String> config =
        entries.stream()
            .filter(
                e ->
                    e.startsWith("dev/forkd/config/")
                        || e.startsWith("forkd/config/")
                        || e.endsWith("config.proto")
                        || e.matches("dev/forkd/api/v1/(ConfigProto|DaemonConfig)\\b.*"))
            .toList();
    assertEquals(List.of(), config, "configuration schema in the API jar " + where);
  }
}
