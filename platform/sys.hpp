// Thin syscall wrappers. Each one counts its calls in the calling thread's
// counter block, so a worker can report "syscalls per request by name" and
// the numbers can be checked against `strace -c -f`. Nothing here retries or
// hides an error: EINTR and EAGAIN come back to the caller as -1/errno.
#pragma once
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
  IO_URING_SETUP, IO_URING_ENTER, IO_URING_REGISTER, NCALLS
};
// Operations submitted on an io_uring ring (no system call each: they go
// in batches with io_uring_enter), and the completions that came back.
enum RingOp : int { OP_CONNECT, OP_SEND, OP_RECV, OP_CLOSE, OP_TIMEOUT, OP_POLL, OP_CANCEL, OP_COMPLETIONS, NOPS };
const char* op_name(int op);  // "connect", ..., "completions"
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
};
Counters& counters();
inline void count(Call c) { ++counters().n[c]; }
inline void count(RingOp o) { ++counters().ops[o]; }

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

// Write all of p, retrying EINTR and short writes (pipes between workers).
bool write_all(int fd, const void* p, size_t n);

// "ECONNREFUSED" for ECONNREFUSED; "E<n>" for the ones we do not know.
const char* errno_name(int err);
// strace style: "connect(127.0.0.1:80): ECONNREFUSED (Connection refused)".
std::string describe(const std::string& call, int err);

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
