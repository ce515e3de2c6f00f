#include "fanout/core.hpp"

#include <algorithm>
#include <new>
#include <sys/mman.h>

namespace fanout {

int ms_left(Deadline d) {
  auto left = std::chrono::ceil<std::chrono::milliseconds>(d - Clock::now()).count();
  return left <= 0 ? 0 : left > 1 << 30 ? 1 << 30 : int(left);
}

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count();
}

Deadline deadline_in(double seconds) {
  return Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
}

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

int cause_code(Cause c) {
  switch (c) {
    case Cause::none: return 0;
    case Cause::input: return 3;
    case Cause::dns: return 6;
    case Cause::connect: return 7;
    case Cause::timeout: return 28;
    case Cause::tls: return 35;
    case Cause::send: return 55;
    case Cause::recv: return 56;
    case Cause::redirect: return 47;
    case Cause::http: return 8;  // CURLE_WEIRD_SERVER_REPLY
    case Cause::write: return 23;
    case Cause::http2: return 16;
    case Cause::http2_stream: return 92;
    case Cause::proxy: return 97;  // CURLE_PROXY: a SOCKS handshake that failed
    case Cause::worker: case Cause::content: case Cause::cancelled: return -1;
  }
  return -1;
}

const char* cause_name(Cause c) {
  switch (c) {
    case Cause::none: return "none";
    case Cause::input: return "input";
    case Cause::dns: return "dns";
    case Cause::connect: return "connect";
    case Cause::tls: return "tls";
    case Cause::send: return "send";
    case Cause::recv: return "recv";
    case Cause::redirect: return "redirect";
    case Cause::write: return "write";
    case Cause::content: return "content";
    case Cause::http2: return "http2";
    case Cause::http2_stream: return "http2-stream";
    case Cause::proxy: return "proxy";
    case Cause::http: return "http";
    case Cause::timeout: return "timeout";
    case Cause::worker: return "worker";
    case Cause::cancelled: return "cancelled";
  }
  return "?";
}

Deadline Pacer::take(Deadline* scheduled, uint32_t* omitted) {
  int64_t now = Clock::now().time_since_epoch().count();
  int64_t cur = next_ns.load(std::memory_order_relaxed), start;
  do start = std::max(cur, now);
  while (!next_ns.compare_exchange_weak(cur, start + interval_ns, std::memory_order_relaxed));
  int64_t due = cur ? std::min(cur, start) : start;  // (the first turn is due when taken)
  if (scheduled) *scheduled = Deadline(Clock::duration(due));
  if (omitted) *omitted = uint32_t(std::min<int64_t>((start - due) / interval_ns, kMostOmitted));
  return Deadline(Clock::duration(start));
}

Pacer* Pacer::create(double per_second) {
  void* p = mmap(nullptr, sizeof(Pacer), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return nullptr;
  auto* pacer = new (p) Pacer();
  pacer->interval_ns = int64_t(1e9 / per_second);
  return pacer;
}

}  // namespace fanout
