#include "session/tts_voice.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/error.h"

namespace kyutai {

Voice voice_from_recording(const Mimi& mimi, const float* pcm, size_t samples, double seconds) {
  if (!(seconds >= kMinVoiceSeconds && seconds <= kMaxVoiceSeconds))
    fail(ErrorCode::InvalidArgument, "voice: the clip length must be ", kMinVoiceSeconds, " to ", kMaxVoiceSeconds,
         " seconds (Kyutai's voices take ", kVoiceSeconds, "), got ", seconds);
  const double rate = mimi.sample_rate();
  const size_t min_samples = size_t(std::ceil(rate * kMinVoiceSeconds));
  if (samples < min_samples)
    fail(ErrorCode::InvalidArgument, "voice: the recording is too short: ", samples, " samples (",
         double(samples) / rate, " s) at ", rate, " Hz, a voice needs at least ", min_samples, " (", kMinVoiceSeconds,
         " s; Kyutai's voices take ", kVoiceSeconds, " s)");
  // Python's int(sample_rate * duration): the script's exact length, the recording cut or padded to it.
  const size_t length = size_t(rate * seconds);
  std::vector<float> clip(length, 0.0f);
  std::copy(pcm, pcm + std::min(samples, length), clip.begin());
  MimiLatent latent = mimi.encode_to_latent(clip.data(), clip.size());
  return Voice::from_latent(latent.dim, latent.frames, std::move(latent.data));
}

}  // namespace kyutai
