// Native benchmark CLI: one JSON line per measurement.
//   kyutai_bench bandwidth MB THREADS | gemv K N FORMAT cold|hot THREADS | frame SHAPE FORMAT THREADS FRAMES
//                | mimi THREADS FRAMES | mimi-layers THREADS FRAMES | mac-rate MS | mimi-checkpoint OUT
//                | quant-accuracy Q8_0|Q4_K DISTRIBUTION OUT IN
#include <cstdio>
#include <cstdlib>
#include <string>

#include "bench_core.h"
#include "bench_mimi.h"
#include "mac_rate.h"

int main(int argc, char** argv) {
  std::string mode = argc > 1 ? argv[1] : "";
  auto arg = [&](int i) { return i < argc ? std::string(argv[i]) : std::string(); };
  std::string out;
  if (mode == "bandwidth" && argc == 4) out = kyutai::bench::read_bandwidth(std::atoi(argv[2]), std::atoi(argv[3]));
  else if (mode == "gemv" && argc == 7)
    out = kyutai::bench::gemv(std::atoi(argv[2]), std::atoi(argv[3]), arg(4), arg(5) == "cold", std::atoi(argv[6]));
  else if (mode == "frame" && argc == 6)
    out = kyutai::bench::frame(arg(2), arg(3), std::atoi(argv[4]), std::atoi(argv[5]));
  else if (mode == "mimi" && argc == 4) out = kyutai::bench::mimi_frame(std::atoi(argv[2]), std::atoi(argv[3]));
  else if (mode == "mimi-layers" && argc == 4) out = kyutai::bench::mimi_layers(std::atoi(argv[2]), std::atoi(argv[3]));
  else if (mode == "mimi-checkpoint" && argc == 3) out = kyutai::bench::mimi_checkpoint(arg(2));
  else if (mode == "mac-rate" && argc == 3) out = kyutai::bench::mac_rate(std::atof(argv[2]));
  else if (mode == "quant-accuracy" && argc == 6)
    out = kyutai::bench::quant_accuracy(arg(2), arg(3), std::atoi(argv[4]), std::atoi(argv[5]));
  else {
    std::fprintf(
        stderr,
        "usage: kyutai_bench bandwidth MB THREADS | gemv K N FORMAT cold|hot THREADS | frame SHAPE FORMAT "
        "THREADS FRAMES | mimi THREADS FRAMES | mimi-layers THREADS FRAMES | mac-rate MS | mimi-checkpoint OUT "
        "| quant-accuracy Q8_0|Q4_K DISTRIBUTION OUT IN\n");
    return 2;
  }
  std::printf("%s\n", out.c_str());
  return 0;
}
