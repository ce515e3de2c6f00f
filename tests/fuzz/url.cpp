// libFuzzer: the URL parser. A URL it accepts serializes to an href that
// parses back to the same href; a reference against a base never crashes.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fanout/url.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view s(reinterpret_cast<const char*>(data), size);
  fanout::Url u, again, base, to;
  if (fanout::parse_url(s, u) == fanout::UrlError::none) {
    std::string href = u.href();
    if (fanout::parse_url(href, again) != fanout::UrlError::none || again.href() != href) __builtin_trap();
  }
  fanout::parse_url("http://example.com/a/b?c#d", base);
  fanout::resolve_url(base, s, to);
  return 0;
}
