// libFuzzer: the results writer and its reader. A --results line is valid
// JSON whatever bytes the URL and the error hold, and reads back to them,
// with any password in them masked (user:***@).
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "fanout/json.hpp"
#include "fanout/report.hpp"
#include "fanout/url.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string s(reinterpret_cast<const char*>(data), size);
  fanout::Request rq;
  rq.line = 7;
  rq.text = s;
  rq.error = "input: line 7: bad";
  fanout::Result r;
  r.line = 7;
  r.fail(fanout::Cause::input, s);
  std::string line = fanout::result_line(rq, r);
  std::vector<fanout::json::Field> fields;
  if (!fanout::json::flat_object(std::string_view(line).substr(0, line.size() - 1), fields)) __builtin_trap();
  bool url = false, msg = false;
  std::string masked = fanout::mask_password(s);
  for (auto& f : fields) {
    if (f.name == "url") url = f.value == masked;
    if (f.name == "errormsg") msg = f.value == masked;
  }
  if (!url || !msg) __builtin_trap();
  return 0;
}
