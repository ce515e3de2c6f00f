// What a run's summary needs of its results, added up as they land, so a
// run of 2,000,000 lines keeps no list of them: the status histogram,
// errors by cause, and latency as a histogram (log-linear, under 1% off).
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "fanout/core.hpp"
#include "fanout/hosts.hpp"

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
  uint64_t not_modified = 0;  // -N, --since: 304 to a conditional request
  uint64_t cancelled = 0; // cut short by SIGINT/SIGTERM: no outcome, not in --results
  Latency latency;
  // --rate: each latency from the request's scheduled start (HdrHistogram's
  // "corrected for coordinated omission"); empty without --rate.
  Latency corrected;
  Hosts hosts;  // the most failing and the slowest hosts (fed with the request's host by the caller)
  void add(const Result& r);  // a final result (not a cancelled one)
  // {"200": 3, "error": 1, "skipped": 2}; the statuses alone without with_errors
  std::string histogram(bool with_errors = true) const;
};

// The lines that failed, for the list at the end of a run and its exit
// status: counted by what went wrong, the first few of each kept (in input
// order, whatever order they landed in), and the one first in input order,
// whose exit code is the run's. Bounded: a run of 2,000,000 failures keeps
// kKeep of each kind.
struct FailedLine {
  uint32_t line = 0, seq = 0;
  int code = 0;       // curl's exit code for it
  std::string cause;  // "connect", "status"
  std::string url, error;  // the line (its password masked) and what went wrong
};

class Failures {
 public:
  static constexpr size_t kKeep = 5;
  struct Group {
    std::string what;  // "connect (exit 7)", "HTTP 502 (exit 22)"
    uint64_t count = 0;
    std::vector<FailedLine> first;  // the kKeep first in input order
  };
  void add(const std::string& what, FailedLine f);
  uint64_t count() const { return n_; }
  const FailedLine* first() const { return n_ ? &first_ : nullptr; }  // first in input order
  std::vector<const Group*> groups() const;  // the group of the first line first
  std::vector<FailedLine> kept() const;      // every line kept, in input order
 private:
  std::map<std::string, Group> groups_;
  FailedLine first_;
  uint64_t n_ = 0;
};

}  // namespace fanout
