#include "fanout/stop.hpp"

#include <atomic>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <string>
#include <unistd.h>

namespace fanout::stop {

std::atomic<int64_t> g_inflight{0};

namespace {

std::atomic<int> g_sig{0}, g_count{0};
std::atomic<int64_t> g_cancel_ns{0};
int64_t g_grace_ns = 0;
pid_t g_main = 0;       // the process that speaks: not a forked worker
char g_grace[32] = "";  // "2 s", made before any signal can come
bool g_tty = false;

int64_t now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);  // steady_clock's, and async-signal-safe
  return int64_t(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

// Only what is async-signal-safe: digits by hand, one write(2).
void say(int sig, int nth) {
  char b[256];
  size_t n = 0;
  auto put = [&](const char* s) {
    while (*s && n < sizeof b - 1) b[n++] = *s++;
  };
  if (g_tty) put("\r\033[K");
  put("fanout: ");
  put(name(sig));
  if (nth == 1) {
    int64_t k0 = g_inflight.load(), k = k0 > 0 ? k0 : 0;
    char d[24];
    int i = sizeof d;
    d[--i] = 0;
    do d[--i] = char('0' + k % 10); while ((k /= 10) > 0 && i > 0);
    put(": finishing ");
    put(d + i);
    put(k0 == 1 ? " request" : " requests");
    put(" in flight (--grace ");
    put(g_grace);
    put("); ");
    put(sig == SIGINT ? "Ctrl-C" : "the signal");
    put(" again stops now\n");
  } else {
    put(" again: stopping now; what is in flight is cancelled\n");
  }
  ssize_t w = write(2, b, n);
  (void)w;
}

void on_signal(int sig) {
  bool main = getpid() == g_main;
  int nth = g_count.fetch_add(1) + 1;
  if (nth == 1) {
    int none = 0;
    g_sig.compare_exchange_strong(none, sig);
    g_cancel_ns.store(now_ns() + g_grace_ns);
  } else if (main) {
    // The second: no grace left. (A worker hears one Ctrl-C twice, from the
    // terminal and from its supervisor: there only the first counts, and
    // the supervisor ends it on a second.)
    g_cancel_ns.store(now_ns());
  }
  if (main && nth <= 2) say(g_sig.load(), nth);
}

}  // namespace

void install(double grace_s) {
  g_grace_ns = int64_t(grace_s * 1e9);
  g_main = getpid();
  g_tty = isatty(2);
  snprintf(g_grace, sizeof g_grace, "%g s", grace_s);
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sa.sa_flags = SA_RESTART;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

bool requested() { return g_sig.load(std::memory_order_relaxed) != 0; }
int signal() { return g_sig.load(); }
int count() { return g_count.load(); }

Deadline cancel_at() {
  int64_t ns = g_cancel_ns.load();
  return ns ? Deadline(Clock::duration(ns)) : Deadline::max();  // 0: the handler is still writing it
}

void block_here() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

const char* name(int sig) { return sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : "a signal"; }

}  // namespace fanout::stop
