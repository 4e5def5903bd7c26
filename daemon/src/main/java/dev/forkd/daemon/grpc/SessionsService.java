package dev.forkd.daemon.grpc;

import dev.forkd.api.v1.CloseSessionRequest;
import dev.forkd.api.v1.CloseSessionResponse;
import dev.forkd.api.v1.ListSessionsRequest;
import dev.forkd.api.v1.ListSessionsResponse;
import dev.forkd.api.v1.OpenSessionRequest;
import dev.forkd.api.v1.Session;
import dev.forkd.api.v1.SessionsGrpc;
import dev.forkd.daemon.files.Caller;
import dev.forkd.daemon.session.SessionInfo;
import dev.forkd.daemon.session.SessionManager;
import io.grpc.Context;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.RejectedExecutionException;

/** Thin gRPC face of {@link SessionManager}: protobuf in, protobuf or a status out. */
final class SessionsService extends SessionsGrpc.SessionsImplBase {
  private final SessionManager sessions;
  private final ExecutorService runs;

  /**
   * @param runs where OpenSession waits for a zygote and seeds it (as an Exec waits for one)
   */
  SessionsService(SessionManager sessions, ExecutorService runs) {
    this.sessions = sessions;
    this.runs = runs;
  }

  @Override
  public void openSession(OpenSessionRequest request, StreamObserver<Session> observer) {
    ServerCallStreamObserver<Session> call = (ServerCallStreamObserver<Session>) observer;
    Caller caller = CallerInterceptor.current();
    Context context = Context.current();
    try {
      runs.execute(
          context.wrap(
              () -> {
                try {
                  SessionInfo s = sessions.open(request, caller);
                  if (call.isCancelled()) {
                    // Nobody learns its id: it must not stay open until its idle timeout.
                    sessions.close(s.id(), caller);
                    return;
                  }
                  call.onNext(toProto(s));
                  call.onCompleted();
                } catch (Exception | Error e) {
                  if (!call.isCancelled()) {
                    call.onError(StatusMapping.of(e).asRuntimeException());
                  }
                }
              }));
    } catch (RejectedExecutionException e) {
      call.onError(
          (runs.isShutdown()
                  ? io.grpc.Status.UNAVAILABLE.withDescription("the daemon is shutting down")
                  : io.grpc.Status.RESOURCE_EXHAUSTED.withDescription(
                      "too many calls in flight; try again later"))
              .asRuntimeException());
    }
  }

  @Override
  public void closeSession(
      CloseSessionRequest request, StreamObserver<CloseSessionResponse> observer) {
    try {
      sessions.close(request.getSessionId(), CallerInterceptor.current());
      observer.onNext(CloseSessionResponse.getDefaultInstance());
      observer.onCompleted();
    } catch (Exception e) {
      observer.onError(StatusMapping.of(e).asRuntimeException());
    }
  }

  @Override
  public void listSessions(
      ListSessionsRequest request, StreamObserver<ListSessionsResponse> observer) {
    ListSessionsResponse.Builder b = ListSessionsResponse.newBuilder();
    for (SessionInfo s : sessions.list(CallerInterceptor.current())) {
      b.addSessions(toProto(s));
    }
    observer.onNext(b.build());
    observer.onCompleted();
  }

  private static Session toProto(SessionInfo s) {
    return Session.newBuilder().setSessionId(s.id()).setProfile(s.profile()).build();
  }
}
