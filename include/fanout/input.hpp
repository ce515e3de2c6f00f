// The URL list: one URL a line; blank lines and lines starting with '#'
// are skipped; CRLF is tolerated. Every other line becomes one Request,
// numbered by its line, and a line fanout cannot fetch carries an error
// naming the line and what is wrong: it is reported, never dropped.
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "fanout/core.hpp"

namespace fanout {

// A line may hold curl's globs: "{a,b}" and "[1-100]" ("[001-100]" pads);
// it then makes one request per combination, all with its line number.
void parse_input(std::string_view text, std::vector<Request>& out);
bool expand_globs(std::string_view s, std::vector<std::string>& out, std::string& why);
// path "-" is standard input. false (and err) only when it cannot be read.
bool read_input(const std::string& path, std::vector<Request>& out, std::string& err);

}  // namespace fanout
