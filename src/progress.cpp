#include "fanout/progress.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <thread>
#include <unistd.h>

namespace fanout::progress {
namespace {

std::atomic<size_t> g_done{0}, g_errors{0};
size_t g_total = 0;
bool g_tty = false;
std::thread g_ticker;
std::chrono::steady_clock::time_point g_t0;
std::mutex g_mu;
std::condition_variable g_cv;
bool g_stop = false;

void draw(std::chrono::steady_clock::time_point t0) {
  size_t d = g_done.load(std::memory_order_relaxed), e = g_errors.load(std::memory_order_relaxed);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  double rate = secs > 0 ? double(d) / secs : 0;
  char eta[32] = "?", total[32] = "";
  if (rate > 0) snprintf(eta, sizeof eta, "%.0f s", double(d < g_total ? g_total - d : 0) / rate);
  if (g_total) snprintf(total, sizeof total, "/%zu", g_total);
  fprintf(stderr, "%sfanout: %zu%s done, %.1f/s, %zu errors%s%s%s", g_tty ? "\r\033[K" : "", d, total, rate, e,
          g_total ? ", ETA " : "", g_total ? eta : "", g_tty ? "" : "\n");
  fflush(stderr);
}

}  // namespace

void start(size_t total, bool enabled) {
  if (!enabled) return;
  g_total = total;
  g_tty = isatty(2);
  auto t0 = g_t0 = std::chrono::steady_clock::now();
  // Not counted in the cost report's threads: it is the tool's, not the model's.
  g_ticker = std::thread([t0] {
    auto every = std::chrono::milliseconds(g_tty ? 200 : 1000);
    std::unique_lock<std::mutex> lock(g_mu);
    while (!g_cv.wait_for(lock, every, [] { return g_stop; })) draw(t0);
  });
}

void done(bool error) {
  g_done.fetch_add(1, std::memory_order_relaxed);
  if (error) g_errors.fetch_add(1, std::memory_order_relaxed);
}

void stop() {
  if (!g_ticker.joinable()) return;
  {
    std::lock_guard<std::mutex> lock(g_mu);
    g_stop = true;
  }
  g_cv.notify_one();
  g_ticker.join();
  if (g_tty) fprintf(stderr, "\r\033[K");
  else draw(g_t0);  // a log gets the last line too
}

}  // namespace fanout::progress
