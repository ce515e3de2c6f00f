// The reactor: one poller, a min-heap of timers, and a ready queue.
//
// A Waiter is anything waiting for a fd, a deadline, or just its turn; when
// it is due the reactor calls w->fn(w) (for a coroutine, that resumes it).
// Events only set readiness flags and queue waiters: no waiter runs while a
// batch of events is being read, so a waiter that closes a fd, or opens one
// that gets a just-closed number, cannot be handed a stale event. Each fd
// has a generation; a waiter whose fd was closed under it runs with kClosed.
//
// Edge backends (epoll, kqueue) register a fd once for everything and keep
// "known ready" flags that the I/O code clears when a call says EAGAIN;
// poll() is level-triggered and watches only what someone waits for.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "fanout/core.hpp"
#include "poller.hpp"

namespace fanout {

struct Waiter {
  enum : int { kReady = 0, kTimedOut = 1, kClosed = 2 };
  void (*fn)(Waiter*) = nullptr;
  void* ctx = nullptr;
  int result = kReady;
  // Private to the reactor.
  Deadline when{};
  size_t heap = SIZE_MAX;  // position in the timer heap
  int fd = -1;
  bool write = false, queued = false;
  int qfd = -1;      // the fd it was queued for, and that fd's generation then
  uint32_t qgen = 0;
};

class Reactor {
 public:
  Reactor();
  explicit Reactor(std::unique_ptr<Poller> p);
  ~Reactor();
  Reactor(const Reactor&) = delete;
  Reactor& operator=(const Reactor&) = delete;
  const char* backend() const { return poller_->name(); }
  SocketRing* ring() const { return ring_; }  // io_uring's sockets, or null

  int add(int fd);     // watch fd from now on; 0 or -1/errno
  void forget(int fd); // stop watching; waiters on it run with kClosed
  void close(int fd);  // forget, then close(2) (no epoll_ctl: close does it)

  bool ready(int fd, bool write) const;
  void drained(int fd, bool write);  // a call on fd said EAGAIN (or read short)
  // Run w when fd is ready (kReady), or at *dl (kTimedOut), whichever first.
  void wait(Waiter* w, int fd, bool write, const Deadline* dl);
  void sleep(Waiter* w, Deadline when);
  void post(Waiter* w);    // run w on this turn or the next
  void cancel(Waiter* w);  // withdraw a pending wait or sleep (not a queued one)
  // Run w now, whatever it waits for; false if it is queued already (its
  // time came, or it was woken).
  bool wake(Waiter* w) {
    if (w->queued) return false;
    cancel(w);
    post(w);
    return true;
  }

  // Wait for events (at most max_ms; -1: until a timer or an event), then
  // run every waiter that became due. Returns false when nothing is pending.
  bool run_once(int max_ms = -1);
  size_t pending() const { return pending_; }
  uint64_t turns() const { return turns_; }

 private:
  struct Fd {
    Waiter* r = nullptr;
    Waiter* w = nullptr;
    bool rr = false, wr = false;  // edge: known ready
    bool eof = false;             // the peer closed: reading never blocks again
    bool watched = false;
    uint32_t mask = 0;            // level: what the poller watches
    uint32_t gen = 0;             // bumped when the fd is forgotten
  };
  void drop(int fd, bool closing);
  Fd* slot(int fd) { return fd >= 0 && size_t(fd) < fds_.size() ? &fds_[size_t(fd)] : nullptr; }
  void update_level(int fd, Fd& s);
  void enqueue(Waiter* w, int result);
  void heap_push(Waiter* w);
  void heap_erase(Waiter* w);
  void heap_up(size_t i);
  void heap_down(size_t i);

  std::unique_ptr<Poller> poller_;
  bool edge_;
  SocketRing* ring_;
  std::vector<Fd> fds_;
  std::vector<Waiter*> heap_;
  std::vector<Waiter*> ready_, running_;
  std::vector<PollEvent> events_;
  size_t pending_ = 0;  // waits + sleeps + queued
  uint64_t turns_ = 0;
};

}  // namespace fanout
