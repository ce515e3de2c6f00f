// fanout's own syscall counts against strace's, for all five models
// (tools/strace-check; it says why when it cannot check, e.g. no ptrace).
#include <doctest/doctest.h>

#include <chrono>
#include <cstdio>
#include <pthread.h>
#include <sys/wait.h>
#include <vector>

#include "sys.hpp"
#include "util.hpp"

TEST_CASE("strace-check: fanout's syscall counts agree with strace -f -c for every model") {
  if (t::kTsan || t::kAsan) {
    t::skip(t::kTsan ? "strace-check: ThreadSanitizer's runtime reads /proc and starts a thread of its own"
                     : "strace-check: AddressSanitizer's runtime makes syscalls of its own, and LeakSanitizer cannot run under strace");
    return;
  }
  // Under qemu-user its -strace stands in for strace (tools/strace-check says how).
  std::string cmd = (t::qemu().empty() ? "" : "QEMU=" + t::qemu() + " ") + "tools/strace-check " + t::build_dir() + " 2>&1";
  std::string out;
  int code = t::shell(cmd, &out);
  if (code == 3) {
    t::skip(out.substr(0, out.find('\n')));
    return;
  }
  INFO(out);
  CHECK(code == 0);
  std::vector<const char*> models = t::models();
  if (!t::qemu().empty()) models = {"seq", "async"};  // what qemu's log holds whole
  for (const char* model : models)
    CHECK(out.find(std::string("strace-check ") + model + " (fanout/strace) agree:") != std::string::npos);
  // threads wait for each other (at least the main thread for their ends):
  // futex is among the names compared, not among those left out.
  if (t::qemu().empty()) {
    size_t at = out.find("strace-check threads (fanout/strace) agree:");
    REQUIRE(at != std::string::npos);
    std::string line = out.substr(at, out.find('\n', at) - at);
    CHECK(line.find(" futex ") != std::string::npos);
  }
}

// fanout's own lock, condition variable and thread end: each futex call
// they make is counted, and none while nobody waits.
TEST_CASE("sys::Lock, Cond and Event: a futex call counted for each sleep and wake-up, none uncontended") {
  using namespace fanout::sys;
  auto now_ns = [] { return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count(); };
  Counters before = counters();
  Lock l;
  for (int i = 0; i < 1000; i++) {
    l.lock();
    l.unlock();
  }
  CHECK(counters().n[FUTEX] == before.n[FUTEX]);  // nobody else: no call
  Cond c;
  l.lock();
  int64_t t0 = now_ns();
  CHECK_FALSE(c.wait(l, t0 + 20000000));  // nobody notifies: the time comes first, the lock held again
  CHECK(now_ns() - t0 >= 20000000);
  CHECK_FALSE(l.try_lock());
  l.unlock();
  CHECK(counters().n[FUTEX] == before.n[FUTEX] + 1);
  CHECK(counters().waits[COND_WAITS] == before.waits[COND_WAITS] + 1);
  c.notify_one();  // no waiter: no call
  CHECK(counters().n[FUTEX] == before.n[FUTEX] + 1);

  // Two threads taking turns on one lock, and an Event for the second's end.
  // 2,000 turns: with 200, the main thread slept only 17 times once (a side
  // that finds its turn already come does not sleep), beside the other half
  // of the suite; at least 20 sleeps each are still asked.
  static constexpr int kTurns = 2000;
  struct Shared { Lock l; Cond c; Event done; int turn = 0; uint64_t calls = 0, slept = 0; } sh;
  pthread_t tid;
  auto body = [](void* p) -> void* {
    auto* s = static_cast<Shared*>(p);
    for (int i = 0; i < kTurns; i++) {
      s->l.lock();
      while (s->turn != 1) s->c.wait(s->l);
      s->turn = 0;
      s->c.notify_all();
      s->l.unlock();
    }
    s->calls = counters().n[FUTEX];
    s->slept = counters().waits[COND_WAITS];
    s->done.set();
    return nullptr;
  };
  REQUIRE(pthread_create(&tid, nullptr, body, &sh) == 0);
  pthread_detach(tid);
  Counters mid = counters();
  for (int i = 0; i < kTurns; i++) {
    sh.l.lock();
    while (sh.turn != 0) sh.c.wait(sh.l);
    sh.turn = 1;
    sh.c.notify_all();
    sh.l.unlock();
  }
  REQUIRE(sh.done.wait(now_ns() + 10000000000));
  // Turns taken in strict alternation: each side slept on the condition
  // most times, and every sleep and wake-up was a counted call.
  CHECK(sh.slept >= 20);
  CHECK(sh.calls >= sh.slept);
  CHECK(counters().waits[COND_WAITS] - mid.waits[COND_WAITS] >= 20);
  CHECK(counters().n[FUTEX] - mid.n[FUTEX] >= counters().waits[COND_WAITS] - mid.waits[COND_WAITS]);
}

// The names the cost table gives each counted call, target by target, as
// strace (and qemu-user's -strace, which make cross-check compares) shows
// them there with glibc 2.36: arm64 has no poll, epoll_wait or renameat;
// 32-bit ARM and MIPS have send and recv of their own and stat via statx.
TEST_CASE("syscall names: each target's, as strace shows them there") {
  using namespace fanout::sys;
  struct Row { int call; const char *x86_64, *arm64, *armhf, *mipsel; };
  const Row rows[] = {
    {POLL, "poll", "ppoll", "poll", "poll"},
    {EPOLL_WAIT, "epoll_wait", "epoll_pwait", "epoll_wait", "epoll_wait"},
    {EPOLL_PWAIT2, "epoll_pwait2", "epoll_pwait2", "epoll_pwait2", "epoll_pwait2"},
    {SEND, "sendto", "sendto", "send", "send"},
    {RECV, "recvfrom", "recvfrom", "recv", "recv"},
    {RECVFROM, "recvfrom", "recvfrom", "recvfrom", "recvfrom"},
    {FSTATAT, "newfstatat", "newfstatat", "statx", "statx"},
    {RENAMEAT, "renameat", "renameat2", "renameat", "renameat"},
    {FORK, "clone", "clone", "clone", "clone"},
    {CLONE, "clone3", "clone3", "clone3", "clone3"},
    {WAITPID, "wait4", "wait4", "wait4", "wait4"},
    {PIPE, "pipe2", "pipe2", "pipe2", "pipe2"},
    {OPENAT, "openat", "openat", "openat", "openat"},
  };
  for (const Row& r : rows) {
    INFO("call " << r.call);
    CHECK(std::string(call_name(r.call, Arch::x86_64)) == r.x86_64);
    CHECK(std::string(call_name(r.call, Arch::arm64)) == r.arm64);
    CHECK(std::string(call_name(r.call, Arch::armhf)) == r.armhf);
    CHECK(std::string(call_name(r.call, Arch::mipsel)) == r.mipsel);
  }
  // Every call has a name on every target, and this build names its own.
  for (Arch a : {Arch::x86_64, Arch::arm64, Arch::armhf, Arch::mipsel})
    for (int c = 0; c < NCALLS; c++) CHECK(std::string(call_name(c, a)) != "?");
  CHECK(std::string(call_name(POLL)) == call_name(POLL, kArch));
#if defined(__x86_64__)
  CHECK(kArch == Arch::x86_64);
#elif defined(__aarch64__)
  CHECK(kArch == Arch::arm64);
#endif
}
