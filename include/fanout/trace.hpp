// --trace FILE.json: Chrome trace-event JSON (opens in Perfetto), one lane
// per worker (thread, process or coroutine slot), a span per request and
// per phase: queued, dns, connect, tls, send, wait (for the first byte),
// receive. --trace FILE.svg: the same drawn as a static timeline.
#pragma once
#include <cstdio>
#include <string>

#include "fanout/model.hpp"

namespace fanout {

// f: path, opened before the run (so a path that cannot be written is found
// then); closed here.
bool write_trace(FILE* f, const std::string& path, const Run& run, Clock::time_point t0, std::string& err);

}  // namespace fanout
