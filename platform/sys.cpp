#include "sys.hpp"

#include <cerrno>
#include <cstring>
#include <cstdio>
#include <fcntl.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

namespace fanout::sys {

// Named as strace shows them on Linux/x86_64 with glibc 2.36: send() and
// recv() are sendto/recvfrom, fork() is clone, pthread_create() is clone3
// (clone on kernels before 5.3), fstatat() is newfstatat.
static const char* const kNames[NCALLS] = {
  "socket", "connect", "setsockopt", "getsockopt", "sendto", "sendmsg",
  "recvfrom", "recvfrom", "read", "write", "close", "poll", "pipe2", "clone",
  "wait4", "clone3", "epoll_wait", "epoll_ctl", "kevent", "accept4", "openat",
  "epoll_pwait2", "epoll_create1", "mkdirat", "renameat", "unlinkat", "newfstatat",
  "linkat", "io_uring_setup", "io_uring_enter", "io_uring_register", "futex",
};

const char* op_name(int op) {
  static const char* const k[NOPS] = {"connect", "send", "recv", "close", "timeout", "poll", "cancel", "completions"};
  return op >= 0 && op < NOPS ? k[op] : "?";
}

// Where the other targets' glibc 2.36 makes another call (seen with
// qemu-user's -strace on each): arm64 has no poll, epoll_wait or renameat;
// 32-bit ARM and MIPS have send and recv of their own, and stat with 64-bit
// times through statx.
const char* call_name(int call, Arch arch) {
  if (call < 0 || call >= NCALLS) return "?";
  if (arch == Arch::arm64) {
    if (call == POLL) return "ppoll";
    if (call == EPOLL_WAIT) return "epoll_pwait";
    if (call == RENAMEAT) return "renameat2";
  } else if (arch == Arch::armhf || arch == Arch::mipsel) {
    if (call == SEND) return "send";
    if (call == RECV) return "recv";
    if (call == FSTATAT) return "statx";
  }
  return kNames[call];
}

const char* call_name(int call) { return call_name(call, kArch); }

const char* wait_name(int w) {
  static const char* const k[NWAITS] = {"lock_waits", "cond_waits", "futex_wakes", "pipe_calls", "pipe_bytes"};
  return w >= 0 && w < NWAITS ? k[w] : "?";
}

Counters& counters() {
  static thread_local Counters c;
  return c;
}

#define COUNT(c) (++counters().n[c])

int socket(int d, int t, int p) { COUNT(SOCKET); return ::socket(d, t, p); }
int connect(int fd, const sockaddr* sa, socklen_t l) { COUNT(CONNECT); return ::connect(fd, sa, l); }
int setsockopt(int fd, int lv, int nm, const void* v, socklen_t l) { COUNT(SETSOCKOPT); return ::setsockopt(fd, lv, nm, v, l); }
int getsockopt(int fd, int lv, int nm, void* v, socklen_t* l) { COUNT(GETSOCKOPT); return ::getsockopt(fd, lv, nm, v, l); }
ssize_t send(int fd, const void* p, size_t n, int f) { COUNT(SEND); return ::send(fd, p, n, f); }
ssize_t sendmsg(int fd, const msghdr* m, int f) { COUNT(SENDMSG); return ::sendmsg(fd, m, f); }
ssize_t recv(int fd, void* p, size_t n, int f) { COUNT(RECV); return ::recv(fd, p, n, f); }
ssize_t recvfrom(int fd, void* p, size_t n, int f, sockaddr* sa, socklen_t* l) { COUNT(RECVFROM); return ::recvfrom(fd, p, n, f, sa, l); }
ssize_t read(int fd, void* p, size_t n) { COUNT(READ); return ::read(fd, p, n); }
ssize_t write(int fd, const void* p, size_t n) { COUNT(WRITE); return ::write(fd, p, n); }
int close(int fd) { COUNT(CLOSE); return ::close(fd); }
int open(const char* path, int flags) { COUNT(OPENAT); return ::open(path, flags); }
int openat(int dir, const char* path, int flags, int mode) { COUNT(OPENAT); return ::openat(dir, path, flags, mode); }
int fstatat(int dir, const char* path, struct stat* st, int flags) { COUNT(FSTATAT); return ::fstatat(dir, path, st, flags); }
int mkdirat(int dir, const char* path, int mode) { COUNT(MKDIRAT); return ::mkdirat(dir, path, mode_t(mode)); }
int renameat(int fd, const char* from, int to_fd, const char* to) { COUNT(RENAMEAT); return ::renameat(fd, from, to_fd, to); }
int unlinkat(int dir, const char* path) { COUNT(UNLINKAT); return ::unlinkat(dir, path, 0); }
int linkat(int fd, const char* from, int to_fd, const char* to, int flags) { COUNT(LINKAT); return ::linkat(fd, from, to_fd, to, flags); }
int poll(pollfd* fds, nfds_t n, int ms) { COUNT(POLL); return ::poll(fds, n, ms); }
int pipe(int fds[2], int flags) { COUNT(PIPE); return ::pipe2(fds, O_CLOEXEC | flags); }
pid_t fork() { COUNT(FORK); return ::fork(); }
pid_t waitpid(pid_t pid, int* st, int f) { COUNT(WAITPID); return ::waitpid(pid, st, f); }

// Writes all of p with `put` (write or pipe_write), retrying EINTR and short writes.
template <class Put>
static bool put_all(Put put, int fd, const void* p, size_t n) {
  auto* c = static_cast<const char*>(p);
  while (n > 0) {
    ssize_t w = put(fd, c, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    c += w;
    n -= size_t(w);
  }
  return true;
}

bool write_all(int fd, const void* p, size_t n) { return put_all(write, fd, p, n); }

ssize_t pipe_read(int fd, void* p, size_t n) {
  ssize_t r = read(fd, p, n);
  count(PIPE_CALLS);
  if (r > 0) count(PIPE_BYTES, uint64_t(r));
  return r;
}

ssize_t pipe_write(int fd, const void* p, size_t n) {
  ssize_t w = write(fd, p, n);
  count(PIPE_CALLS);
  if (w > 0) count(PIPE_BYTES, uint64_t(w));
  return w;
}

bool pipe_write_all(int fd, const void* p, size_t n) { return put_all(pipe_write, fd, p, n); }

// futex(2), counted. until_ns: an absolute CLOCK_MONOTONIC time (< 0: none).
static long futex_wait(std::atomic<uint32_t>* w, uint32_t expect, int64_t until_ns) {
  COUNT(FUTEX);
  timespec ts{time_t(until_ns / 1000000000), long(until_ns % 1000000000)};
  return syscall(SYS_futex, reinterpret_cast<uint32_t*>(w), FUTEX_WAIT_BITSET_PRIVATE, expect,
                 until_ns < 0 ? nullptr : &ts, nullptr, FUTEX_BITSET_MATCH_ANY);
}

static void futex_wake(std::atomic<uint32_t>* w, int n) {
  COUNT(FUTEX);
  count(WAKES);
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(w), FUTEX_WAKE_PRIVATE, n, nullptr, nullptr, 0);
}

// Marks the lock "held, with a sleeper" and sleeps until it is free.
void Lock::sleep(uint32_t c) {
  count(LOCK_WAITS);
  if (c != 2) c = w_.exchange(2, std::memory_order_acquire);
  while (c != 0) {
    futex_wait(&w_, 2, -1);
    c = w_.exchange(2, std::memory_order_acquire);
  }
}

void Lock::wake() { futex_wake(&w_, 1); }

bool Cond::wait(Lock& l, int64_t until_ns) {
  count(COND_WAITS);
  waiters_.fetch_add(1);
  uint32_t seq = seq_.load();
  l.unlock();
  long r = futex_wait(&seq_, seq, until_ns);
  int err = r < 0 ? errno : 0;
  waiters_.fetch_sub(1);
  l.lock();
  return err != ETIMEDOUT;
}

void Cond::notify(int n) {
  seq_.fetch_add(1);
  if (waiters_.load() > 0) futex_wake(&seq_, n);
}

bool Event::wait(int64_t until_ns) {
  for (;;) {
    uint32_t c = 0;
    if (s_.compare_exchange_strong(c, 2, std::memory_order_acquire) || c == 2) {  // not yet: sleep
      slept_ = true;
      bool late = futex_wait(&s_, 2, until_ns) < 0 && errno == ETIMEDOUT;
      if (late && s_.load(std::memory_order_acquire) != 1) return false;
      continue;
    }
    if (slept_) {  // the setter saw 2 and woke us: its call, counted here
      count(FUTEX);
      count(WAKES);
      slept_ = false;
    }
    return true;
  }
}

void Event::wake() { syscall(SYS_futex, reinterpret_cast<uint32_t*>(&s_), FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0); }

const char* errno_name(int e) {
  switch (e) {
#define E(x) case x: return #x;
    E(EPERM) E(ENOENT) E(EINTR) E(EIO) E(EBADF) E(EAGAIN) E(ENOMEM) E(EACCES)
    E(EFAULT) E(EBUSY) E(EEXIST) E(EINVAL) E(ENFILE) E(EMFILE) E(ENOSPC)
    E(EPIPE) E(ERANGE) E(ENOTSOCK) E(EMSGSIZE) E(EPROTOTYPE) E(EAFNOSUPPORT)
    E(EADDRINUSE) E(EADDRNOTAVAIL) E(ENETDOWN) E(ENETUNREACH) E(ECONNABORTED)
    E(ECONNRESET) E(ENOBUFS) E(EISCONN) E(ENOTCONN) E(ETIMEDOUT)
    E(ECONNREFUSED) E(EHOSTDOWN) E(EHOSTUNREACH) E(EALREADY) E(EINPROGRESS)
    E(ENOTDIR) E(EISDIR) E(EROFS) E(ELOOP) E(ENAMETOOLONG) E(EDQUOT) E(EFBIG) E(EXDEV)
    E(ENOSYS)
#undef E
    default: {
      static thread_local char buf[16];
      snprintf(buf, sizeof buf, "E%d", e);
      return buf;
    }
  }
}

std::string describe(const std::string& call, int err) {
  return call + ": " + errno_name(err) + " (" + strerror(err) + ")";
}

}  // namespace fanout::sys

#include <csignal>
namespace fanout::sys {

int thread_create(pthread_t* t, const pthread_attr_t* a, void* (*fn)(void*), void* arg) {
  COUNT(CLONE);
  return pthread_create(t, a, fn, arg);
}

std::string wait_status(int st) {
  if (WIFSIGNALED(st))
    return "killed by signal " + std::to_string(WTERMSIG(st)) + " (" + signal_name(WTERMSIG(st)) + ")";
  return "exited with status " + std::to_string(WEXITSTATUS(st));
}

const char* signal_name(int sig) {
  switch (sig) {
#define S(x) case x: return #x;
    S(SIGHUP) S(SIGINT) S(SIGQUIT) S(SIGILL) S(SIGTRAP) S(SIGABRT) S(SIGBUS) S(SIGFPE)
    S(SIGKILL) S(SIGUSR1) S(SIGSEGV) S(SIGUSR2) S(SIGPIPE) S(SIGALRM) S(SIGTERM)
#undef S
    default: return "signal";
  }
}

}  // namespace fanout::sys
