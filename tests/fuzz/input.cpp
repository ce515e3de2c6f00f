// libFuzzer: the input reader (line ends, comments, globs, bad lines): every
// request it makes has a line number, and a bad one says which line.
#include <cstddef>
#include <cstdint>
#include <string>

#include "fanout/input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto src = fanout::Source::text(std::string(reinterpret_cast<const char*>(data), size));
  fanout::Request rq;
  for (int k = 0; k < 20000 && src->next(rq); k++) {  // globs can make millions: enough of them
    if (rq.line == 0 || uint32_t(k) != rq.seq) __builtin_trap();
    if (!rq.error.empty() && rq.error.rfind("input: line " + std::to_string(rq.line) + ": ", 0) != 0) __builtin_trap();
  }
  return 0;
}
