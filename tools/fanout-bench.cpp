// fanout-bench: `fanout bench` (src/bench.cpp), a binary of its own so that
// the bench driver and its charts cost the fanout a board keeps nothing:
// fanout execs this one, found next to it.
#include "fanout/bench.hpp"

int main(int argc, char** argv) { return fanout::bench_main(argc, argv); }
