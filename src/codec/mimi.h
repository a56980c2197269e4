// Kyutai's Mimi codec (moshi.models.compression.MimiModel): SEANet encoder, encoder
// transformer, learnt stride-2 downsampling to 12.5 Hz, split RVQ; and back through the
// channel-wise upsampling, decoder transformer and SEANet decoder. Weights are read once;
// streaming state lives outside the model (MimiState), so sessions can share one model.
//
// Whole clips and streams run the same per-frame code. A stream keeps Kyutai's ring KV cache
// of `context` entries, so once more than `context` transformer steps have run, its codes and
// audio differ from a whole-clip pass, exactly as Kyutai's `streaming()` mode does.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "codec/conv.h"
#include "codec/mimi_config.h"
#include "codec/quantizer.h"
#include "codec/seanet.h"
#include "core/thread_pool.h"
#include "nn/linear.h"
#include "nn/transformer.h"
#include "nn/weight_loader.h"

namespace kyutai {

// Codes of a clip: data[codebook * frames + frame], codebook 0 the semantic one.
struct MimiCodes {
  int codebooks = 0;
  int frames = 0;
  std::vector<int32_t> data;
  int32_t at(int codebook, int frame) const { return data[size_t(codebook) * frames + frame]; }
};

// The un-quantized latent of a clip (Kyutai's encode_to_latent(x, quantize=False)): data[channel
// * frames + frame], the [dim, frames] layout of a kyutai/tts-voices speaker_wavs tensor.
struct MimiLatent {
  int dim = 0, frames = 0;
  std::vector<float> data;
};

// Intermediate signals of a whole-clip encode/decode, for conformance tests, in Kyutai's
// layout [channels][time] (batch dropped). encode fills the first three, decode the rest.
struct MimiIntermediates {
  std::vector<float> seanet_encoder_out;       // [dimension][encoder steps]
  std::vector<float> encoder_transformer_out;  // [dimension][encoder steps]
  std::vector<float> latent;                   // [dimension][frames], before quantization
  std::vector<float> quantized_latent;         // [dimension][frames]
  std::vector<float> upsampled;                // [dimension][encoder steps]
  std::vector<float> decoder_transformer_out;  // [dimension][encoder steps]
};

struct MimiEncoderState {
  SeanetState seanet;
  TransformerState transformer;
  Conv1dState downsample;
  std::vector<float> steps, latent;  // scratch: [encoder steps][dim], [frames][dim]
  void reset();
};

struct MimiDecoderState {
  ConvTranspose1dState upsample;
  TransformerState transformer;
  SeanetState seanet;
  std::vector<float> latent, steps;  // scratch: [frames][dim], [encoder steps][dim]
  void reset();
};

// One stream (batch 1): codes per frame, encoder and decoder halves (independent).
struct MimiState {
  int codebooks = 0;
  MimiEncoderState encoder;
  MimiDecoderState decoder;
  void reset() {
    encoder.reset();
    decoder.reset();
  }
};

// Kyutai's ProjectedTransformer: optional linear projections around a StreamingTransformer.
struct MimiTransformer {
  explicit MimiTransformer(const MimiTransformerConfig& config);
  void declare_weights(WeightLoader& loader, const std::string& prefix);
  // x [steps][dimension], in place.
  void forward(float* x, int steps, TransformerState& state, ThreadPool* pool) const;

  int dimension = 0;
  bool projected_in = false, projected_out = false;
  Linear input_proj, output_proj;
  Transformer transformer;
};

class Mimi {
 public:
  Mimi(MimiConfig config, const LoadOptions& options);
  Mimi(const Mimi&) = delete;
  Mimi& operator=(const Mimi&) = delete;

  void declare_weights(WeightLoader& loader);
  void prepare();  // once, after every weight arrived

  const MimiConfig& config() const { return config_; }
  int frame_size() const { return config_.frame_size(); }
  int sample_rate() const { return config_.sample_rate; }
  double frame_rate() const { return config_.frame_rate; }
  int num_codebooks() const { return quantizer_.total_codebooks(); }
  int cardinality() const { return quantizer_.bins(); }  // codes are 0 .. cardinality-1
  ThreadPool* pool() const { return pool_.get(); }
  // Whole clips run in chunks of this many frames, which bounds their memory; the result
  // does not depend on it (the KV cache is sized so no chunk loses a key of its window).
  // Not to be called while another thread encodes or decodes.
  void set_whole_clip_chunk_frames(int frames);
  int whole_clip_chunk_frames() const { return chunk_frames_; }

