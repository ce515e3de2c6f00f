// --trace: Chrome trace-event JSON that holds to its schema, and an SVG
// timeline with one lane per worker, for 200 URLs under threads and async.
#include <doctest/doctest.h>

#include <map>
#include <set>

#include "json.hpp"
#include "proc.hpp"
#include "util.hpp"
#include "xml.hpp"

TEST_CASE("trace: 200 URLs under threads and async, as trace events and as a timeline") {
  t::Origin o({"--latency", "5"});
  std::string list;
  for (int i = 0; i < 200; i++) list += o.url("/bytes/500?i=" + std::to_string(i)) + "\n";
  const std::set<std::string> phases = {"queued", "dns", "connect", "tls", "send", "wait", "receive", "failed"};
  for (const char* model : {"threads", "async"}) {
    INFO(model);
    std::string json_path = t::temp_dir() + "/trace-" + model + ".json", svg_path = t::temp_dir() + "/trace-" + model + ".svg";
    REQUIRE(t::fanout({"-m", model, "-c", "10", "--trace", json_path, "-"}, list).status == 0);
    REQUIRE(t::fanout({"-m", model, "-c", "10", "--trace", svg_path, "-"}, list).status == 0);

    std::string text;
    REQUIRE(t::read_file(json_path, text));
    tj::Value v = tj::parse(text);
    CHECK(v["displayTimeUnit"].str == "ms");
    const auto& events = v["traceEvents"].arr;
    struct Req { double ts, end; int pid, tid; };
    std::map<int, Req> requests;  // by line
    std::set<std::pair<int, int>> lanes, named;
    for (auto& e : events) {
      REQUIRE(e.kind == tj::Value::object);
      std::string ph = e["ph"].str;
      REQUIRE((ph == "X" || ph == "M"));
      int pid = int(e["pid"].num), tid = int(e["tid"].num);
      if (ph == "M") {
        CHECK(e["name"].str == "thread_name");
        CHECK(!e["args"]["name"].str.empty());
        named.insert({pid, tid});
        continue;
      }
      CHECK(e["cat"].str == "fanout");
      CHECK(e["ts"].num >= 0);
      CHECK(e["dur"].num >= 0);
      int line = int(e["args"]["line"].num);
      lanes.insert({pid, tid});
      if (e["name"].str == "request") {
        CHECK(requests.count(line) == 0);
        requests[line] = {e["ts"].num, e["ts"].num + e["dur"].num, pid, tid};
        CHECK(e["args"]["status"].num == 200);
      } else {
        CHECK(phases.count(e["name"].str) == 1);
      }
    }
    REQUIRE(requests.size() == 200);
    CHECK(requests.begin()->first == 1);
    CHECK(requests.rbegin()->first == 200);
    CHECK(lanes.size() == 10);
    CHECK(named == lanes);
    // Every phase lies inside its request, on the same lane ("queued" before it).
    for (auto& e : events) {
      if (e["ph"].str != "X" || e["name"].str == "request") continue;
      const Req& r = requests[int(e["args"]["line"].num)];
      CHECK(int(e["pid"].num) == r.pid);
      CHECK(int(e["tid"].num) == r.tid);
      double from = e["ts"].num, to = from + e["dur"].num;
      if (e["name"].str == "queued") CHECK(to <= r.ts + 0.01);
      else CHECK((from >= r.ts - 0.01 && to <= r.end + 0.01));
    }

    REQUIRE(t::read_file(svg_path, text));
    auto root = tx::parse(text);
    std::vector<const tx::Node*> groups;
    root->all("g", groups);
    int lane_rows = 0;
    for (auto* g : groups) lane_rows += g->attr("class") == "lane";
    CHECK(lane_rows == 10);  // one per thread, one per coroutine slot
  }
}
