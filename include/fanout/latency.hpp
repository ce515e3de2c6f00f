// The test origin's latency for a request, made from its target (path and
// query) alone: a slow URL is slow for every model and every repeat, as a
// slow site is on the real web, and fanout bench computes its ideal from
// the same function.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <queue>
#include <string_view>
#include <vector>

#include "fanout/core.hpp"

namespace fanout {

struct LatencyProfile {
  double median_ms = 0;
  double sigma = 0;  // > 0: lognormal around the median; 0: every request median_ms
  // From MEDIAN,P90 in ms, as `--latency-lognormal` and bench's lognormal: take them.
  static LatencyProfile lognormal(double median, double p90) {
    return {median, std::log(p90 / median) / 1.2815515655};  // z of the 90th percentile
  }
};

// Whole milliseconds, as origin waits them.
inline int latency_ms(const LatencyProfile& p, std::string_view target) {
  if (p.sigma <= 0) return int(p.median_ms + 0.5);
  uint64_t h = fnv1a(target) + 0x9e3779b97f4a7c15ULL;  // then splitmix64, to spread it
  h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ULL;
  h = (h ^ (h >> 27)) * 0x94d049bb133111ebULL;
  h ^= h >> 31;
  double u1 = (double(h >> 40) + 0.5) / 16777216.0, u2 = (double(h & 0xffffff) + 0.5) / 16777216.0;
  double z = std::sqrt(-2 * std::log(u1)) * std::cos(6.283185307179586 * u2);  // Box-Muller
  return int(p.median_ms * std::exp(p.sigma * z) + 0.5);
}

// Round steps for an axis: 1, 2 or 5 times a power of ten, about `ticks`
// of them up to max (the bench chart, the seed chart, the trace timeline).
inline double round_step(double max, int ticks) {
  double raw = std::max(max, 1e-9) / ticks, p = std::pow(10, std::floor(std::log10(raw)));
  return raw <= p ? p : raw <= 2 * p ? 2 * p : raw <= 5 * p ? 5 * p : 10 * p;
}

// The best a model with no overhead can do: requests started in input
// order, each on the first of c slots to come free; when the last ends.
inline double ideal_ms(const std::vector<int>& latencies, int c) {
  std::priority_queue<double, std::vector<double>, std::greater<double>> free_at;
  for (int i = 0; i < std::max(1, c); i++) free_at.push(0);
  double end = 0;
  for (int l : latencies) {
    double start = free_at.top();
    free_at.pop();
    free_at.push(start + l);
    end = std::max(end, start + l);
  }
  return end;
}

}  // namespace fanout
