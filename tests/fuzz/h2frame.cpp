// libFuzzer: HTTP/2 as a server sends it. First frame by frame: what a
// frame says it holds must lie inside it, and header block fragments go to
// an HPACK decoder. Then the same bytes, after the server's SETTINGS, into
// a client session with three streams open, whole and in pieces the first
// byte picks: the two must end alike, a dead session names its error, and
// the handler never hears of a stream the client did not open.
#include <cstddef>
#include <cstdint>
#include <string>

#include "fanout/h2.hpp"
#include "fanout/h2_session.hpp"
#include "fanout/hpack.hpp"

namespace h2 = fanout::h2;

namespace {

bool ignore(void*, std::string_view, std::string_view) { return true; }

struct Client : h2::Handler {
  h2::Session s{h2::Session::client, *this};
  std::string log;
  void check(uint32_t id) {
    if (id == 0 || id % 2 == 0 || id > 5) __builtin_trap();
  }
  void on_headers(uint32_t id, std::span<const h2::Field> f, bool end) override {
    check(id);
    log += "h" + std::to_string(id) + (end ? "e" : "") + std::to_string(f.size());
  }
  void on_data(uint32_t id, const uint8_t*, size_t n, bool end) override {
    check(id);
    log += "d" + std::to_string(id) + ":" + std::to_string(n) + (end ? "e" : "");
  }
  void on_reset(uint32_t id, uint32_t code, const char*) override {
    check(id);
    log += "r" + std::to_string(id) + ":" + std::to_string(code);
  }
  void on_goaway(uint32_t last, uint32_t code) override { log += "g" + std::to_string(last) + ":" + std::to_string(code); }
};

std::string run(const uint8_t* data, size_t size, size_t step, bool& dead) {
  Client c;
  h2::Field req[] = {{":method", "GET"}, {":scheme", "http"}, {":authority", "a"}, {":path", "/"}};
  for (int i = 0; i < 3; i++) c.s.request(req, 4, true);
  std::string in;
  h2::put_header(in, 0, h2::SETTINGS, 0, 0);
  in.append(reinterpret_cast<const char*>(data), size);
  for (size_t i = 0; i < in.size() && !c.s.dead(); i += step)
    c.s.feed(reinterpret_cast<const uint8_t*>(in.data()) + i, std::min(step, in.size() - i));
  dead = c.s.dead();
  if (dead && !c.s.why()) __builtin_trap();
  return c.log + (dead ? "dead" + std::to_string(c.s.error()) : "");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  size_t step = data[0] % 32 + 1;
  data++, size--;
  fanout::hpack::Decoder hpack;
  std::string block;
  for (size_t off = 0; off + h2::kFrameHeader <= size;) {
    h2::Frame f;
    if (h2::parse_header(data + off, h2::kMinMaxFrame, f)) break;
    off += h2::kFrameHeader;
    if (f.length > size - off) break;
    const uint8_t* p = data + off;
    uint32_t err = h2::parse_payload(p, f);
    off += f.length;
    if (err) continue;
    if (f.size && (f.data < p || f.data + f.size + f.pad > p + f.length)) __builtin_trap();
    if (f.type == h2::SETTINGS)
      for (size_t i = 0; i < f.settings(); i++) {
        uint16_t id;
        uint32_t v;
        f.setting(i, id, v);
      }
    if (f.type == h2::HEADERS || f.type == h2::CONTINUATION) {
      block.append(reinterpret_cast<const char*>(f.data), f.size);
      if (f.flags & h2::END_HEADERS) {
        if (hpack.decode(reinterpret_cast<const uint8_t*>(block.data()), block.size(), ignore, nullptr)) break;
        block.clear();
      }
    }
  }
  bool dead1, dead2;
  std::string whole = run(data, size, size + h2::kFrameHeader, dead1);
  std::string pieces = run(data, size, step, dead2);
  if (whole != pieces) __builtin_trap();
  return 0;
}
