// fanout's own syscall counts against strace's, for all five models
// (tools/strace-check; it says why when it cannot check, e.g. no ptrace).
#include <doctest/doctest.h>

#include <cstdio>
#include <sys/wait.h>

#include "util.hpp"

TEST_CASE("strace-check: fanout's syscall counts agree with strace -f -c for every model") {
  if (t::kTsan || t::kAsan) {
    t::skip(t::kTsan ? "strace-check: ThreadSanitizer's runtime reads /proc and starts a thread of its own"
                     : "strace-check: AddressSanitizer's runtime makes syscalls of its own, and LeakSanitizer cannot run under strace");
    return;
  }
  std::string cmd = "tools/strace-check " + t::build_dir() + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  REQUIRE(p != nullptr);
  std::string out;
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  int st = pclose(p);
  int code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  if (code == 3) {
    t::skip(out.substr(0, out.find('\n')));
    return;
  }
  INFO(out);
  CHECK(code == 0);
  for (const char* model : {"seq", "threads", "procs", "async", "hybrid"})
    CHECK(out.find(std::string("strace-check ") + model + " (fanout/strace) agree:") != std::string::npos);
}
