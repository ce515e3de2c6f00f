// Just enough JSON for --merge-json: is a body one JSON array, and where
// are its elements? A validator that allocates nothing (RFC 8259).
#pragma once
#include <string>
#include <string_view>

namespace fanout::json {

// true: body is a JSON array; *inner is the text between its brackets,
// trimmed (empty for []). false: *why says what is wrong, and where.
bool array_inner(std::string_view body, std::string_view* inner, std::string* why);

}  // namespace fanout::json
