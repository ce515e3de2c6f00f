// libFuzzer: -J's file name from a Content-Disposition value, as a hostile
// server may send it: one name or none, never a folder, "." or "..", a
// NUL, or one of the download job's own temporary names.
#include <cstddef>
#include <cstdint>
#include <string>

#include "fanout/job.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* d, size_t n) {
  std::string name = fanout::disposition_name(std::string_view(reinterpret_cast<const char*>(d), n));
  if (name.empty()) return 0;
  if (name == "." || name == ".." || name.find('/') != std::string::npos || name.find('\0') != std::string::npos ||
      name.rfind(".fanout-", 0) == 0)
    __builtin_trap();
  return 0;
}
