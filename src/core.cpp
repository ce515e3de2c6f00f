#include "fanout/core.hpp"

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
    case Cause::http: return "http";
    case Cause::timeout: return "timeout";
    case Cause::worker: return "worker";
  }
  return "?";
}

}  // namespace fanout
