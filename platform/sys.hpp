// Thin syscall wrappers. Each one counts its calls in the calling thread's
// counter block, so a worker can report "syscalls per request by name" and
// the numbers can be checked against `strace -c -f`. Nothing here retries or
// hides an error: EINTR and EAGAIN come back to the caller as -1/errno.
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>

namespace fanout::sys {

enum Call : int {
  SOCKET, CONNECT, SETSOCKOPT, GETSOCKOPT, SEND, SENDMSG, RECV, RECVFROM,
  READ, WRITE, CLOSE, POLL, PIPE, FORK, WAITPID, CLONE, EPOLL_WAIT, EPOLL_CTL, KEVENT,
  ACCEPT, OPENAT, EPOLL_PWAIT2, EPOLL_CREATE, MKDIRAT, RENAMEAT, UNLINKAT, FSTATAT, LINKAT,
  IO_URING_SETUP, IO_URING_ENTER, IO_URING_REGISTER, FUTEX, NCALLS
};
// Operations submitted on an io_uring ring (no system call each: they go
// in batches with io_uring_enter), and the completions that came back.
enum RingOp : int { OP_CONNECT, OP_SEND, OP_RECV, OP_CLOSE, OP_TIMEOUT, OP_POLL, OP_CANCEL, OP_COMPLETIONS, NOPS };
const char* op_name(int op);  // "connect", ..., "completions"
// What threads and processes pay to wait for each other (each sleep and
// wake-up is a futex call, counted under FUTEX too): a Lock taken only after
// sleeping for it, a Cond waited on, a futex wake-up; and the calls and
// bytes of the pipes between a parent and its workers (procs, hybrid).
enum Wait : int { LOCK_WAITS, COND_WAITS, WAKES, PIPE_CALLS, PIPE_BYTES, NWAITS };
const char* wait_name(int w);  // "lock_waits", ...
// The targets whose syscall names fanout knows: each call is named as
// strace shows it there (others get x86_64's names).
enum class Arch { x86_64, arm64, armhf, mipsel };
#if defined(__aarch64__)
constexpr Arch kArch = Arch::arm64;
#elif defined(__arm__)
constexpr Arch kArch = Arch::armhf;
#elif defined(__mips__)
constexpr Arch kArch = Arch::mipsel;
#else
constexpr Arch kArch = Arch::x86_64;
#endif
const char* call_name(int call, Arch arch);
const char* call_name(int call);  // this build's

// One block per thread. A worker reads its own block when it finishes.
struct Counters {
  uint64_t n[NCALLS] = {};
  uint64_t ops[NOPS] = {};
  uint64_t waits[NWAITS] = {};
};
Counters& counters();
inline void count(Call c) { ++counters().n[c]; }
inline void count(RingOp o) { ++counters().ops[o]; }
inline void count(Wait w, uint64_t n = 1) { counters().waits[w] += n; }

int socket(int domain, int type, int proto);
int connect(int fd, const sockaddr* sa, socklen_t len);
int setsockopt(int fd, int level, int name, const void* val, socklen_t len);
int getsockopt(int fd, int level, int name, void* val, socklen_t* len);
ssize_t send(int fd, const void* p, size_t n, int flags);
ssize_t sendmsg(int fd, const msghdr* m, int flags);
ssize_t recv(int fd, void* p, size_t n, int flags);
ssize_t recvfrom(int fd, void* p, size_t n, int flags, sockaddr* sa, socklen_t* len);
ssize_t read(int fd, void* p, size_t n);
ssize_t write(int fd, const void* p, size_t n);
int close(int fd);
int open(const char* path, int flags);
int openat(int dir, const char* path, int flags, int mode = 0);
int fstatat(int dir, const char* path, struct stat* st, int flags);
int mkdirat(int dir, const char* path, int mode);
int renameat(int from_dir, const char* from, int to_dir, const char* to);
int unlinkat(int dir, const char* path);
int linkat(int from_dir, const char* from, int to_dir, const char* to, int flags);
int poll(pollfd* fds, nfds_t n, int timeout_ms);
int pipe(int fds[2], int flags = 0);  // pipe2(O_CLOEXEC | flags)
pid_t fork();
pid_t waitpid(pid_t pid, int* status, int flags);

// Write all of p, retrying EINTR and short writes.
bool write_all(int fd, const void* p, size_t n);
// The same on a pipe between a parent and its workers, counted as such too.
ssize_t pipe_read(int fd, void* p, size_t n);
ssize_t pipe_write(int fd, const void* p, size_t n);
bool pipe_write_all(int fd, const void* p, size_t n);

// "ECONNREFUSED" for ECONNREFUSED; "E<n>" for the ones we do not know.
const char* errno_name(int err);
// strace style: "connect(127.0.0.1:80): ECONNREFUSED (Connection refused)".
std::string describe(const std::string& call, int err);

// A lock and a condition variable of our own on the futex call (Drepper,
// "Futexes Are Tricky", mutex 3), so that what fanout's threads pay to wait
// for each other is counted like every other call: a Lock costs nothing
// while nobody else holds it, a sleep and a wake-up when somebody does.
// Threads of one process only (private futexes).
class Lock {
 public:
  void lock() {
    uint32_t c = 0;
    if (!w_.compare_exchange_strong(c, 1, std::memory_order_acquire)) sleep(c);
  }
  bool try_lock() {
    uint32_t c = 0;
    return w_.compare_exchange_strong(c, 1, std::memory_order_acquire);
  }
  void unlock() {
    if (w_.exchange(0, std::memory_order_release) == 2) wake();
  }
 private:
  void sleep(uint32_t c);
  void wake();
  std::atomic<uint32_t> w_{0};  // 0 free, 1 held, 2 held and somebody may sleep on it
};

// Waits on a Lock held by the caller. Times are CLOCK_MONOTONIC (steady
// clock) nanoseconds since its epoch; < 0: no time limit.
class Cond {
 public:
  bool wait(Lock& l, int64_t until_ns = -1);  // false: the time came first (the lock is held again either way)
  void notify_one() { notify(1); }
  void notify_all() { notify(0x7fffffff); }
 private:
  void notify(int n);
  std::atomic<uint32_t> seq_{0}, waiters_{0};
};

// Set once by one thread, waited for by another: a thread's end, without
// pthread_join. The waiter counts the setter's wake-up (made after the
// setter has read its own counters).
class Event {
 public:
  void set() {
    if (s_.exchange(1, std::memory_order_release) == 2) wake();
  }
  bool wait(int64_t until_ns);  // true once set; false at until_ns
 private:
  void wake();
  std::atomic<uint32_t> s_{0};  // 0 not yet, 1 set, 2 not yet and somebody sleeps on it
  bool slept_ = false;          // (the waiter's own)
};

}  // namespace fanout::sys

#include <pthread.h>
namespace fanout::sys {
// pthread_create, counted as "clone" (what strace shows for it).
int thread_create(pthread_t* t, const pthread_attr_t* a, void* (*fn)(void*), void* arg);
// "SIGKILL" for SIGKILL.
const char* signal_name(int sig);
// A waitpid() status as words: "killed by signal 9 (SIGKILL)", "exited with status 3".
std::string wait_status(int status);
}  // namespace fanout::sys
