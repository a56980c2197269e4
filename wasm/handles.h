// The Embind handles several binding files share: a loaded LM, a loaded Mimi and the text tokenizer. A handle
// owns its model through a shared_ptr, and everything built on a model (sessions, codec
// streams, the transcriber, the WebGPU stepper) keeps a copy: disposing the model handle
// first never leaves them pointing at freed weights.
#pragma once

#include <cstdint>
#include <memory>

#include "bind_util.h"
#include "codec/mimi.h"
#include "io/safetensors.h"
#include "lm/lm_model.h"
#include "lm/lm_stream_loader.h"
#include "session/word_stream.h"
#include "text/sentencepiece.h"

namespace kyutai::wasm {

// Streams a safetensors file (or the shards of one, file after file) chunk by chunk into
// the LM's final weight format, hashing the bytes as they pass.
// The model's configuration as JavaScript sees it (bind_lm.cpp).
val lm_config_object(const LmConfig& c);

class LmLoaderHandle {
 public:
  val init(std::string config_json, val options);
  val begin_file();
  val push(uintptr_t ptr, size_t size);
  std::shared_ptr<const LmModel> finish();

 private:
  LmStreamLoader& loader();
  std::unique_ptr<LmStreamLoader> loader_;
};

class LmModelHandle {
 public:
  val load(LmLoaderHandle& loader);
  val config() const;
  val weight_bytes() const;
  val bytes_read_per_frame() const;
  val threads() const;
  val kv_cache() const;  // "f32" | "bf16": the rows of the states its sessions make
  val embedding_sum(val input) const;
  val fuse(val input, double offset) const;
  val forward_text(val input) const;
  val forward(val codes) const;
  val export_weights(val on_chunk) const;

  const LmModel& model() const { return *shared(); }
  std::shared_ptr<const LmModel> shared() const {
    if (!model_) fail(ErrorCode::InvalidState, "model is not loaded (or was disposed)");
    return model_;
  }

 private:
  std::shared_ptr<const LmModel> model_;
};

class MimiLoaderHandle {
 public:
  val init(std::string config_json, val options);
  val push(uintptr_t ptr, size_t size);
  std::shared_ptr<const Mimi> finish();

 private:
  std::unique_ptr<MimiLoader> loader_;
  std::unique_ptr<SafetensorsStream> stream_;
};

class MimiModelHandle {
 public:
  val load(MimiLoaderHandle& loader);
  val info() const;
  val encode(val pcm, val codebooks) const;
  val encode_to_latent(val pcm, val options) const;
  val decode(val codes, int frames) const;

  const Mimi& model() const { return *shared(); }
  std::shared_ptr<const Mimi> shared() const {
    if (!model_) fail(ErrorCode::InvalidState, "Mimi is not loaded (or was disposed)");
    return model_;
  }

 private:
  std::shared_ptr<const Mimi> model_;
};

// A loaded SentencePiece model (bind_text.cpp); sessions that tokenize (the TTS speaker)
// share it through shared().
class TokenizerHandle {
 public:
  val load(uintptr_t ptr, size_t size);  // model bytes at `ptr` on the heap (the caller frees them)
  val encode(std::string text) const;
  val decode(val ids) const;
  val decode_word(val ids) const;
  val id_to_piece(int id) const;
  val starts_word(int id) const;

  const SentencePiece& model() const { return *shared(); }
  std::shared_ptr<const SentencePiece> shared() const {
    if (!model_) fail(ErrorCode::InvalidState, "tokenizer is not loaded (or was disposed)");
    return model_;
  }

 private:
  std::shared_ptr<const SentencePiece> model_;
};

// A word as JS, {tokens, text, start, end} (bind_sessions.cpp): its text decoded by `text`,
// the model's SentencePiece, or null without one; its end null until known.
val word_to_js(const Word& w, const SentencePiece* text);

// A voice latent as JS, {data: Float32Array [C * T], shape: [1, C, T]} (bind_tts.cpp), and back
// (validated by Voice::from_latent).
val voice_to_js(const Voice& voice);
Voice voice_from_js(const val& latent);

}  // namespace kyutai::wasm
