// Mimi codec benchmark at the released shape (Kyutai's loaders._mimi_config: SEANet with
// dimension 512 and 64 filters, ratios 8 6 5 4, 8-layer transformers of width 512 with a
// context of 250, 32 codebooks of 2048), weights generated in memory.
#pragma once

#include <string>

namespace kyutai::bench {

// Streams `frames` 80 ms frames through encode_step and then decode_step of one MimiState
// (all 32 codebooks) on `threads` threads, after a few warm-up frames. One JSON line:
// median encode and decode ms per frame, their real-time factor (ms / 80), load time, heap.
std::string mimi_frame(int threads, int frames);

}  // namespace kyutai::bench
