// Mimi codec benchmark at the released shape (Kyutai's loaders._mimi_config: SEANet with
// dimension 512 and 64 filters, ratios 8 6 5 4, 8-layer transformers of width 512 with a
// context of 250, 32 codebooks of 2048), weights generated in memory.
#pragma once

#include <string>

namespace kyutai::bench {

// Streams `frames` 80 ms frames through encode_step and then decode_step of one MimiState
// (all 32 codebooks) on `threads` threads, after a few warm-up frames. One JSON line:
// median encode and decode ms per frame, their real-time factor (ms / 80), load time, heap.
// Writes the synthetic released-shape Mimi (the tensors and values mimi_frame loads) as an f32
// safetensors file at `path`, for runs through the package (bench/pipeline.mjs). One JSON
// line: path, tensors, bytes and the config as JSON.
std::string mimi_checkpoint(const std::string& path);

// Also the frame's multiply-adds (codec/mimi_cost.h), encode_macs and decode_macs.
std::string mimi_frame(int threads, int frames);

// Every convolution of one streaming frame (mimi_frame_cost's list: SEANet, down/upsampling,
// RVQ projections), each as its own layer with random weights, stepped on a frame's rows from a
// fresh state: one JSON line with per layer its shape, rows per frame, left context (the input
// rows a stateless peer needs besides the new ones), multiply-adds and median ms per frame.
std::string mimi_layers(int threads, int frames);

}  // namespace kyutai::bench
