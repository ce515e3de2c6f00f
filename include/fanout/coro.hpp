// Stackless coroutines (C++20) on the reactor.
//
// Task is a lazily started coroutine that returns nothing: results travel
// through references, errors as values (no exceptions on the I/O path).
// co_await on a Task starts it and resumes the caller when it ends
// (symmetric transfer, so chains do not grow the stack).
//
// Frames come from the FrameArena of the loop running them, which keeps
// freed frames for reuse and counts frames and bytes, so a run can report
// the memory each request in flight costs.
#pragma once
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <vector>

#include "reactor.hpp"

namespace fanout {

class FrameArena {
 public:
  ~FrameArena();
  void* alloc(size_t n);
  void free(void* p, size_t n);
  size_t live_frames = 0, live_bytes = 0, peak_frames = 0, peak_bytes = 0, total_frames = 0;
  // Set by the loop that runs the frames. constinit: no TLS wrapper call on
  // every frame allocation (and none for UBSan to trip over).
  static inline thread_local constinit FrameArena* current = nullptr;

 private:
  static size_t bucket(size_t n) { return (n + 63) / 64; }
  std::vector<std::vector<void*>> free_;  // by size in 64-byte steps
};

class Task {
 public:
  struct promise_type {
    std::coroutine_handle<> cont;
    void (*done)(void*) = nullptr;  // a top-level task: called at the end
    void* done_ctx = nullptr;
    Task get_return_object() { return Task(std::coroutine_handle<promise_type>::from_promise(*this)); }
    std::suspend_always initial_suspend() noexcept { return {}; }
    struct Final {
      bool await_ready() noexcept { return false; }
      std::coroutine_handle<> await_suspend(std::coroutine_handle<promise_type> h) noexcept {
        promise_type& p = h.promise();
        if (p.cont) return p.cont;
        auto done = p.done;
        void* ctx = p.done_ctx;
        h.destroy();
        if (done) done(ctx);
        return std::noop_coroutine();
      }
      void await_resume() noexcept {}
    };
    Final final_suspend() noexcept { return {}; }
    void return_void() {}
    void unhandled_exception() { std::terminate(); }
    // A frame remembers the arena it came from, in a header before it, and
    // goes back there: whichever arena is current when it ends (another
    // loop's, or none once its loop has returned) is not its own.
    static constexpr size_t kHeader = alignof(std::max_align_t);
    static void* operator new(size_t n) {
      FrameArena* a = FrameArena::current;
      void* base = a ? a->alloc(n + kHeader) : ::operator new(n + kHeader);
      *static_cast<FrameArena**>(base) = a;
      return static_cast<char*>(base) + kHeader;
    }
    static void operator delete(void* p, size_t n) {
      void* base = static_cast<char*>(p) - kHeader;
      if (FrameArena* a = *static_cast<FrameArena**>(base)) a->free(base, n + kHeader);
      else ::operator delete(base);
    }
  };
  using Handle = std::coroutine_handle<promise_type>;

  explicit Task(Handle h) : h_(h) {}
  Task(Task&& o) noexcept : h_(o.h_) { o.h_ = nullptr; }
  Task(const Task&) = delete;
  Task& operator=(const Task&) = delete;
  ~Task() { if (h_) h_.destroy(); }

  bool await_ready() const noexcept { return false; }
  std::coroutine_handle<> await_suspend(std::coroutine_handle<> caller) noexcept {
    h_.promise().cont = caller;
    return h_;
  }
  void await_resume() noexcept {}

  // Starts a top-level task; done(ctx) runs when it ends. The frame frees itself.
  void start(void (*done)(void*), void* ctx) {
    Handle h = h_;
    h_ = nullptr;
    h.promise().done = done;
    h.promise().done_ctx = ctx;
    h.resume();
  }

 private:
  Handle h_;
};

inline void resume_waiter(Waiter* w) { std::coroutine_handle<>::from_address(w->ctx).resume(); }

// co_await io_wait(r, fd, write, dl): kReady, kTimedOut or kClosed.
// Ready at once when the reactor already knows the fd is ready.
struct IoWait {
  Reactor& r;
  int fd;
  bool write;
  const Deadline* dl;
  Waiter w{};
  bool await_ready() const { return r.ready(fd, write); }
  void await_suspend(std::coroutine_handle<> h) {
    w.fn = resume_waiter;
    w.ctx = h.address();
    r.wait(&w, fd, write, dl);
  }
  int await_resume() const { return w.result; }
};
inline IoWait readable(Reactor& r, int fd, const Deadline* dl) { return IoWait{r, fd, false, dl}; }
inline IoWait writable(Reactor& r, int fd, const Deadline* dl) { return IoWait{r, fd, true, dl}; }

struct SleepUntil {
  Reactor& r;
  Deadline when;
  Waiter w{};
  bool await_ready() const { return when <= Clock::now(); }
  void await_suspend(std::coroutine_handle<> h) {
    w.fn = resume_waiter;
    w.ctx = h.address();
    r.sleep(&w, when);
  }
  void await_resume() const {}
};
inline SleepUntil sleep_until(Reactor& r, Deadline when) { return SleepUntil{r, when}; }

}  // namespace fanout
