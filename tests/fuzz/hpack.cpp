// libFuzzer: the HPACK decoder. The input is cut into header blocks (the
// first byte says where) decoded in order on one decoder, whose table
// never passes its size; every block it accepts, encoded again by our
// encoder, decodes on a second pair to the same fields.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "fanout/hpack.hpp"

namespace {

using Fields = std::vector<std::pair<std::string, std::string>>;

bool collect(void* ctx, std::string_view n, std::string_view v) {
  static_cast<Fields*>(ctx)->emplace_back(std::string(n), std::string(v));
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  size_t block = data[0] % 64 + 1;
  data++, size--;
  fanout::hpack::Decoder d, d2;
  fanout::hpack::Encoder e;
  for (size_t off = 0; off < size; off += block) {
    size_t n = std::min(block, size - off);
    Fields f;
    const char* err = d.decode(data + off, n, collect, &f);
    if (d.table().size() > d.table().max()) __builtin_trap();
    if (err) break;  // the connection would end here
    std::string w;
    e.begin(w);
    for (auto& [name, value] : f) e.field(w, name, value, name.size() % 3 ? e.incremental : e.without);
    Fields again;
    if (d2.decode(reinterpret_cast<const uint8_t*>(w.data()), w.size(), collect, &again) || again != f) __builtin_trap();
    if (d2.table().size() != e.table().size()) __builtin_trap();
  }
  return 0;
}
