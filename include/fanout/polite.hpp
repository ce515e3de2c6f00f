// --polite: each host's concurrency follows its answers (AIMD, as TCP's
// congestion window): it starts at one request at a time; a 429, a 503 or
// a refused connection halves it (never below 1) and the answer's
// Retry-After holds the whole host; as many successes in a row as the
// limit raise it by one, up to --per-host (else -c). The IETF RateLimit
// header's remaining quota of 0 holds the host for its reset time.
//
// One table for every thread and forked worker of a run (mapped shared
// before any fork, lock-free atomics), by host: a fixed number of slots,
// so a crawl over a million hosts costs no more memory; hosts that share
// a slot share a limit (the table says when that happened).
#pragma once
#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "fanout/core.hpp"

namespace fanout {

class Polite {
 public:
  static Polite* create(int most);  // null if mmap fails
  // May a request to host start now? If not, *until says when to ask again.
  bool enter(const std::string& host, int64_t now_ns, int64_t* until_ns);
  void leave(const std::string& host);
  // What the host answered: its status (0: the connection was refused),
  // and Retry-After's seconds (-1: none).
  void heard(const std::string& host, int status, double retry_after_s, int64_t now_ns);
  // The host's quota is spent (RateLimit: remaining 0): none go for seconds.
  void hold(const std::string& host, double seconds, int64_t now_ns);
  struct Slowed {
    std::string host;
    int lowest, now;  // the limit at its lowest, and at the end
    uint32_t pushed_back;  // 429s, 503s and refusals heard
  };
  std::vector<Slowed> slowed() const;  // hosts whose limit went down, most pushed back first

 private:
  static constexpr size_t kSlots = 4096, kName = 64;
  struct Slot {
    std::atomic<uint64_t> key{0};
    std::atomic<int32_t> limit{1}, inflight{0}, streak{0}, lowest{0};
    std::atomic<int64_t> hold_ns{0};
    std::atomic<uint32_t> pushed{0};
    char name[kName] = {};
  };
  Slot* slot(const std::string& host);
  int most_ = 1;
  Slot slots_[kSlots];
};

}  // namespace fanout
