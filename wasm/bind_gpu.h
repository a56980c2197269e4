// Embind helpers of the staged sessions (lm/forward.h) that a forward elsewhere (WebGPU)
// drives: the frame request and reply in their JS form, and a stream's conditions as the GPU
// forward uploads them. Shared by bind_sessions.cpp, bind_tts.cpp and bind_gpu.cpp.
#pragma once

#include "bind_util.h"
#include "lm/forward.h"
#include "lm/lm_model.h"

namespace kyutai::wasm {

// {tokens, forcedText, sampleText, sampleAudio, depformer, codebooks, vad}
val frame_request_to_js(const FrameRequest& request);
// {textToken, audioTokens?, vad?, kvRows?}
FrameReply frame_reply_from_js(const val& reply);
// A conditioned stream (Kyutai's TTS): {sum: Float32Array [dim] | null, crossLength,
// crossKeys / crossValues: per layer Float32Array [heads, crossLength, head_dim]}; null for
// a model without conditioners.
val stream_conditions_to_js(const LmModel& model, const LmState& state);

}  // namespace kyutai::wasm
