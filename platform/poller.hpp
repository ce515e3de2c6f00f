// One small poller interface; one file per mechanism (epoll.cpp, poll.cpp).
// The backend follows the target compiler's macros (__linux__ -> epoll), so
// cross builds pick the right one; `make BACKEND=poll` overrides it.
// With kEdge a backend that can (epoll: EPOLLET, kqueue: EV_CLEAR) reports
// each change of readiness once; poll() is always level-triggered.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <sys/socket.h>
#include <vector>

namespace fanout {
// Milliseconds for APIs that take them: rounded up, so never early.
inline int ceil_ms(int64_t us) { return us < 0 ? -1 : us > (int64_t(1) << 40) ? 1 << 30 : int((us + 999) / 1000); }
}

namespace fanout {

// kPeerClosed: the peer sent FIN (EPOLLRDHUP, EV_EOF): reads return 0 from now on.
constexpr uint32_t kReadable = 1, kWritable = 2, kHangup = 4, kEdge = 8, kPeerClosed = 16;

struct PollEvent {
  int fd;
  uint32_t events;  // kReadable | kWritable | kHangup
};

// One io_uring_enter, for --trace: when (steady-clock ns), what it gave
// the kernel and what the turn took back.
struct RingBatch {
  int64_t from, to;
  uint32_t submitted;  // operations
  uint32_t reaped;     // completions read after it
  uint32_t wanted;     // completions it waited for (0: it did not wait)
  int32_t worker = -1;  // hybrid's worker whose loop made it (-1: the run's own)
};

// Sockets whose bytes move through operations on a ring (io_uring) instead
// of calls: the ring's completions are the poller's events for them, and
// reads and writes take and give the bytes it holds. Each call answers as
// its system call would (-1 and errno; EAGAIN when it would block).
class SocketRing {
 public:
  virtual void adopt(int fd) = 0;  // a new socket's bytes go through the ring
  virtual void flush() = 0;        // submit what is queued now (closes among it: fds come free)
  virtual bool has(int fd) const = 0;
  virtual void connect(int fd, const sockaddr* sa, socklen_t len) = 0;  // its end makes fd writable
  virtual int connected(int fd) = 0;  // -1: not yet; else 0 or the errno
  virtual ssize_t recv(int fd, void* p, size_t n) = 0;
  virtual ssize_t send(int fd, const void* p, size_t n) = 0;  // queued whole, or EAGAIN
  virtual bool has_input(int fd) = 0;  // bytes, an end or an error came and wait to be read
  virtual bool close(int fd) = 0;      // false: not a ring socket (close(2) it)
  virtual void keep_batches(std::vector<RingBatch>* to) = 0;  // every enter from now on, into *to

 protected:
  ~SocketRing() = default;
};

class Poller {
 public:
  static std::unique_ptr<Poller> create();
  static const char* backend();  // what create() makes: "epoll", "kqueue" or "poll"
  virtual ~Poller() = default;
  virtual const char* name() const = 0;
  virtual bool edge() const = 0;  // does kEdge mean edge-triggered here?
  virtual int add(int fd, uint32_t mask) = 0;     // 0 or -1/errno
  virtual int modify(int fd, uint32_t mask) = 0;
  virtual int remove(int fd) = 0;
  // fd is about to be closed. epoll and kqueue drop a closed fd themselves,
  // so they spend no syscall on it; poll() must forget it.
  virtual void closing(int fd) { remove(fd); }
  // Up to max ready fds; timeout_us -1 waits forever. -1/errno on error.
  virtual int wait(PollEvent* out, int max, int64_t timeout_us) = 0;
  virtual SocketRing* sockets() { return nullptr; }
};

std::unique_ptr<Poller> make_epoll_poller();
std::unique_ptr<Poller> make_poll_poller();
std::unique_ptr<Poller> make_kqueue_poller();
// io_uring (Linux): null, and why (with what would allow it), where the
// kernel or the sandbox will not give this process a ring.
std::unique_ptr<Poller> make_uring_poller(std::string& why);

}  // namespace fanout
