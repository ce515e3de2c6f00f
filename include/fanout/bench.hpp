// fanout bench: the seeds' experiment, reproduced on the local origin.
#pragma once

namespace fanout {

int bench_main(int argc, char** argv);  // argv[0] is "bench"

}  // namespace fanout
