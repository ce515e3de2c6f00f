// fanout's own syscall counts against strace's, for all five models
// (tools/strace-check; it says why when it cannot check, e.g. no ptrace).
#include <doctest/doctest.h>

#include <cstdio>
#include <sys/wait.h>
#include <vector>

#include "sys.hpp"
#include "util.hpp"

TEST_CASE("strace-check: fanout's syscall counts agree with strace -f -c for every model") {
  if (t::kTsan || t::kAsan) {
    t::skip(t::kTsan ? "strace-check: ThreadSanitizer's runtime reads /proc and starts a thread of its own"
                     : "strace-check: AddressSanitizer's runtime makes syscalls of its own, and LeakSanitizer cannot run under strace");
    return;
  }
  // Under qemu-user its -strace stands in for strace (tools/strace-check says how).
  std::string cmd = (t::qemu().empty() ? "" : "QEMU=" + t::qemu() + " ") + "tools/strace-check " + t::build_dir() + " 2>&1";
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
  std::vector<const char*> models = t::models();
  if (!t::qemu().empty()) models = {"seq", "async"};  // what qemu's log holds whole
  for (const char* model : models)
    CHECK(out.find(std::string("strace-check ") + model + " (fanout/strace) agree:") != std::string::npos);
}

// The names the cost table gives each counted call, target by target, as
// strace (and qemu-user's -strace, which make cross-check compares) shows
// them there with glibc 2.36: arm64 has no poll, epoll_wait or renameat;
// 32-bit ARM and MIPS have send and recv of their own and stat via statx.
TEST_CASE("syscall names: each target's, as strace shows them there") {
  using namespace fanout::sys;
  struct Row { int call; const char *x86_64, *arm64, *armhf, *mipsel; };
  const Row rows[] = {
    {POLL, "poll", "ppoll", "poll", "poll"},
    {EPOLL_WAIT, "epoll_wait", "epoll_pwait", "epoll_wait", "epoll_wait"},
    {EPOLL_PWAIT2, "epoll_pwait2", "epoll_pwait2", "epoll_pwait2", "epoll_pwait2"},
    {SEND, "sendto", "sendto", "send", "send"},
    {RECV, "recvfrom", "recvfrom", "recv", "recv"},
    {RECVFROM, "recvfrom", "recvfrom", "recvfrom", "recvfrom"},
    {FSTATAT, "newfstatat", "newfstatat", "statx", "statx"},
    {RENAMEAT, "renameat", "renameat2", "renameat", "renameat"},
    {FORK, "clone", "clone", "clone", "clone"},
    {CLONE, "clone3", "clone3", "clone3", "clone3"},
    {WAITPID, "wait4", "wait4", "wait4", "wait4"},
    {PIPE, "pipe2", "pipe2", "pipe2", "pipe2"},
    {OPENAT, "openat", "openat", "openat", "openat"},
  };
  for (const Row& r : rows) {
    INFO("call " << r.call);
    CHECK(std::string(call_name(r.call, Arch::x86_64)) == r.x86_64);
    CHECK(std::string(call_name(r.call, Arch::arm64)) == r.arm64);
    CHECK(std::string(call_name(r.call, Arch::armhf)) == r.armhf);
    CHECK(std::string(call_name(r.call, Arch::mipsel)) == r.mipsel);
  }
  // Every call has a name on every target, and this build names its own.
  for (Arch a : {Arch::x86_64, Arch::arm64, Arch::armhf, Arch::mipsel})
    for (int c = 0; c < NCALLS; c++) CHECK(std::string(call_name(c, a)) != "?");
  CHECK(std::string(call_name(POLL)) == call_name(POLL, kArch));
#if defined(__x86_64__)
  CHECK(kArch == Arch::x86_64);
#elif defined(__aarch64__)
  CHECK(kArch == Arch::arm64);
#endif
}
