#include "fanout/tally.hpp"

#include <algorithm>
#include <cmath>

namespace fanout {

// Microseconds: below kSub each value has its own bucket; above, a power
// of two is split into kSub equal steps.
void Latency::add(double ms) {
  uint64_t us = ms <= 0 ? 0 : uint64_t(std::llround(ms * 1000));
  size_t b = us < kSub ? size_t(us) : [&] {
    int e = 63 - __builtin_clzll(us);  // us in [2^e, 2^(e+1)), e >= 7
    return size_t((e - 6) * kSub + int((us >> (e - 7)) - kSub));
  }();
  if (b >= buckets_.size()) buckets_.resize(b + 1);
  buckets_[b]++;
  n_++;
  if (ms > max_) max_ = ms;
}

double Latency::percentile(double p) const {
  if (!n_) return 0;
  uint64_t rank = std::min(n_ - 1, uint64_t(p * double(n_))), seen = 0;
  for (size_t b = 0; b < buckets_.size(); b++) {
    seen += buckets_[b];
    if (seen <= rank) continue;
    if (b < kSub) return std::min(max_, double(b) / 1000);
    int e = int(b / kSub) + 6;
    double lo = double((uint64_t(b % kSub) + kSub) << (e - 7));
    return std::min(max_, (lo + double(1ULL << (e - 7)) / 2) / 1000);  // the bucket's middle
  }
  return max_;
}

void Tally::add(const Result& r) {
  results++;
  not_modified += r.not_modified;
  if (r.skipped) skipped++;
  else if (r.ok()) statuses[r.status]++;
  else errors[cause_name(r.cause)]++;
  if (!r.ok() || r.status >= 400) failed++;
  latency.add(r.ms);
  if (r.late_ms < 0) return;
  // Corrected for coordinated omission: from the scheduled start, and for
  // each turn that went by unused while this one was due, a request that
  // would have waited with it, due evenly over its lateness (HdrHistogram's
  // recordValueWithExpectedInterval, by the turns the pacer saw go by).
  double v = r.ms + r.late_ms;
  corrected.add(v);
  for (uint32_t i = 1; i <= r.omitted; i++) corrected.add(v - r.late_ms * i / (r.omitted + 1.0));
}

std::string Tally::histogram(bool with_errors) const {
  std::string s = "{";
  auto put = [&](const std::string& k, uint64_t n) { s += (s.size() > 1 ? ", \"" : "\"") + k + "\": " + std::to_string(n); };
  for (auto& [code, n] : statuses) put(std::to_string(code), n);
  uint64_t errs = 0;
  for (auto& [_, n] : errors) errs += n;
  if (with_errors && errs) put("error", errs);
  if (with_errors && skipped) put("skipped", skipped);
  if (with_errors && not_modified) put("not_modified", not_modified);
  return s + "}";
}

void Failures::add(const std::string& what, FailedLine f) {
  if (!n_++ || f.seq < first_.seq) first_ = f;
  Group& g = groups_[what];
  g.what = what;
  g.count++;
  auto later = [](const FailedLine& a, const FailedLine& b) { return a.seq < b.seq; };
  if (g.first.size() == kKeep && !later(f, g.first.back())) return;
  if (g.first.size() == kKeep) g.first.pop_back();
  g.first.insert(std::upper_bound(g.first.begin(), g.first.end(), f, later), std::move(f));
}

std::vector<const Failures::Group*> Failures::groups() const {
  std::vector<const Group*> v;
  for (auto& [_, g] : groups_) v.push_back(&g);
  std::sort(v.begin(), v.end(), [](const Group* a, const Group* b) { return a->first[0].seq < b->first[0].seq; });
  return v;
}

std::vector<FailedLine> Failures::kept() const {
  std::vector<FailedLine> v;
  for (auto& [_, g] : groups_) v.insert(v.end(), g.first.begin(), g.first.end());
  std::sort(v.begin(), v.end(), [](const FailedLine& a, const FailedLine& b) { return a.seq < b.seq; });
  return v;
}

}  // namespace fanout
