// Embind: the TTS speaker (src/session/tts_speaker.h), one call per frame:
//
//   init(model, mimi|null, voicePtr, voiceSize, tokenizerPtr, tokenizerSize, options)
//       voice: a kyutai/tts-voices safetensors file, tokenizer: the model's SentencePiece
//       model, both as bytes on the heap (the caller frees them); options {cfg, nQ, sampling,
//       temperature, seed, maxGenLength}
//   pushText(text) / end() / ready() / running()
//   step() -> {step, frame: Int32Array | null, pcm: Float32Array | null, words: [{text, step, time}]}
//
// Staged as the other sessions (bind_sessions.cpp) for the WebGPU forward, one stream only
// (staged(): not real CFG): begin() / sampleText / sampleAudio / finish(reply) / runLocal(),
// each step's result as step() gives it; conditions() the stream's condition sum and
// cross-attention keys/values for the GPU to upload; kvRowFloats() the mirror's row size.
#include <memory>

#include "bind_gpu.h"
#include "handles.h"
#include "lm/conditioners.h"
#include "session/tts_speaker.h"
#include "text/sentencepiece.h"

namespace kyutai::wasm {

namespace {

TtsGenerateOptions speaker_options(const val& o) {
  TtsGenerateOptions g;
  if (bool_option(o, "sampling").value_or(false))
    g = TtsGenerateOptions::sampling(number_option(o, "temperature").value_or(0.6), 0);
  if (auto v = integer_option(o, "seed", 0, kMaxSafeInteger)) g.seed = uint64_t(*v);
  if (auto v = integer_option(o, "nQ", 0, INT32_MAX)) g.n_q = int(*v);
  if (auto v = integer_option(o, "maxGenLength", 1, INT32_MAX)) g.max_gen_length = int(*v);
  return g;
}

}  // namespace

class TtsSpeakerHandle {
 public:
  val init(const LmModelHandle& model, const MimiModelHandle* mimi, uintptr_t voice_ptr, size_t voice_size,
           uintptr_t tokenizer_ptr, size_t tokenizer_size, val options) {
    return guarded([&] {
      std::shared_ptr<const LmModel> lm = model.shared();
      std::shared_ptr<const Mimi> codec = mimi ? mimi->shared() : nullptr;
      Voice voice = load_voice(reinterpret_cast<const uint8_t*>(voice_ptr), voice_size);
      auto tokenizer = std::make_unique<SentencePiece>(
          SentencePiece::load(reinterpret_cast<const uint8_t*>(tokenizer_ptr), tokenizer_size));
      const double cfg = number_option(options, "cfg").value_or(2.0);
      speaker_ = std::make_unique<TtsSpeaker>(*lm, *tokenizer, voice, cfg, speaker_options(options), codec.get());
      model_ = std::move(lm);
      codec_ = std::move(codec);
      tokenizer_ = std::move(tokenizer);
      val info = val::object();
      info.set("delaySteps", speaker_->delay_steps());
      info.set("sampleRate", speaker_->sample_rate());
      info.set("frameSize", speaker_->frame_size());
      info.set("frameRate", speaker_->frame_rate());
      return info;
    });
  }
  val push_text(std::string text) {
    return guarded([&] {
      speaker().push_text(text);
      return val(speaker().ready());
    });
  }
  val end() {
    return guarded([&] {
      speaker().end();
      return val::undefined();
    });
  }
  val ready() {
    return guarded([&] { return val(speaker().ready()); });
  }
  val running() {
    return guarded([&] { return val(speaker().running()); });
  }
  val step() {
    return guarded([&] { return step_result(speaker().step()); });
  }
  val staged() {
    return guarded([&] { return val(speaker().staged()); });
  }
  val begin() {
    return guarded([&] { return frame_request_to_js(speaker().begin()); });
  }
  val sample_text(val logits) {
    return guarded([&] {
      std::vector<float> l = read_float32(logits, "text logits");
      return val(speaker().sample_text(l.data(), int(l.size())));
    });
  }
  val sample_audio(int k, val logits) {
    return guarded([&] {
      std::vector<float> l = read_float32(logits, "audio logits");
      return val(speaker().sample_audio(k, l.data(), int(l.size())));
    });
  }
  val finish(val reply) {
    return guarded([&] { return step_result(speaker().finish(frame_reply_from_js(reply))); });
  }
  val run_local() {
    return guarded([&] { return step_result(speaker().run_local()); });
  }
  val conditions() {
    return guarded([&] { return stream_conditions_to_js(*model_, speaker().state()); });
  }
  val kv_row_count() {
    return guarded([&] {
      speaker();
      return val(kv_row_floats(*model_));
    });
  }

 private:
  val step_result(const TtsSpeakerStep& s) {
    val r = val::object();
    r.set("step", s.step);
    r.set("frame", s.frame.empty() ? val::null() : to_typed_array(s.frame));
    r.set("pcm", s.pcm.empty() ? val::null() : to_typed_array(s.pcm));
    val words = val::array();
    for (size_t i = 0; i < s.words.size(); ++i) {
      val w = val::object();
      w.set("text", s.words[i].text);
      w.set("step", s.words[i].step);
      w.set("time", s.words[i].step / speaker().frame_rate());  // seconds into the speaker's PCM
      words.set(i, w);
    }
    r.set("words", words);
    return r;
  }
  TtsSpeaker& speaker() {
    if (!speaker_) fail(ErrorCode::InvalidState, "speaker is not initialised");
    return *speaker_;
  }
  // The speaker refers to these: they live as long as it does.
  std::shared_ptr<const LmModel> model_;
  std::shared_ptr<const Mimi> codec_;
  std::unique_ptr<SentencePiece> tokenizer_;
  std::unique_ptr<TtsSpeaker> speaker_;
};

EMSCRIPTEN_BINDINGS(kyutai_tts) {
  emscripten::class_<TtsSpeakerHandle>("TtsSpeaker")
      .constructor<>()
      .function("init", &TtsSpeakerHandle::init, emscripten::allow_raw_pointers())
      .function("pushText", &TtsSpeakerHandle::push_text)
      .function("end", &TtsSpeakerHandle::end)
      .function("ready", &TtsSpeakerHandle::ready)
      .function("running", &TtsSpeakerHandle::running)
      .function("step", &TtsSpeakerHandle::step)
      .function("staged", &TtsSpeakerHandle::staged)
      .function("begin", &TtsSpeakerHandle::begin)
      .function("sampleText", &TtsSpeakerHandle::sample_text)
      .function("sampleAudio", &TtsSpeakerHandle::sample_audio)
      .function("finish", &TtsSpeakerHandle::finish)
      .function("runLocal", &TtsSpeakerHandle::run_local)
      .function("conditions", &TtsSpeakerHandle::conditions)
      .function("kvRowFloats", &TtsSpeakerHandle::kv_row_count);
}

}  // namespace kyutai::wasm
