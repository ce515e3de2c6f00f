// fanout's options, declared once: one table gives the parser its names,
// --help its text, and the tests the list the README and the man page must
// agree with (curl's src/tool_getparam.c keeps its aliases[] the same way).
//
// Names are matched whole: no prefix of a long name is taken for it
// (getopt's "--outp" for "--output-dir" was a trap), and an unknown one is
// an error that names the options it may have meant.
#pragma once
#include <span>
#include <string>
#include <vector>

#include "fanout/core.hpp"

namespace fanout {

struct Option {
  const char* name;   // the long name, without "--"; null: a heading, help is its title
  char short_name;    // 0: none
  const char* arg;    // what it takes ("N", "FILE"); null: a flag
  const char* help;   // --help's text ('\n' starts a continued line)
  void (*set)(Config& cfg, const char* value);  // value is null for a flag
};

std::span<const Option> options();

// Parses argv[1..] into cfg; the arguments that are not options go to
// args. A bad option or value prints what is wrong and exits 2.
void parse_options(int argc, char** argv, Config& cfg, std::vector<std::string>& args);
// --help: the usage lines, then the table.
std::string help_text();
// Unknown long option: the options it may have meant ("--output FILE or
// --output-dir DIR"), or empty.
std::string suggest(const std::string& name);

[[noreturn]] void usage_error(const std::string& msg);
// What the setters use, for the values main() checks itself (--pages, and
// the shard a Kubernetes or Slurm job gives in its environment).
long long parse_number(const char* opt, const char* s, long long lo, long long hi);
void parse_shard(Config& cfg, const std::string& what, const std::string& s);  // "K/N"

}  // namespace fanout
