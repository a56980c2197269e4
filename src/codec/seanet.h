// SEANet encoder and decoder (moshi.modules.seanet) with causal streaming convolutions:
// the convolutional halves of Mimi. Signals are time-major ([time][channels]). The layer
// indices of Kyutai's nn.Sequential name the weights ("encoder.model.3.conv.conv.weight").
#pragma once

#include <string>
#include <vector>

#include "codec/conv.h"
#include "codec/mimi_config.h"

namespace kyutai {

class ThreadPool;
class WeightLoader;

// SEANetResnetBlock: x + block(x), block = ELU, conv(kernel, dilation) to dim / compress,
// ELU, 1x1 conv back to dim; the skip is the identity (true_skip) or a 1x1 conv.
struct SeanetResBlock {
  Conv1d conv1, conv2;  // block.1, block.3
  bool conv_skip = false;
  Conv1d shortcut;
};

// Streaming state of one SEANet: the state of each convolution, in network order, plus the
// scratch signals of a step (kept so a warm step allocates nothing).
struct SeanetState {
  std::vector<Conv1dState> convs;
  std::vector<ConvTranspose1dState> convtrs;
  std::vector<float> signal, next, hidden;
  void reset();
};

class SeanetEncoder {
 public:
  explicit SeanetEncoder(const SeanetConfig& config);
  void declare_weights(WeightLoader& loader, const std::string& prefix);  // prefix "encoder.model."
  void prepare();

  int hop_length() const { return hop_; }
  int dimension() const { return dimension_; }
  SeanetState new_state() const;
  // pcm [samples][channels] -> latent [samples / hop][dimension]; samples a positive multiple of the hop.
  void forward(const float* pcm, int samples, SeanetState& state, float* latent, ThreadPool* pool) const;

 private:
  struct Stage {
    std::vector<SeanetResBlock> blocks;
    Conv1d downsample;
  };
  Conv1d first_, last_;
  std::vector<Stage> stages_;
  int hop_ = 1, dimension_ = 0;
};

class SeanetDecoder {
 public:
  explicit SeanetDecoder(const SeanetConfig& config);
  void declare_weights(WeightLoader& loader, const std::string& prefix);  // prefix "decoder.model."
  void prepare();

  int hop_length() const { return hop_; }
  int channels() const { return channels_; }
  SeanetState new_state() const;
  // latent [steps][dimension] -> pcm [steps * hop][channels].
  void forward(const float* latent, int steps, SeanetState& state, float* pcm, ThreadPool* pool) const;

 private:
  struct Stage {
    ConvTranspose1d upsample;
    std::vector<SeanetResBlock> blocks;
  };
  Conv1d first_, last_;
  std::vector<Stage> stages_;
  int hop_ = 1, channels_ = 1;
};

}  // namespace kyutai
