// A TTS voice from the user's own recording, as Kyutai's voice script makes one
// (scripts/tts_make_voice.py, moshi-server's voice.py): the first `seconds` of the mono
// recording at Mimi's sample rate, zero-padded on the right to exactly that length, through
// Mimi's encoder without quantization (encode_to_latent(wav, quantize=False)). The result is
// the speaker_wavs [1, dim, frames] a kyutai/tts-voices file holds. Kyutai's optional
// clean-ups (Demucs denoising, loudness normalization) are not applied.
#pragma once

#include <cstddef>

#include "codec/mimi.h"
#include "lm/conditioners.h"

namespace kyutai {

// Shorter recordings are refused: too little speech to make a voice of.
constexpr double kMinVoiceSeconds = 1.0;
// Longer clip lengths are refused (the cross-attention source grows with it).
constexpr double kMaxVoiceSeconds = 60.0;

// `pcm`: `samples` mono samples at mimi.sample_rate(), at least kMinVoiceSeconds of them;
// `seconds` in [kMinVoiceSeconds, kMaxVoiceSeconds]. Refused before any work when not so.
Voice voice_from_recording(const Mimi& mimi, const float* pcm, size_t samples, double seconds = kVoiceSeconds);

}  // namespace kyutai
