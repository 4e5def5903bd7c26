package dev.forkd.daemon.exec;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.google.protobuf.ByteString;
import com.google.protobuf.Duration;
import dev.forkd.api.v1.ExecRequest;
import dev.forkd.api.v1.InputFile;
import dev.forkd.api.v1.Limits;
import dev.forkd.daemon.config.ConfigLoader;
import dev.forkd.daemon.config.Settings;
import dev.forkd.daemon.config.TestConfigs;
import dev.forkd.daemon.domain.InvalidRequestException;
import dev.forkd.daemon.domain.NotFoundException;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

class RequestValidatorTest {
  private final RequestValidator v;

  RequestValidatorTest() throws Exception {
    Settings s =
        Settings.resolve(
            ConfigLoader.defaults(),
            new Settings.Host(0, 0, 2, TestConfigs.zygoteBinary()),
            Path.of("/tmp/s.sock"),
            -1,
            (profile, policy) -> null);
    v = new RequestValidator(s.profiles(), 1024);
  }

  private static ExecRequest.Builder req(String... argv) {
    return ExecRequest.newBuilder().addAllArgv(List.of(argv));
  }

  private String invalid(ExecRequest.Builder r) {
    return assertThrows(InvalidRequestException.class, () -> v.validate(r.build())).getMessage();
  }

  @Test
  void defaultsFillWhatIsUnset() throws Exception {
    ExecSpec s = v.validate(req("/bin/true").setStdin(ByteString.copyFromUtf8("x")).build());
    assertEquals("default", s.profile().name());
    assertEquals(
        List.of("PATH=/usr/local/bin:/usr/bin:/bin", "HOME=/work", "LANG=C.UTF-8"), s.env());
    assertEquals(s.profile().defaults(), s.limits());
    assertArrayEquals(new byte[] {'x'}, s.stdin());
  }

  @Test
  void requestedLimitsWithinTheMaximumAreKept() throws Exception {
    ExecSpec s =
        v.validate(
            req("x")
                .setLimits(
                    Limits.newBuilder()
                        .setWallTime(Duration.newBuilder().setNanos(300_000_000))
                        .setMemoryBytes(64 << 20)
                        .setMaxOutputBytes(0))
                .build());
    assertEquals(300_000_000L, s.limits().wallNanos());
    assertEquals(64 << 20, s.limits().memoryBytes());
    assertEquals(0, s.limits().maxOutputBytes());
    assertEquals(s.profile().defaults().cpuNanos(), s.limits().cpuNanos());
  }

  @Test
  void badFieldsAreNamed() {
    assertEquals("argv: must not be empty", invalid(req()));
    assertEquals("argv[0]: must not be empty", invalid(req("")));
    assertEquals("argv[1]: contains a NUL byte at offset 1", invalid(req("echo", "a\0b")));
    assertEquals("env[0]: contains a NUL byte at offset 3", invalid(req("x").addEnv("A=b\0")));
    assertEquals("env[0]: must be KEY=VALUE with a non-empty KEY", invalid(req("x").addEnv("=v")));
    assertEquals("cwd: contains a NUL byte at offset 2", invalid(req("x").setCwd("/w\0")));
    assertEquals("cwd: must be an absolute path inside the sandbox", invalid(req("x").setCwd("w")));
    assertEquals(
        "stdin: 2000 bytes, more than the limit of 1024",
        invalid(req("x").setStdin(ByteString.copyFrom(new byte[2000]))));
    assertEquals(
        "limits.memory_bytes: 1125899906842624 exceeds the profile's maximum of 17179869184",
        invalid(req("x").setLimits(Limits.newBuilder().setMemoryBytes(1L << 50))));
    assertEquals(
        "limits.wall_time: must be positive (leave it unset for the default)",
        invalid(
            req("x").setLimits(Limits.newBuilder().setWallTime(Duration.getDefaultInstance()))));
    assertEquals(
        "limits.cpu_time: exceeds the profile's maximum of 3600000 ms",
        invalid(
            req("x")
                .setLimits(
                    Limits.newBuilder().setCpuTime(Duration.newBuilder().setSeconds(99999)))));
    assertEquals(
        "limits.max_open_files: 1 is below the minimum of 3",
        invalid(req("x").setLimits(Limits.newBuilder().setMaxOpenFiles(1))));
    assertEquals("argv[0]: 131072 bytes, more than 131071", invalid(req("a".repeat(131072))));
    String big = "a".repeat(100_000);
    assertEquals(
        "argv: argv and env together are 600000 bytes, more than 524288",
        invalid(req(big, big, big, big, big, big)));
  }

  @Test
  void unknownProfileIsNotFound() {
    NotFoundException e =
        assertThrows(
            NotFoundException.class, () -> v.validate(req("x").setProfile("nope\n").build()));
    assertEquals("profile 'nope?' not found", e.getMessage());
  }

  @Test
  void aSessionIdNamesNoOpenSession() {
    NotFoundException e =
        assertThrows(
            NotFoundException.class, () -> v.validate(req("x").setSessionId("s-1").build()));
    assertEquals("session 's-1' not found", e.getMessage());
  }

  @Test
  void filesAndCollectAreChecked() {
    assertEquals(
        "files[0]: needs content or file_id",
        invalid(req("x").addFiles(InputFile.newBuilder().setPath("a"))));
    assertEquals(
        "files[0].path: '../a' is not normalised (empty, '.' or '..' component)",
        invalid(
            req("x")
                .addFiles(
                    InputFile.newBuilder()
                        .setPath("../a")
                        .setContent(com.google.protobuf.ByteString.copyFromUtf8("x")))));
    assertEquals("collect[1]: is listed twice", invalid(req("x").addCollect("o").addCollect("o")));
    assertEquals(
        "collect[0]: '/etc/passwd' is absolute; paths are relative to the work dir",
        invalid(req("x").addCollect("/etc/passwd")));
  }

  @Test
  void utf8LengthCountsBytes() {
    assertEquals(1, RequestValidator.utf8Length("a"));
    assertEquals(2, RequestValidator.utf8Length("é"));
    assertEquals(3, RequestValidator.utf8Length("€"));
    assertEquals(4, RequestValidator.utf8Length("😀"));
  }

  @Test
  void outputBufferKeepsExactlyTheLimit() {
    OutputBuffer b = new OutputBuffer(5);
    assertEquals(true, b.append(new byte[] {1, 2, 3}, 0, 3));
    assertEquals(true, b.append(new byte[] {4, 5}, 0, 2));
    assertEquals(false, b.truncated());
    assertEquals(false, b.append(new byte[] {6}, 0, 1));
    assertArrayEquals(new byte[] {1, 2, 3, 4, 5}, b.bytes());
    OutputBuffer zero = new OutputBuffer(0);
    assertEquals(false, zero.append(new byte[] {1}, 0, 1));
    assertEquals(0, zero.bytes().length);
  }
}
