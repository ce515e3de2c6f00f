#include "fanout/journal.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <unistd.h>
#include <vector>

#include "fanout/input.hpp"
#include "fanout/json.hpp"
#include "fanout/report.hpp"
#include "fanout/tally.hpp"
#include "sys.hpp"

namespace fanout {
namespace {

Cause cause_named(std::string_view name) {
  for (int c = 0; c < kCauses; c++)
    if (name == cause_name(Cause(c))) return Cause(c);
  return Cause::http;  // a name of a later version: an error all the same
}

bool parse_record(std::string_view text, Record& rec) {
  std::vector<json::Field> fields;
  if (!json::flat_object(text, fields)) return false;
  rec = Record{};
  bool has_line = false, has_url = false;
  std::string error;
  int code = 0;
  double corrected = -1;
  for (auto& f : fields) {
    if (f.name == "line") has_line = (rec.line = uint32_t(strtoul(f.value.c_str(), nullptr, 10))) > 0;
    else if (f.name == "url" && f.is_string) has_url = true, rec.url = f.value;
    else if (f.name == "http_code") rec.r.status = atoi(f.value.c_str());
    else if (f.name == "time_total") rec.r.ms = strtod(f.value.c_str(), nullptr) * 1000;
    else if (f.name == "time_corrected") corrected = strtod(f.value.c_str(), nullptr) * 1000;
    else if (f.name == "omitted") rec.r.omitted = uint32_t(std::min(strtoul(f.value.c_str(), nullptr, 10), kMostOmitted));
    else if (f.name == "errormsg" && f.is_string) error = f.value;
    else if (f.name == "cause" && f.is_string) rec.r.cause = cause_named(f.value);
    else if (f.name == "skipped") rec.r.skipped = f.value == "true";
    else if (f.name == "not_modified") rec.r.not_modified = f.value == "true";
    else if (f.name == "etag" && f.is_string) rec.r.etag = f.value;
    else if (f.name == "last_modified" && f.is_string) rec.r.last_modified = f.value;
    else if (f.name == "exitcode" && !f.is_string && f.value != "null") code = atoi(f.value.c_str());
  }
  if (!error.empty()) rec.r.fail(rec.r.cause == Cause::none ? Cause::http : rec.r.cause, error, code);
  rec.r.line = rec.line;
  if (corrected >= 0) rec.r.late_ms = float(std::max(0.0, corrected - rec.r.ms));
  return has_line && has_url;
}

}  // namespace

bool read_results(const std::string& path, bool trim, const std::function<void(const Record&)>& each, std::string& err) {
  int fd = sys::open(path.c_str(), (trim ? O_RDWR : O_RDONLY) | O_CLOEXEC);
  if (fd < 0 && errno == ENOENT) return true;
  if (fd < 0) {
    err = sys::describe("open(" + path + ")", errno);
    return false;
  }
  std::string buf;
  off_t whole = 0;  // bytes up to the end of the last whole line
  char chunk[65536];
  Record rec;
  for (;;) {
    ssize_t n = sys::read(fd, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      err = sys::describe("read(" + path + ")", errno);
      sys::close(fd);
      return false;
    }
    if (n == 0) break;
    buf.append(chunk, size_t(n));
    size_t at = 0;
    for (size_t nl; (nl = buf.find('\n', at)) != std::string::npos; at = nl + 1) {
      whole += off_t(nl + 1 - at);
      if (parse_record(std::string_view(buf).substr(at, nl - at), rec)) each(rec);
    }
    buf.erase(0, at);
  }
  if (trim && !buf.empty() && ftruncate(fd, whole) < 0) {
    err = sys::describe("ftruncate(" + path + ")", errno);
    sys::close(fd);
    return false;
  }
  sys::close(fd);
  return true;
}

int merge_main(int argc, char** argv) {
  bool json = false, quiet = false;
  Config cfg;  // what decides a line's exit code: --fail
  std::vector<std::string> files;
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    if (a == "--json") json = true;
    else if (a == "-f" || a == "--fail") cfg.fail = true;
    else if (a == "-s" || a == "--silent") quiet = true;
    else if (a == "-h" || a == "--help") {
      printf("usage: fanout merge [--json] [-f] [-s] FILE...\n"
             "Adds up --results files (the shards of one list, say) into one summary:\n"
             "the status histogram, the errors by cause, the latency (and under --rate\n"
             "the corrected latency) and the hosts with the most failures and the slowest.\n"
             "The failed lines are listed on standard error and the exit status is one\n"
             "run's: curl's code of the first failed line in input order, 0 if none failed.\n"
             "  -f, --fail    a status of 400 or more fails its line (22), as fanout -f\n"
             "  -s, --silent  no list of failed lines\n");
      return 0;
    } else if (a.size() > 1 && a[0] == '-') {
      fprintf(stderr, "fanout merge: unknown option %s\n", a.c_str());
      return 2;
    } else files.push_back(a);
  }
  if (files.empty()) {
    fprintf(stderr, "fanout merge: no files (usage: fanout merge [--json] [-f] [-s] FILE...)\n");
    return 2;
  }
  Tally t;
  Failures failed;
  std::vector<uint64_t> keys;
  std::string err;
  for (auto& f : files) {
    if (access(f.c_str(), R_OK) != 0) {
      fprintf(stderr, "fanout merge: %s: %s\n", f.c_str(), strerror(errno));
      return 1;
    }
    bool ok = read_results(f, false, [&](const Record& rec) {
      t.add(rec.r);
      if (Url u; parse_url(rec.url, u) == UrlError::none) t.hosts.add(u.authority(), rec.r);
      keys.push_back(request_key(rec.line, rec.url));
      Request rq;  // the line's place in input order is its number: shards keep it
      rq.line = rq.seq = rec.line;
      rq.text = rec.url;
      note_failure(failed, cfg, rq, rec.r);
    }, err);
    if (!ok) {
      fprintf(stderr, "fanout merge: %s\n", err.c_str());
      return 1;
    }
  }
  std::sort(keys.begin(), keys.end());
  size_t twice = 0;
  for (size_t i = 1; i < keys.size(); i++) twice += keys[i] == keys[i - 1];
  if (twice)
    fprintf(stderr, "fanout merge: %zu results are of a line and URL seen before (each counted: were two shards the same?)\n",
            twice);
  if (json) {
    std::string e = "{";
    for (auto& [k, n] : t.errors) e += (e.size() > 1 ? ", " : "") + json_string(k) + ": " + std::to_string(n);
    std::string k = corrected_json(t.corrected);  // --rate's runs: ", " ended
    if (!k.empty()) k = ", " + k.substr(0, k.size() - 2);
    printf("{\"files\": %zu, \"urls\": %llu, \"statuses\": %s, \"errors\": %s}, \"skipped\": %llu, "
           "\"latency_ms\": {\"p50\": %.3f, \"p90\": %.3f, \"p99\": %.3f, \"max\": %.3f}%s%s, \"failed\": %s}\n",
           files.size(), (unsigned long long)t.results, t.histogram(false).c_str(), e.c_str(),
           (unsigned long long)t.skipped, t.latency.percentile(0.5), t.latency.percentile(0.9),
           t.latency.percentile(0.99), t.latency.max(), k.c_str(), hosts_json(t.hosts).c_str(),
           failures_json(failed).c_str());
  } else {
    printf("%s\nmerged %s from %s\n", t.histogram().c_str(), plural(t.results, "result", "results").c_str(),
           plural(files.size(), "file", "files").c_str());
    print_hosts(stdout, t.hosts);
  }
  if (fflush(stdout) != 0 || ferror(stdout)) return 1;
  if (!quiet) print_failures(stderr, failed, t.results, "the files have every line");
  return failed.first() ? failed.first()->code : 0;
}

}  // namespace fanout
