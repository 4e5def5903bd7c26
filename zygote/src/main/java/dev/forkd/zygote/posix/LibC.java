package dev.forkd.zygote.posix;

import jnr.ffi.Pointer;
import jnr.ffi.annotations.In;
import jnr.ffi.annotations.Out;
import jnr.ffi.annotations.SaveError;

/**
 * The few libc calls the daemon needs that the JDK does not offer: Unix sockets with fd passing,
 * pipes, poll and eventfd. Every call saves errno; read it with {@link Posix#errno()}.
 */
public interface LibC {
  @SaveError
  int socket(int domain, int type, int protocol);

  @SaveError
  int bind(int fd, @In Pointer addr, int addrlen);

  @SaveError
  int listen(int fd, int backlog);

  @SaveError
  int accept4(int fd, Pointer addr, Pointer addrlen, int flags);

  @SaveError
  int getsockopt(int fd, int level, int optname, @Out Pointer optval, Pointer optlen);

  @SaveError
  int setsockopt(int fd, int level, int optname, @In Pointer optval, int optlen);

  @SaveError
  long sendmsg(int fd, @In Pointer msg, int flags);

  @SaveError
  long recvmsg(int fd, Pointer msg, int flags);

  @SaveError
  long read(int fd, Pointer buf, long count);

  @SaveError
  long write(int fd, @In Pointer buf, long count);

  @SaveError
  int pipe2(@Out int[] fds, int flags);

  @SaveError
  int close(int fd);

  @SaveError
  int poll(Pointer fds, long nfds, int timeoutMillis);

  @SaveError
  int eventfd(int initval, int flags);

  @SaveError
  int fcntl(int fd, int cmd, int arg);

  @SaveError
  int unlink(String path);

  @SaveError
  int memfd_create(String name, int flags);

  @SaveError
  int open(String path, int flags, int mode);

  int geteuid();

  int getegid();

  String strerror(int errnum);
}