  // --- whole clips -------------------------------------------------------------------
  // pcm (mono, `samples` values) zero-padded on the right to whole frames -> codes.
  MimiCodes encode(const float* pcm, size_t samples, int codebooks, MimiIntermediates* inter = nullptr) const;
  // pcm (mono, at least one sample) zero-padded on the right to whole frames -> the latent
  // before quantization, as encode computes it.
  MimiLatent encode_to_latent(const float* pcm, size_t samples) const;
  // codes[codebook * frames + frame] -> frames * frame_size() samples (not trimmed).
  std::vector<float> decode(const int32_t* codes, int codebooks, int frames, MimiIntermediates* inter = nullptr) const;

  // --- streaming, one frame at a time -------------------------------------------------
  MimiState new_state() const { return new_state(num_codebooks()); }
  MimiState new_state(int codebooks) const;
  // frame_size() samples -> state.codebooks codes.
  void encode_step(const float* frame, MimiState& state, int32_t* codes) const;
  // state.codebooks codes -> frame_size() samples.
  void decode_step(const int32_t* codes, MimiState& state, float* pcm) const;

 private:
  MimiEncoderState new_encoder_state(int transformer_capacity) const;
  MimiDecoderState new_decoder_state(int transformer_capacity) const;
  // Capacity for a whole clip of `steps` transformer steps run in chunks of `chunk_steps`:
  // enough that no key within the context window is ever evicted (a full pass).
  int whole_clip_capacity(int steps, int chunk_steps) const;
  void check_finite(const float* pcm, size_t samples) const;
  void check_codes(const int32_t* codes, int code_stride, int codebooks, int frames) const;
  // The shared per-chunk pipelines; `inter` receives time-major [time][dim] rows.
  // encode_latent_frames returns the latent rows [frames][dim] (in st's scratch).
  const float* encode_latent_frames(const float* pcm, int frames, MimiEncoderState& st, MimiIntermediates* inter) const;
  void encode_frames(const float* pcm, int frames, MimiEncoderState& st, int codebooks, int32_t* codes, int code_stride,
                     MimiIntermediates* inter) const;
  // A whole clip zero-padded to `frames` frames, encoded chunk by chunk: on_latent(rows
  // [n][dim], first frame, n) for each chunk.
  void encode_clip(const float* pcm, size_t samples, int frames, MimiIntermediates* inter,
                   const std::function<void(const float*, int, int)>& on_latent) const;
  int clip_frames(size_t samples) const;  // frames of a whole clip, refused past the limit
  void decode_frames(const int32_t* codes, int code_stride, int codebooks, int frames, MimiDecoderState& st, float* pcm,
                     MimiIntermediates* inter) const;

  MimiConfig config_;
  std::unique_ptr<ThreadPool> pool_;
  int steps_per_frame_ = 1;  // encoder steps per codec frame (the resampling stride)
  int chunk_frames_ = 16;
  SeanetEncoder encoder_;
  SeanetDecoder decoder_;
  MimiTransformer encoder_transformer_, decoder_transformer_;
  Conv1d downsample_;
  ConvTranspose1d upsample_;
  SplitRvq quantizer_;
};

// Loading: from a whole safetensors buffer, or tensor by tensor (streamed downloads).
std::unique_ptr<Mimi> load_mimi(const MimiConfig& config, const uint8_t* safetensors, size_t size,
                                const LoadOptions& options = {});

class MimiLoader {
 public:
  MimiLoader(MimiConfig config, const LoadOptions& options);
  void add_tensor(const TensorInfo& info, const uint8_t* bytes) { loader_.add(info, bytes); }
  std::unique_ptr<SafetensorsStream> stream(SafetensorsStream::HeaderCallback on_header = nullptr) {
    return loader_.stream(std::move(on_header));
  }
  // Validates that every tensor arrived and prepares the model; the loader is empty afterwards.
  std::unique_ptr<Mimi> finish();
  size_t tensors_loaded() const { return loader_.tensors_loaded(); }

 private:
  std::unique_ptr<Mimi> model_;
  WeightLoader loader_;
};

}  // namespace kyutai
