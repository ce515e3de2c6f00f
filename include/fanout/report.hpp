// What a run prints: the seeds' status histogram and "took" line, or one
// JSON object (--json); and one JSON line per input line (--results).
#pragma once
#include <cstdio>
#include <string>
#include <vector>

#include "fanout/model.hpp"

namespace fanout {

std::string json_string(std::string_view s);
std::string histogram(const std::vector<Result>& results);  // {"200": 3, "error": 1}
void print_summary(FILE* out, const Run& run, double seconds);
void print_json(FILE* out, const Run& run, double seconds);
bool write_results(const std::string& path, const Run& run, std::string& err);

}  // namespace fanout
