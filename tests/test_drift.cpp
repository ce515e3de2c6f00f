// The drift issue 10 found between the blocking and the loop models, tested
// now that one engine decides for both: bytes a server sends unasked on a
// kept-alive connection never become the next URL's answer, and 40 KB of
// blank lines before a response is the same outcome in every model.
#include <doctest/doctest.h>

#include "proc.hpp"
#include "util.hpp"

TEST_CASE("drift: unasked bytes on a kept-alive connection and blank lines before a response, alike in every model") {
  t::Origin o;
  const std::vector<std::pair<std::string, int>> want = {
    {"/unasked?status=408", 200}, {"/status/201", 201}, {"/unasked?status=200", 200},
    {"/status/202", 202},         {"/blanks/40000", 200}, {"/status/203", 203},
  };
  std::string list;
  for (auto& [path, status] : want) list += o.url(path) + "\n";
  for (const char* model : t::models()) {
    INFO("model " << std::string(model));
    std::string results = t::temp_dir() + "/drift-" + model + ".jsonl";
    // -c 1: each request takes the connection the one before it left.
    t::Ran r = t::fanout({"-m", model, "-c", "1", "-w", "1", "--json", "--results", results, "-"}, list);
    REQUIRE(r.status == 0);
    auto v = t::results(results);
    REQUIRE(v.size() == want.size());
    for (size_t i = 0; i < want.size(); i++) {
      INFO(want[i].first);
      CHECK(v[i]["errormsg"].is_null());
      CHECK(v[i]["http_code"].num == want[i].second);
    }
    // A connection the server wrote to unasked is not used again: one to
    // start with, and a new one after each of the two.
    tj::Value j = tj::parse(r.out);
    CHECK(j["connections"]["opened"].num == 3);
  }
}
