#include "fanout/polite.hpp"

#include <algorithm>
#include <cstring>
#include <new>
#include <sys/mman.h>

namespace fanout {

Polite* Polite::create(int most) {
  void* p = mmap(nullptr, sizeof(Polite), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return nullptr;
  auto* t = new (p) Polite();
  t->most_ = std::max(1, most);
  return t;
}

// The host's slot: its own if one of the first eight probed is free or
// its, else the first (shared from then on).
Polite::Slot* Polite::slot(const std::string& host) {
  uint64_t key = fnv1a(host) | 1;  // (0: a free slot)
  for (size_t i = 0; i < 8; i++) {
    Slot& s = slots_[(key + i) % kSlots];
    uint64_t was = 0;
    if (s.key.compare_exchange_strong(was, key)) {  // a new host: its name, for the summary
      strncpy(s.name, host.c_str(), kName - 1);
      return &s;
    }
    if (was == key) return &s;
  }
  return &slots_[key % kSlots];
}

bool Polite::enter(const std::string& host, int64_t now, int64_t* until) {
  Slot& s = *slot(host);
  int64_t hold = s.hold_ns.load();
  if (now < hold) {
    *until = hold;
    return false;
  }
  int32_t n = s.inflight.load();
  while (n < s.limit.load()) {
    if (s.inflight.compare_exchange_weak(n, n + 1)) return true;
  }
  *until = now + 5000000;  // a place frees when an answer comes: look again shortly
  return false;
}

void Polite::leave(const std::string& host) { slot(host)->inflight.fetch_sub(1); }

void Polite::heard(const std::string& host, int status, double retry_after_s, int64_t now) {
  Slot& s = *slot(host);
  if (status == 0 || status == 429 || status == 503) {
    s.pushed.fetch_add(1);
    s.streak.store(0);
    int32_t l = s.limit.load();
    while (!s.limit.compare_exchange_weak(l, std::max(1, l / 2))) {}
    int32_t low = s.lowest.load(), now_l = s.limit.load();
    while ((low == 0 || now_l < low) && !s.lowest.compare_exchange_weak(low, now_l)) {}
    hold(host, retry_after_s, now);
    return;
  }
  if (status >= 200 && status < 400) {
    int32_t l = s.limit.load();
    if (s.streak.fetch_add(1) + 1 >= l && l < most_) {
      s.streak.store(0);
      s.limit.compare_exchange_strong(l, l + 1);
    }
  }
}

void Polite::hold(const std::string& host, double seconds, int64_t now) {
  if (seconds <= 0) return;
  Slot& s = *slot(host);
  int64_t until = now + int64_t(std::min(seconds, 3600.0) * 1e9), h = s.hold_ns.load();
  while (h < until && !s.hold_ns.compare_exchange_weak(h, until)) {}
}

std::vector<Polite::Slowed> Polite::slowed() const {
  std::vector<Slowed> out;
  for (const Slot& s : slots_)
    if (s.key.load() && s.pushed.load())
      out.push_back({s.name, s.lowest.load(), s.limit.load(), s.pushed.load()});
  std::sort(out.begin(), out.end(), [](const Slowed& a, const Slowed& b) { return a.pushed_back > b.pushed_back; });
  return out;
}

}  // namespace fanout
