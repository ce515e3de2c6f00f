// libFuzzer: the URL parser. A URL it accepts serializes to an href that
// parses back to the same href; its download name (save_path) stays inside
// the folder (no "", ".", ".." or '/' in a part, no NUL); masking a password
// twice is masking it once; a reference against a base never crashes.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fanout/job.hpp"
#include "fanout/url.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view s(reinterpret_cast<const char*>(data), size);
  fanout::Url u, again, base, to;
  if (fanout::parse_url(s, u) == fanout::UrlError::none) {
    std::string href = u.href();
    if (fanout::parse_url(href, again) != fanout::UrlError::none || again.href() != href) __builtin_trap();
    for (const std::string& part : fanout::save_path(u))
      if (part.empty() || part == "." || part == ".." || part.find('/') != std::string::npos ||
          part.find('\0') != std::string::npos)
        __builtin_trap();
    std::string once = fanout::mask_password(href);
    if (fanout::mask_password(once) != once) __builtin_trap();
  }
  fanout::parse_url("http://example.com/a/b?c#d", base);
  fanout::resolve_url(base, s, to);
  return 0;
}
