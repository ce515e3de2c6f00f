// Just enough JSON for --merge-json (is a body one JSON array, and where
// are its elements? A validator that allocates nothing, RFC 8259), and to
// read --results lines back (--resume, fanout merge).
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace fanout::json {

// The length of the valid UTF-8 sequence at s[i], or 0 (RFC 3629: no
// overlong forms, no surrogates, nothing past U+10FFFF).
size_t utf8_len(std::string_view s, size_t i);

// true: body is a JSON array (and UTF-8); *inner is the text between its brackets,
// trimmed (empty for []). false: *why says what is wrong, and where.
bool array_inner(std::string_view body, std::string_view* inner, std::string* why);

// A flat JSON object ({"name": value, ...}, no object or array inside),
// as --results writes its lines: each member, strings decoded, other
// values as written (12, null, true). false if it is not one.
struct Field {
  std::string name, value;
  bool is_string = false;
};
bool flat_object(std::string_view text, std::vector<Field>& out);

}  // namespace fanout::json
