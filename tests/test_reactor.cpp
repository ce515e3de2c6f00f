// The reactor and the coroutine layer, by callback counts (as libuv's tests
// do): timers in order, cancelled ones silent, a fd closed and its number
// reused within one batch, frames counted and returned.
#include <doctest/doctest.h>

#include <algorithm>
#include <fcntl.h>
#include <random>
#include <sys/socket.h>
#include <unistd.h>

#include "fanout/coro.hpp"
#include "fanout/dns.hpp"
#include "reactor.hpp"

using namespace fanout;

namespace {

struct Log {
  std::vector<int> order;
  std::vector<int> results;
};

struct Tagged {
  Waiter w;
  int tag;
  Log* log;
};

void record(Waiter* w) {
  auto* t = reinterpret_cast<Tagged*>(w);  // w is the first member
  t->log->order.push_back(t->tag);
  t->log->results.push_back(w->result);
}

}  // namespace

TEST_CASE("reactor: 20,000 timers fire in deadline order; cancelled ones never") {
  Reactor r;
  Log log;
  const int n = 20000;
  std::vector<Tagged> ts(n);
  std::mt19937 rng(42);
  auto base = Clock::now();
  std::vector<int> offset_us(n);
  for (int i = 0; i < n; i++) {
    offset_us[size_t(i)] = int(rng() % 30000);
    ts[size_t(i)] = {Waiter{}, i, &log};
    ts[size_t(i)].w.fn = record;
    r.sleep(&ts[size_t(i)].w, base + std::chrono::microseconds(offset_us[size_t(i)]));
  }
  for (int i = 0; i < n; i += 2) r.cancel(&ts[size_t(i)].w);
  CHECK(r.pending() == size_t(n / 2));
  for (int guard = 0; r.run_once() && guard < 100000; guard++) {}
  REQUIRE(log.order.size() == size_t(n / 2));
  for (size_t i = 0; i < log.order.size(); i++) {
    CHECK(log.order[i] % 2 == 1);
    CHECK(log.results[i] == Waiter::kTimedOut);
    if (i) CHECK(offset_us[size_t(log.order[i - 1])] <= offset_us[size_t(log.order[i])]);
  }
}

TEST_CASE("reactor: a fd closed and its number reused within one batch") {
  Reactor r;
  int a[2], b[2];
  REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, a) == 0);
  REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, b) == 0);
  REQUIRE(write(a[1], "x", 1) == 1);
  REQUIRE(write(b[1], "y", 1) == 1);
  r.add(a[0]);
  r.add(b[0]);
  Log log;
  struct Ctx {
    Reactor* r;
    int b0;
    Tagged c;
    Deadline dl;
    int keep;  // the new pipe's write end, held open so it stays silent
  } ctx{&r, b[0], {Waiter{}, 3, &log}, Clock::now() + std::chrono::milliseconds(100), -1};
  ctx.c.w.fn = record;
  // A's waiter closes B's fd and puts a fresh, silent pipe at the same number.
  Tagged wa{Waiter{}, 1, &log}, wb{Waiter{}, 2, &log};
  wa.w.fn = [](Waiter* w) {
    record(w);
    auto* c = static_cast<Ctx*>(w->ctx);
    c->r->close(c->b0);
    int p[2];
    REQUIRE(pipe2(p, O_NONBLOCK) == 0);
    if (p[0] != c->b0) {  // pipe2 may well have reused the number itself
      REQUIRE(dup2(p[0], c->b0) == c->b0);
      close(p[0]);
    }
    c->r->add(c->b0);
    c->r->wait(&c->c.w, c->b0, false, &c->dl);
    c->keep = p[1];
  };
  wa.w.ctx = &ctx;
  wb.w.fn = record;
  r.wait(&wa.w, a[0], false, nullptr);
  r.wait(&wb.w, b[0], false, nullptr);
  for (int guard = 0; r.run_once() && guard < 1000; guard++) {}
  // A ran; B, queued in the same batch, learns its fd is gone; C is not
  // woken by the old fd's event and times out.
  REQUIRE(log.order == std::vector<int>{1, 2, 3});
  CHECK(log.results == std::vector<int>{Waiter::kReady, Waiter::kClosed, Waiter::kTimedOut});
  r.close(b[0]);
  for (int fd : {a[0], a[1], b[1], ctx.keep}) close(fd);
}

namespace {

Task sleeper(Reactor& r, int ms, int& done) {
  co_await sleep_until(r, Clock::now() + std::chrono::milliseconds(ms));
  done++;
}

Task resolve_localhost(LoopResolver& dns, int& ok) {
  Url u;
  parse_url("http://localhost:80/", u);
  std::vector<Addr> addrs;
  Failure res;
  if (co_await dns.resolve(u, Clock::now() + std::chrono::seconds(5), addrs, res)) ok = int(addrs.size());
}

}  // namespace

TEST_CASE("coroutines: frames come from the loop's arena and go back to it") {
  Reactor r;
  FrameArena arena;
  FrameArena::current = &arena;
  int done = 0, ended = 0;
  // 100 ms and more: a sleep whose time has passed before it is awaited
  // does not suspend (a preempted 1 ms under ASan did), and its frame is gone.
  for (int i = 0; i < 1000; i++)
    sleeper(r, 100 + i % 20, done).start([](void* p) { ++*static_cast<int*>(p); }, &ended);
  CHECK(arena.live_frames == 1000);
  CHECK(arena.peak_bytes >= 1000 * 64);
  for (int guard = 0; r.run_once() && guard < 1000; guard++) {}
  CHECK(done == 1000);
  CHECK(ended == 1000);
  CHECK(arena.live_frames == 0);
  CHECK(arena.total_frames == 1000);
  FrameArena::current = nullptr;
}

TEST_CASE("coroutines: a frame goes back to the arena it came from, whichever is current when it ends") {
  Reactor r;
  FrameArena mine, other;
  int done = 0, ended = 0;
  FrameArena::current = &mine;
  for (int i = 0; i < 10; i++) sleeper(r, 100, done).start([](void* p) { ++*static_cast<int*>(p); }, &ended);
  FrameArena::current = nullptr;
  sleeper(r, 100, done).start([](void* p) { ++*static_cast<int*>(p); }, &ended);  // from the heap
  CHECK(mine.live_frames == 10);
  FrameArena::current = &other;  // another loop's arena is current as they end
  for (int guard = 0; r.run_once() && guard < 100; guard++) {}
  FrameArena::current = nullptr;
  CHECK(ended == 11);
  CHECK(mine.live_frames == 0);
  CHECK(mine.live_bytes == 0);
  CHECK(other.live_frames == 0);
  CHECK(other.total_frames == 0);
}

TEST_CASE("coroutines: an answer that is already there does not suspend") {
  std::string hosts;
  FILE* f = fopen("/etc/hosts", "r");
  if (!f) {
    MESSAGE("SKIP: no /etc/hosts");
    return;
  }
  fclose(f);
  Reactor r;
  Config cfg;
  cfg.dns_server = "127.0.0.1:9";  // never asked: /etc/hosts answers
  LoopResolver dns(r, cfg);
  int ok = 0, ended = 0;
  resolve_localhost(dns, ok).start([](void* p) { ++*static_cast<int*>(p); }, &ended);
  CHECK(ended == 1);  // finished inside start(): no turn of the loop
  CHECK(ok >= 1);
  CHECK(r.turns() == 0);
}
