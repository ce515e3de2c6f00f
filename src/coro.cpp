#include <cstdlib>

#include "fanout/coro.hpp"

namespace fanout {

FrameArena::~FrameArena() {
  for (auto& list : free_)
    for (void* p : list) ::operator delete(p);
}

void* FrameArena::alloc(size_t n) {
  size_t b = bucket(n);
  live_frames++;
  total_frames++;
  live_bytes += b * 64;
  if (live_frames > peak_frames) peak_frames = live_frames;
  if (live_bytes > peak_bytes) peak_bytes = live_bytes;
  if (b < free_.size() && !free_[b].empty()) {
    void* p = free_[b].back();
    free_[b].pop_back();
    return p;
  }
  return ::operator new(b * 64);
}

void FrameArena::free(void* p, size_t n) {
  size_t b = bucket(n);
  live_frames--;
  live_bytes -= b * 64;
  if (b >= free_.size()) free_.resize(b + 1);
  free_[b].push_back(p);
}

}  // namespace fanout
