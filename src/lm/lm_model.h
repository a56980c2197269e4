// Kyutai's multistream LM (moshi.models.lm.LMModel): embeddings of the text and audio
// streams, the temporal transformer, the text head, the semantic-VAD extra heads and the
// Depformer. Weights are read once into their final format; streaming state lives outside
// the model (LmState), so several sessions can share one model.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "core/thread_pool.h"
#include "lm/audio_processing.h"
#include "lm/conditioners.h"
#include "lm/depformer.h"
#include "lm/lm_config.h"
#include "lm/tokens.h"
#include "nn/transformer.h"
#include "nn/weight_loader.h"

namespace kyutai {

// Result of forward_text on post-delay inputs (LMModel.forward_text plus the extra heads).
struct TextForward {
  int batch = 0, time = 0;
  std::vector<float> embedding_sum;               // [B, T, dim]
  std::vector<float> transformer_out;             // [B, T, dim], after out_norm
  std::vector<float> text_logits;                 // [B, 1, T, text_card_out]
  std::vector<float> extra_heads_logits;          // [heads, B, T, extra_heads_dim]
  std::vector<float> extra_heads_probs;           // softmax of the above
  std::vector<std::vector<float>> layer_outputs;  // per layer [B*T, dim] (when requested)
  // Per layer its self-attention update then, with cross-attention, its cross-attention update.
  std::vector<std::vector<float>> layer_updates;
};

// LMModel.forward on pre-delay codes: the LMOutput view plus the step-domain logits.
struct LmForward {
  int batch = 0, time = 0;
  TextForward text;                     // of the post-delay input
  std::vector<float> audio_logits;      // [B, dep_q, T, card], step (delayed) domain
  std::vector<float> logits;            // [B, dep_q, T, card], undelayed, NaN where invalid
  std::vector<uint8_t> mask;            // [B, dep_q, T]
  std::vector<uint8_t> text_mask;       // [B, 1, T]
  std::vector<float> depformer_inputs;  // [B*T, dep_q, depformer_dim] (when requested)
  std::vector<std::vector<float>> depformer_layers;
};

// Streaming state of one stream (B = 1): the temporal transformer's KV caches and offset.
struct LmState {
  TransformerState transformer;
  DepformerState depformer;
  std::vector<float> condition_sum;  // [dim] added to every step's input (conditioned models)
  void reset() {
    transformer.reset();
    depformer.reset();
  }
  size_t bytes() const { return transformer.bytes() + depformer.bytes(); }
};

class LmModel {
 public:
  LmModel(LmConfig config, const LoadOptions& options);
  LmModel(const LmModel&) = delete;
  LmModel& operator=(const LmModel&) = delete;

  void declare_weights(WeightLoader& loader);

  const LmConfig& config() const { return config_; }
  const AudioProcessing& audio_processing() const { return audio_; }
  const Depformer* depformer() const { return depformer_.get(); }
  ThreadPool* pool() const { return pool_.get(); }
  int threads() const { return pool_->threads(); }
  KvFormat kv_format() const { return kv_format_; }
  size_t weight_bytes() const;
  // The matrices one streaming frame reads: every matrix product (embedding tables are only
  // gathered, one row per stream), and their bytes, the numerator of the bandwidth floor.
  void for_each_streamed_matrix(const std::function<void(const PackedMatrix&)>& visit) const;
  size_t bytes_read_per_frame() const;
  // Every weight by its checkpoint name (split layout), filled by LmLoader::finish.
  const std::vector<WeightLoader::TensorRef>& tensors() const { return tensors_; }
  void set_tensors(std::vector<WeightLoader::TensorRef> t) { tensors_ = std::move(t); }

  // --- whole sequences ---------------------------------------------------------------
  // Post-delay input (what the temporal transformer reads).
  // A conditioned model (config().conditioners) needs `conditions`, shared by the whole batch.
  TextForward forward_text(const MultistreamInput& model_input, bool keep_layers = false,
                           const LmConditions* conditions = nullptr) const;
  // Pre-delay codes [B, K, T] (text + n_q audio): teacher-forced text and audio logits.
  LmForward forward(const MultistreamInput& codes, bool keep_intermediates = false,
                    const LmConditions* conditions = nullptr) const;

  // --- conditioning (Kyutai's TTS) -----------------------------------------------------
  const Conditioners& conditioners() const { return conditioners_; }
  bool conditioned() const { return !conditioners_.empty(); }
  LmConditions prepare_conditions(const ConditionAttributes& attributes) const {
    return conditioners_.prepare(attributes, pool_.get());
  }
  // ASR: the text stream and heads only (no Depformer), on post-delay input.
  TextForward forward_asr(const MultistreamInput& model_input) const { return forward_text(model_input); }

  // --- streaming, one frame at a time ------------------------------------------------
  // A conditioned model needs `conditions`: the sum is kept in the state, the cross-attention
  // keys/values are computed here, once for the stream.
  LmState new_state(const LmConditions* conditions = nullptr) const;
  // tokens[K] (text first) -> transformer_out[dim] and text_logits[text_card_out].
  void step(const int32_t* tokens, LmState& state, float* transformer_out, float* text_logits) const;
  // Depformer position k (state.depformer.offset must equal k; reset it at each frame).
  void depformer_step(int k, int32_t token, const float* transformer_out, LmState& state, float* logits) const;
  // Per-head softmax probabilities [heads, extra_heads_dim] of one transformer_out.
  void extra_heads(const float* transformer_out, float* probs, float* logits = nullptr) const;

 private:
  LmConfig config_;
  std::unique_ptr<ThreadPool> pool_;
  KvFormat kv_format_;  // of the states new_state() makes
  void check_conditions(const LmConditions* conditions) const;

  AudioProcessing audio_;
  Conditioners conditioners_;
  Transformer transformer_;
  Norm out_norm_;
  Linear text_linear_;
  std::vector<Linear> extra_heads_;
  std::unique_ptr<Depformer> depformer_;
  std::vector<WeightLoader::TensorRef> tensors_;
};

// Loading: from a whole safetensors buffer, or tensor by tensor (streamed downloads).
std::unique_ptr<LmModel> load_lm(const LmConfig& config, const uint8_t* safetensors, size_t size,
                                 const LoadOptions& options = {});

class LmLoader {
 public:
  LmLoader(LmConfig config, const LoadOptions& options);
  void add_tensor(const TensorInfo& info, const uint8_t* bytes) { loader_.add(info, bytes); }
  std::unique_ptr<SafetensorsStream> stream(SafetensorsStream::HeaderCallback on_header = nullptr) {
    return loader_.stream(std::move(on_header));
  }
  // Validates that every tensor arrived; the loader is empty afterwards.
  std::unique_ptr<LmModel> finish();
  size_t tensors_loaded() const { return loader_.tensors_loaded(); }
  std::vector<WeightLoader::Expected> expected() const { return loader_.expected(); }
  const WeightLoader& weights() const { return loader_; }

 private:
  std::unique_ptr<LmModel> model_;
  WeightLoader loader_;
};

}  // namespace kyutai
