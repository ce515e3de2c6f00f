// --results files read back: --resume finds the lines a run already has,
// and `fanout merge` adds up the results of several runs (--shard).
#pragma once
#include <functional>
#include <string>

#include "fanout/core.hpp"

namespace fanout {

struct Record {
  uint32_t line = 0;
  std::string url;  // the request as given ("url")
  Result r;         // its outcome: status, cause, skipped, ms
};

// Every whole record of path, in file order. A last line cut short (a run
// killed mid-write) is no record; with trim it is cut off the file, so that
// what is appended starts on a line of its own. false (and err) if path
// cannot be read; a path that does not exist has no records.
bool read_results(const std::string& path, bool trim, const std::function<void(const Record&)>& each, std::string& err);

// fanout merge [--json] FILE...: one summary of several --results files.
int merge_main(int argc, char** argv);

}  // namespace fanout
