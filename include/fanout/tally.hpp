// What a run's summary needs of its results, added up as they land, so a
// run of 2,000,000 lines keeps no list of them: the status histogram,
// errors by cause, and latency as a histogram (log-linear, under 1% off).
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "fanout/core.hpp"

namespace fanout {

class Latency {
 public:
  void add(double ms);
  double percentile(double p) const;  // the value at rank floor(p * n), as sorting would give
  double max() const { return max_; }
  uint64_t count() const { return n_; }
 private:
  static constexpr int kSub = 128;  // buckets per power of two: 1/128 apart
  std::vector<uint64_t> buckets_;
  uint64_t n_ = 0;
  double max_ = 0;
};

struct Tally {
  std::map<int, uint64_t> statuses;        // successes by HTTP status
  std::map<std::string, uint64_t> errors;  // failures by cause
  uint64_t results = 0;   // landed: every line with an outcome
  uint64_t failed = 0;    // an error or a status >= 400 (--fail)
  uint64_t skipped = 0;   // --skip-existing
  uint64_t cancelled = 0; // cut short by SIGINT/SIGTERM: no outcome, not in --results
  Latency latency;
  void add(const Result& r);  // a final result (not a cancelled one)
  // {"200": 3, "error": 1, "skipped": 2}; the statuses alone without with_errors
  std::string histogram(bool with_errors = true) const;
};

}  // namespace fanout
