// Real processes for the integration tests: build/origin on a loopback
// port, build/fanout with arguments, and what they printed.
#pragma once
#include <string>
#include <sys/types.h>
#include <vector>

#include "json.hpp"

namespace t {

struct Origin {
  pid_t pid = -1;
  int http = 0, https = 0;
  int hangup = 0, eager = 0;  // with --fault-ports
  // extra: e.g. {"--latency", "50"}; tls: cert and key paths, or empty.
  explicit Origin(std::vector<std::string> extra = {}, const std::string& cert = "", const std::string& key = "");
  ~Origin();
  Origin(const Origin&) = delete;
  Origin& operator=(const Origin&) = delete;
  std::string url(const std::string& path) const;   // http://127.0.0.1:PORT/path
  std::string tls_url(const std::string& path) const;  // https://localhost:PORT/path
};

// build/dnsd on a loopback port (UDP and TCP); log: where it writes each query.
struct Dnsd {
  pid_t pid = -1;
  int port = 0;
  std::string log;
  Dnsd();
  ~Dnsd();
  Dnsd(const Dnsd&) = delete;
  Dnsd& operator=(const Dnsd&) = delete;
  std::string server() const { return "127.0.0.1:" + std::to_string(port); }  // for --dns-server
};

struct Ran {
  int status = -1;  // exit code, or 128+signal
  std::string out, err;
};

// Starts build/fanout; with wait=false returns at once (pid in *pid).
Ran fanout(const std::vector<std::string>& args, const std::string& stdin_text = "");
pid_t spawn_fanout(const std::vector<std::string>& args, const std::string& out_path);
// The same with stdin from in_path (a FIFO, say); stderr goes to out_path + ".err".
pid_t spawn(const std::vector<std::string>& args, const std::string& in_path, const std::string& out_path);
// The exit status; a process still running after kWaitLimit seconds fails
// the test, and is killed (128 + 9).
constexpr double kWaitLimit = 600;
int wait_exit(pid_t pid);
// Waits until the file has k lines, pid has ended, or the seconds pass;
// returns its lines then. For "mid-run" without guessing a sleep.
size_t wait_lines(const std::string& path, size_t k, pid_t pid, double seconds = 30);
std::vector<pid_t> children(pid_t pid);

// origin's /stats (connections open now, and the most at once), fetched by
// fanout; "?reset=1" starts the count again.
tj::Value origin_stats(const Origin& o, const std::string& query = "");

std::string certs();     // makes the test PKI once (build/certgen); returns its dir
int free_port();         // a loopback port nothing listens on
std::vector<tj::Value> jsonl(const std::string& path);
// A --results file (written as results land), in input order.
std::vector<tj::Value> results(const std::string& path);
// The exit status the README's rule gives a run with these results (in
// input order): the first failed line's curl code (1 where curl has none),
// 22 for a status >= 400 under -f; 0 when none failed.
int exit_rule(const std::vector<tj::Value>& results, bool fail = false);

}  // namespace t
