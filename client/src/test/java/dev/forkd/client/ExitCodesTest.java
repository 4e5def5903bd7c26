package dev.forkd.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import dev.forkd.api.v1.ExecResult;
import dev.forkd.api.v1.Status;
import io.grpc.StatusRuntimeException;
import org.junit.jupiter.api.Test;

class ExitCodesTest {
  private static ExecResult result(Status s) {
    return ExecResult.newBuilder().setStatus(s).setMessage("why").build();
  }

  @Test
  void anExitedCommandGivesItsOwnCodeAndNoReason() {
    ExecResult r = ExecResult.newBuilder().setStatus(Status.STATUS_EXITED).setExitCode(7).build();
    assertEquals(7, ExitCodes.of(r));
    assertNull(ExitCodes.reason(r));
    assertEquals(0, ExitCodes.of(r.toBuilder().setExitCode(0).build()));
  }

  @Test
  void aSignalIs128PlusItsNumber() {
    ExecResult r = ExecResult.newBuilder().setStatus(Status.STATUS_SIGNALED).setSignal(9).build();
    assertEquals(137, ExitCodes.of(r));
    assertNull(ExitCodes.reason(r));
  }

  @Test
  void eachLimitHasItsCodeAndTheDaemonsMessageAsTheReason() {
    assertEquals(127, ExitCodes.of(result(Status.STATUS_EXEC_FAILED)));
    assertEquals(124, ExitCodes.of(result(Status.STATUS_WALL_TIME_LIMIT_EXCEEDED)));
    assertEquals(124, ExitCodes.of(result(Status.STATUS_CPU_TIME_LIMIT_EXCEEDED)));
    assertEquals(123, ExitCodes.of(result(Status.STATUS_MEMORY_LIMIT_EXCEEDED)));
    assertEquals(122, ExitCodes.of(result(Status.STATUS_OUTPUT_LIMIT_EXCEEDED)));
    for (Status s :
        new Status[] {
          Status.STATUS_EXEC_FAILED,
          Status.STATUS_WALL_TIME_LIMIT_EXCEEDED,
          Status.STATUS_CPU_TIME_LIMIT_EXCEEDED,
          Status.STATUS_MEMORY_LIMIT_EXCEEDED,
          Status.STATUS_OUTPUT_LIMIT_EXCEEDED
        }) {
      assertEquals("why", ExitCodes.reason(result(s)), s.toString());
    }
  }

  @Test
  void aStatusWithNoMeaningHereIsForkctlsOwnFailureNamingIt() {
    ExecResult unset = result(Status.STATUS_UNSPECIFIED);
    assertEquals(125, ExitCodes.of(unset));
    assertEquals("unexpected result status STATUS_UNSPECIFIED", ExitCodes.reason(unset));
    // a status from a newer daemon that this client does not know
    ExecResult future = ExecResult.newBuilder().setStatusValue(99).build();
    assertEquals(125, ExitCodes.of(future));
    assertEquals("unexpected result status UNRECOGNIZED", ExitCodes.reason(future));
  }

  @Test
  void anUnreachableDaemonIsSaidSo() {
    ForkdException down =
        ForkdException.of(
            new StatusRuntimeException(io.grpc.Status.UNAVAILABLE.withDescription("io exception")));
    assertEquals("cannot reach the daemon: io exception", ExitCodes.describe(down));
    ForkdException refused =
        ForkdException.of(
            new StatusRuntimeException(io.grpc.Status.NOT_FOUND.withDescription("no profile x")));
    assertEquals("NOT_FOUND: no profile x", ExitCodes.describe(refused));
  }
}
