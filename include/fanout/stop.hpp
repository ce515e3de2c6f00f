// SIGINT and SIGTERM: stop taking work, give the requests in flight
// --grace seconds to finish, then cancel them; a second signal cancels
// them at once. Each of the two is told on stderr as it comes. The handler only records
// which signal came and when; every wait in fanout (poll, epoll_wait) is
// interrupted by it (EINTR) and looks again at the deadlines below.
// Installed with SA_RESTART, so reads and writes carry on as before.
#pragma once
#include <atomic>

#include "fanout/core.hpp"

namespace fanout::stop {

void install(double grace_s);  // before any thread or fork: they inherit it
bool requested();              // a signal came
int signal();                  // which one (0: none)
int count();                   // how many came (a second: stop now)
// Requests taken and not yet landed, for the first signal's word.
extern std::atomic<int64_t> g_inflight;
// requested(): when requests still in flight are cancelled (the signal's
// time plus the grace); otherwise far away.
Deadline cancel_at();
// The signals go to the main thread only: a thread calls this first.
void block_here();
const char* name(int sig);     // "SIGINT"

}  // namespace fanout::stop
