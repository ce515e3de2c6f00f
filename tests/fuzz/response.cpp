// libFuzzer: the response parser, fed whole and in pieces of a size the
// first byte picks (and as a HEAD response or not): the pieces must never
// change the outcome, and nothing may crash or read out of bounds. With the
// first byte's bit 1 set, the input follows a chunked head: the chunked
// decoder is fuzzed straight away, without the head to find first.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>

#include "fanout/http.hpp"

using fanout::http::ResponseParser;

namespace {

struct Out {
  int ev, status;
  size_t body;
};

void on_body(void* ctx, const char*, size_t n) { *static_cast<size_t*>(ctx) += n; }

Out run(const char* d, size_t n, bool head, size_t step) {
  ResponseParser p;
  p.reset(head);
  std::string buf;
  size_t fed = 0, body = 0;
  int status = 0;
  for (;;) {
    size_t add = std::min(step, n - fed);
    buf.append(d + fed, add);
    fed += add;
    for (;;) {
      auto s = p.feed(buf.data(), buf.size(), on_body, &body);
      buf.erase(0, s.used);
      if (s.ev == ResponseParser::head) {
        status = p.status();
        continue;
      }
      if (s.ev != ResponseParser::more) return {s.ev, status, body};
      break;
    }
    if (fed == n) return {p.finish().ev, status, body};
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  bool head = data[0] & 1;
  size_t step = 1 + (data[0] >> 2) % 7;
  std::string in = data[0] & 2 ? "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" : "";
  in.append(reinterpret_cast<const char*>(data + 1), size - 1);
  const char* d = in.data();
  size_t n = in.size();
  Out whole = run(d, n, head, std::max<size_t>(1, n)), split = run(d, n, head, step);
  if (whole.ev != split.ev || whole.status != split.status || whole.body != split.body) __builtin_trap();
  return 0;
}
