#include "fanout/stop.hpp"

#include <atomic>
#include <csignal>
#include <ctime>

namespace fanout::stop {
namespace {

std::atomic<int> g_sig{0};
std::atomic<int64_t> g_cancel_ns{0};
int64_t g_grace_ns = 0;

void on_signal(int sig) {
  int none = 0;
  if (!g_sig.compare_exchange_strong(none, sig)) return;  // the first one counts
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);  // steady_clock's, and async-signal-safe
  g_cancel_ns.store(int64_t(ts.tv_sec) * 1000000000 + ts.tv_nsec + g_grace_ns);
}

}  // namespace

void install(double grace_s) {
  g_grace_ns = int64_t(grace_s * 1e9);
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sa.sa_flags = SA_RESTART;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

bool requested() { return g_sig.load(std::memory_order_relaxed) != 0; }
int signal() { return g_sig.load(); }

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
