// Shared helpers for the tests: where things are, files, processes.
#pragma once
#include <set>
#include <string>
#include <vector>

namespace t {

std::string corpora();               // ../shared/corpora unless FANOUT_CORPORA says
std::string build_dir();             // FANOUT_BUILD or "build"
// The emulator the binaries under test run in (FANOUT_QEMU, e.g.
// "qemu-aarch64": make cross-check), or empty; runner() is it and a space.
std::string qemu();
std::string runner();
bool read_file(const std::string& path, std::string& out);
void write_file(const std::string& path, const std::string& data);
std::string temp_dir();              // one per test run, under build/
std::string temp_file(const std::string& name, const std::string& text);  // written under temp_dir(); its path
void skip(const std::string& what);
// Runs a shell command (a tool of tools/): its exit code (-1: killed), and
// what it printed on stdout (and stderr, with 2>&1) in *out.
int shell(const std::string& cmd, std::string* out);  // print "SKIP: ..." once per reason
// Why this machine gives fanout no io_uring ring (the reason -m uring
// exits 2 with), or "" when it does.
const std::string& uring_why();
// The models every test runs: the five, and uring where the kernel gives a
// ring (elsewhere a skip that says why).
const std::vector<const char*>& models();
// Every file below dir/rel (not the folders), relative to dir; symlinks too.
void files_below(const std::string& dir, const std::string& rel, std::set<std::string>& out);
// Built with ThreadSanitizer (and so is build/fanout, the same SANITIZER):
// its runtime makes syscalls and holds file descriptors of its own.
#if defined(__SANITIZE_THREAD__)
#define T_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define T_TSAN 1
#endif
#endif
#ifdef T_TSAN
constexpr bool kTsan = true;
#else
constexpr bool kTsan = false;
#endif
// Built with AddressSanitizer: its runtime makes syscalls of its own, and
// LeakSanitizer cannot run under ptrace (strace).
#if defined(__SANITIZE_ADDRESS__)
#define T_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define T_ASAN 1
#endif
#endif
#ifdef T_ASAN
constexpr bool kAsan = true;
#else
constexpr bool kAsan = false;
#endif
// A wait for "mid-run" where nothing can be watched instead: native
// microseconds, longer where everything is slower (a sanitizer 2x, qemu 4x).
inline unsigned mid_run(unsigned native_us) {
  return native_us * (!qemu().empty() ? 4 : kAsan || kTsan ? 2 : 1);
}
// A public test suite from ../shared/corpora is missing: a skip on a
// developer's machine, a failure under CI (CI=true), where it must be.
void no_corpus(const std::string& what);
// The names in dir that keep() accepts, sorted; false if dir is not there.
bool files_in(const std::string& dir, bool (*keep)(const char* name), std::vector<std::string>& out);

}  // namespace t
