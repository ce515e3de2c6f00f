#include "fanout/progress.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <string>
#include <sys/ioctl.h>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <pthread.h>
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
bool g_stop = false, g_started = false;

// The terminal's width now (it may have been resized), else $COLUMNS,
// else no limit (a log file).
size_t width() {
  winsize ws{};
  if (g_tty && ioctl(2, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
  const char* c = getenv("COLUMNS");
  long n = c ? atol(c) : 0;
  return n > 0 ? size_t(n) : 0;
}

std::string hms(double secs) {
  long s = long(secs + 0.5), h = s / 3600;
  char b[32];
  snprintf(b, sizeof b, "%ld:%02ld:%02ld", h, s / 60 % 60, s % 60);
  return b;
}

void draw(std::chrono::steady_clock::time_point t0) {
  size_t d = g_done.load(std::memory_order_relaxed), e = g_errors.load(std::memory_order_relaxed);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  double rate = secs > 0 ? double(d) / secs : 0;
  char count[64] = "", pct[16] = "", r[32], eta[40] = "";
  snprintf(count, sizeof count, g_total ? "%zu/%zu" : "%zu", d, g_total);
  if (g_total) snprintf(pct, sizeof pct, "%zu%%", std::min<size_t>(100, d * 100 / g_total));
  snprintf(r, sizeof r, "%.1f/s", rate);
  if (g_total) snprintf(eta, sizeof eta, "ETA %s", rate > 0 ? hms(double(d < g_total ? g_total - d : 0) / rate).c_str() : "-:--:--");
  char full[192], brief[160];
  snprintf(full, sizeof full, "fanout: %s%s%s%s done, %s, %zu error%s%s%s", count, g_total ? " (" : "", pct,
           g_total ? ")" : "", r, e, e == 1 ? "" : "s", g_total ? ", " : "", eta);
  snprintf(brief, sizeof brief, "%s %s%s%s %zu err%s%s", count, pct, g_total ? " " : "", r, e, g_total ? " " : "", eta);
  // The whole line if it fits the width (less the last column: a terminal
  // would wrap there), else the brief one, else as much of that as fits.
  std::string line = full;
  size_t w = width();
  if (w > 1 && line.size() > w - 1) {
    line = brief;
    if (line.size() > w - 1) line.resize(w - 1);
  }
  fprintf(stderr, "%s%s%s", g_tty ? "\r\033[K" : "", line.c_str(), g_tty ? "" : "\n");
  fflush(stderr);
}

}  // namespace

void start(size_t total, bool enabled) {
  if (!enabled) return;
  g_total = total;
  g_tty = isatty(2);
  auto t0 = g_t0 = std::chrono::steady_clock::now();
  // procs and hybrid fork their workers while the ticker runs. It draws
  // (and allocates) only while it holds g_mu, so a fork holds g_mu too:
  // the child never starts with an allocator's lock the ticker had (a
  // worker hung so under ASan, whose allocator has no fork handlers).
  static bool once = [] {
    pthread_atfork([] { g_mu.lock(); }, [] { g_mu.unlock(); }, [] { g_mu.unlock(); });
    return true;
  }();
  (void)once;
  // Not counted in the cost report's threads: it is the tool's, not the model's.
  g_ticker = std::thread([t0] {
    auto every = std::chrono::milliseconds(g_tty ? 200 : 1000);
    std::unique_lock<std::mutex> lock(g_mu);
    g_started = true;
    g_cv.notify_all();
    while (!g_cv.wait_for(lock, every, [] { return g_stop; })) draw(t0);
  });
  // And no fork while the new thread is still being set up (the runtime's
  // locks again): back only once it waits, which gives g_mu up.
  std::unique_lock<std::mutex> lock(g_mu);
  g_cv.wait(lock, [] { return g_started; });
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
