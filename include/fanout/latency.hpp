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
  uint64_t h = 14695981039346656037ULL;  // FNV-1a, then splitmix64 to spread it
  for (unsigned char c : target) h = (h ^ c) * 1099511628211ULL;
  h += 0x9e3779b97f4a7c15ULL;
  h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ULL;
  h = (h ^ (h >> 27)) * 0x94d049bb133111ebULL;
  h ^= h >> 31;
  double u1 = (double(h >> 40) + 0.5) / 16777216.0, u2 = (double(h & 0xffffff) + 0.5) / 16777216.0;
  double z = std::sqrt(-2 * std::log(u1)) * std::cos(6.283185307179586 * u2);  // Box-Muller
  return int(p.median_ms * std::exp(p.sigma * z) + 0.5);
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
