// Progress on stderr while a run goes: done/total, rate, errors, ETA.
// On by default when stderr is a terminal (one line, redrawn), off
// otherwise; --progress forces it (a line a second when not a terminal).
// A ticker thread draws it; models only call done() as results land.
#pragma once
#include <cstddef>

namespace fanout::progress {

void start(size_t total, bool enabled);  // total 0: not known (no ETA)
void done(bool error);  // any thread; a relaxed atomic add
void stop();            // clears the line

}  // namespace fanout::progress
