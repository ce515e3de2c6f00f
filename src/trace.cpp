#include "fanout/trace.hpp"

#include <algorithm>
#include <cmath>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <vector>

#include "fanout/latency.hpp"
#include "fanout/report.hpp"

namespace fanout {
namespace {

constexpr int kRingLane = 1 << 20;  // the ring's batches' lane in the JSON (after every slot's)

struct Span {
  const char* name;
  int64_t from, to;  // ns, steady clock
};

// The phases one request went through, in order; a reused connection has
// no dns, connect or tls.
std::vector<Span> spans_of(const Result& r, int64_t run_start) {
  std::vector<Span> s;
  const int64_t* at = r.at;
  if (!at[kStart]) return s;
  if (at[kStart] > run_start) s.push_back({"queued", run_start, at[kStart]});
  int64_t prev = at[kStart];
  const std::pair<Phase, const char*> steps[] = {
    {kDns, "dns"}, {kConnect, "connect"}, {kTls, "tls"}, {kSent, "send"}, {kFirstByte, "wait"},
  };
  for (auto& [p, name] : steps) {
    if (!at[p]) continue;
    s.push_back({name, prev, at[p]});
    prev = at[p];
  }
  if (at[kEnd] && at[kEnd] >= prev) s.push_back({at[kFirstByte] ? "receive" : "failed", prev, at[kEnd]});
  // A download's writes to disk, within its receive: from the first write
  // to the rename, drawn as long as the writes took in all.
  if (r.write_from) s.push_back({"write", r.write_from, r.write_from + r.write_ns});
  return s;
}

// (process, lane) of a result: procs and hybrid workers are processes.
std::pair<int, int> lane_of(const Run& run, const Result& r) {
  bool forked = run.cfg.model == "procs" || run.cfg.model == "hybrid";
  return {forked ? r.worker + 1 : 0, r.lane};
}

const char* lane_kind(const std::string& model) {
  if (model == "async" || model == "hybrid" || model == "uring") return "slot";
  if (model == "threads") return "thread";
  if (model == "procs") return "process";
  return "loop";
}

const char* color(const char* phase) {
  static const std::pair<const char*, const char*> colors[] = {
    {"queued", "#eeeeee"}, {"dns", "#9467bd"}, {"connect", "#ff7f0e"}, {"tls", "#d62728"},
    {"send", "#1f77b4"}, {"wait", "#aec7e8"}, {"receive", "#2ca02c"}, {"write", "#8c564b"}, {"failed", "#000000"},
  };
  for (auto& c : colors)
    if (strcmp(c.first, phase) == 0) return c.second;
  return "#000000";
}

std::string chrome_json(const Run& run, int64_t t0) {
  std::string s = "{\"displayTimeUnit\": \"ms\", \"traceEvents\": [\n";
  std::map<std::pair<int, int>, bool> lanes;
  char buf[512];
  bool first = true;
  auto event = [&](const char* name, int pid, int tid, int64_t from, int64_t to, const std::string& args) {
    snprintf(buf, sizeof buf,
             "%s{\"name\": \"%s\", \"cat\": \"fanout\", \"ph\": \"X\", \"ts\": %.3f, \"dur\": %.3f, \"pid\": %d, "
             "\"tid\": %d, \"args\": %s}",
             first ? "" : ",\n", name, double(from - t0) / 1000, double(to - from) / 1000, pid, tid, args.c_str());
    s += buf;
    first = false;
  };
  for (auto& [text, seq, r] : run.traced) {
    if (!r.at[kStart]) continue;  // never started (a worker that could not be)
    auto [pid, tid] = lane_of(run, r);
    lanes[{pid, tid}] = true;
    std::string args = "{\"line\": " + std::to_string(r.line) + ", \"url\": " + json_string(text) +
                       ", \"status\": " + (r.ok() ? std::to_string(r.status) : "null") +
                       ", \"error\": " + (r.ok() ? "null" : json_string(r.error)) + "}";
    event("request", pid, tid, r.at[kStart], r.at[kEnd] ? r.at[kEnd] : r.at[kStart], args);
    for (auto& sp : spans_of(r, t0))
      event(sp.name, pid, tid, sp.from, sp.to, "{\"line\": " + std::to_string(r.line) + "}");
  }
  // A ring's io_uring_enter calls (-m uring's, or each hybrid --io-uring
  // worker's), on a lane of their own in its process: how many operations
  // each gave the kernel, and how many completions came back.
  std::map<int, bool> rings;
  for (const RingBatch& b : run.batches) {
    int pid = b.worker < 0 ? 0 : b.worker + 1;
    rings[pid] = true;
    event("io_uring_enter", pid, kRingLane, b.from, b.to,
          "{\"submitted\": " + std::to_string(b.submitted) + ", \"completions\": " + std::to_string(b.reaped) +
              ", \"waited_for\": " + std::to_string(b.wanted) + "}");
  }
  for (auto& [pid, _] : rings) {
    snprintf(buf, sizeof buf, ",\n{\"name\": \"thread_name\", \"ph\": \"M\", \"pid\": %d, \"tid\": %d, \"args\": {\"name\": \"io_uring\"}}",
             pid, kRingLane);
    s += buf;
  }
  for (auto& [lane, _] : lanes) {
    snprintf(buf, sizeof buf,
             ",\n{\"name\": \"thread_name\", \"ph\": \"M\", \"pid\": %d, \"tid\": %d, \"args\": {\"name\": \"%s %d\"}}",
             lane.first, lane.second, lane_kind(run.cfg.model), lane.second);
    s += buf;
  }
  return s + "\n]}\n";
}

std::string timeline_svg(const Run& run, int64_t t0) {
  std::map<std::pair<int, int>, std::vector<size_t>> lanes;
  int64_t end = t0;
  for (size_t i = 0; i < run.traced.size(); i++) {
    const Result& r = run.traced[i].r;
    if (!r.at[kStart]) continue;
    lanes[lane_of(run, r)].push_back(i);
    end = std::max(end, r.at[kEnd]);
  }
  const int W = 1000, left = 110, row = 14, top = 56;
  std::map<int, std::vector<const RingBatch*>> rings;  // by worker (-1: the run's own loop)
  for (const RingBatch& b : run.batches) rings[b.worker].push_back(&b);
  int H = top + int(lanes.size() + rings.size()) * row + 56;
  double scale = double(W - left - 20) / double(std::max<int64_t>(1, end - t0));
  char buf[512];
  std::string s = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  snprintf(buf, sizeof buf,
           "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" font-family=\"sans-serif\" "
           "font-size=\"11\">\n<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
           W, H);
  s += buf;
  snprintf(buf, sizeof buf,
           "<text x=\"10\" y=\"20\" font-size=\"14\">fanout %s, c=%d, %zu urls: %.3f s, one row per %s</text>\n",
           run.cfg.model.c_str(), run.cfg.effective_concurrency(), run.traced.size(), double(end - t0) / 1e9,
           lane_kind(run.cfg.model));
  s += buf;
  // As in the seeds' figures: what a worker spent waiting for I/O, and what
  // it spent working (TLS is mostly crypto; send and receive copy and parse).
  const char* legend[] = {"dns", "connect", "wait", "tls", "send", "receive", "write"};
  s += "<text x=\"10\" y=\"39\">waiting for I/O:</text><text x=\"400\" y=\"39\">working:</text>\n";
  for (int i = 0; i < 7; i++) {
    int x = i < 3 ? 110 + i * 90 : 460 + (i - 3) * 90;
    snprintf(buf, sizeof buf,
             "<rect x=\"%d\" y=\"30\" width=\"10\" height=\"10\" fill=\"%s\" stroke=\"#999999\"/><text x=\"%d\" "
             "y=\"39\">%s</text>\n",
             x, color(legend[i]), x + 14, legend[i]);
    s += buf;
  }
  int y = top;
  // A ring's io_uring_enter calls, a row above the slots' (each one's
  // title says what it carried), within the run's time.
  for (auto& [worker, batches] : rings) {
    s += "<g class=\"ring\"><text x=\"10\" y=\"" + std::to_string(y + row - 3) + "\">io_uring_enter" +
         (worker < 0 ? "" : " (w" + std::to_string(worker) + ")") + "</text>";
    for (const RingBatch* bp : batches) {
      const RingBatch& b = *bp;
      if (b.from < t0 || b.from > end) continue;
      snprintf(buf, sizeof buf,
               "<rect x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"%d\" fill=\"#17becf\"><title>%u in, %u out%s</title></rect>",
               left + double(b.from - t0) * scale, y, std::max(0.5, double(std::min(b.to, end) - b.from) * scale), row - 3,
               b.submitted, b.reaped, b.wanted ? (", waited for " + std::to_string(b.wanted)).c_str() : "");
      s += buf;
    }
    s += "</g>\n";
    y += row;
  }
  for (auto& [lane, idx] : lanes) {
    snprintf(buf, sizeof buf, "<g class=\"lane\" data-lane=\"%d.%d\"><text x=\"10\" y=\"%d\">%s %d%s</text>", lane.first,
             lane.second, y + row - 3, lane_kind(run.cfg.model), lane.second,
             lane.first ? (" (w" + std::to_string(lane.first - 1) + ")").c_str() : "");
    s += buf;
    for (size_t i : idx)
      for (auto& sp : spans_of(run.traced[i].r, t0)) {
        if (!strcmp(sp.name, "queued")) continue;  // a lane shows what its worker did
        bool write = !strcmp(sp.name, "write");    // the lower part of its receive
        snprintf(buf, sizeof buf,
                 "<rect x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"%d\" fill=\"%s\"><title>line %u %s</title></rect>",
                 left + double(sp.from - t0) * scale, y + (write ? (row - 3) / 2 : 0), std::max(0.5, double(sp.to - sp.from) * scale),
                 write ? (row - 3) - (row - 3) / 2 : row - 3, color(sp.name), run.traced[i].r.line, sp.name);
        s += buf;
      }
    s += "</g>\n";
    y += row;
  }
  // A time axis of round seconds, and the ideal finish: the requests' own
  // times, in input order, on the best schedule of c slots (what a model
  // with no cost of its own would reach).
  double span = double(end - t0) / 1e9;
  double step = round_step(span, 8);
  int axis = y + 6;
  for (double t = 0; t <= span + step / 1000; t += step) {
    double x = left + t * 1e9 * scale;
    snprintf(buf, sizeof buf,
             "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#999999\"/><text x=\"%.1f\" y=\"%d\" "
             "text-anchor=\"middle\">%g s</text>\n",
             x, axis, x, axis + 4, x, axis + 16, std::round(t / step) * step);
    s += buf;
  }
  std::vector<std::pair<uint32_t, int>> in_order;
  for (auto& tr : run.traced)
    if (tr.r.at[kStart]) in_order.push_back({tr.seq, int(std::max<int64_t>(0, tr.r.at[kEnd] - tr.r.at[kStart]) / 1000)});
  std::sort(in_order.begin(), in_order.end());
  std::vector<int> us;
  for (auto& [seq, d] : in_order) us.push_back(d);
  double ideal_ns = ideal_ms(us, run.cfg.effective_concurrency()) * 1000;  // (microseconds in, here)
  double ix = left + ideal_ns * scale;
  snprintf(buf, sizeof buf,
           "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"black\" stroke-dasharray=\"4,3\"/>"
           "<text x=\"%.1f\" y=\"%d\" font-size=\"10\" text-anchor=\"end\">ideal %.3f s</text>\n",
           ix, top - 4, ix, axis, ix - 3, top - 6, ideal_ns / 1e9);
  s += buf;
  return s + "</svg>\n";
}

}  // namespace

bool write_trace(FILE* f, const std::string& path, const Run& run, Clock::time_point t0, std::string& err) {
  int64_t start = std::chrono::duration_cast<std::chrono::nanoseconds>(t0.time_since_epoch()).count();
  bool svg = path.size() > 4 && path.compare(path.size() - 4, 4, ".svg") == 0;
  std::string text = svg ? timeline_svg(run, start) : chrome_json(run, start);
  bool wrote = fwrite(text.data(), 1, text.size(), f) == text.size();
  if (fclose(f) != 0 || !wrote) {
    err = "--trace " + path + ": " + strerror(errno);
    return false;
  }
  return true;
}

}  // namespace fanout
