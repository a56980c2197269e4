// Embind: the TTS speaker (src/session/tts_speaker.h), one call per frame:
//
//   init(model, mimi|null, voice, tokenizer, options)
//       voice: a latent {data: Float32Array, shape: [1, C, T]}, tokenizer: a loaded Tokenizer
//       (shared, not copied); options {cfg, nQ, sampling, temperature, seed, maxGenLength}
//   pushText(text) / end() / ready() / running()
//   step() -> {step, frame: Int32Array | null, pcm: Float32Array | null, words: [{text, step, time}]}
//
// Staged as the other sessions (bind_sessions.cpp) for the WebGPU forward, one stream only
// (staged(): not real CFG): begin() / sampleText / sampleAudio / finish(reply) / runLocal(),
// each step's result as step() gives it; conditions() the stream's condition sum and
// cross-attention keys/values for the GPU to upload; kvRowFloats() the mirror's row size.
// And voices: loadVoice(ptr, size) reads a kyutai/tts-voices file on the heap into a latent;
// voiceFile(latent) writes one (Uint8Array).
#include <memory>

#include "bind_gpu.h"
#include "handles.h"
#include "lm/conditioners.h"
#include "session/tts_speaker.h"

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

std::vector<int64_t> voice_shape(const val& shape) {
  if (js_type(shape) != "Array")
    fail(ErrorCode::InvalidArgument, "voice latent: shape must be an array [1, C, T], got ", js_type(shape));
  if (shape["length"].as<int>() != 3)
    fail(ErrorCode::InvalidArgument, "voice latent: shape must be [1, C, T], got ", shape["length"].as<int>(),
         " dimensions");
  std::vector<int64_t> dims(3);
  for (int i = 0; i < 3; ++i) {
    val d = shape[i];
    if (!d.isNumber()) fail(ErrorCode::InvalidArgument, "voice latent: shape[", i, "] must be a number");
    dims[i] = checked_integer(d.as<double>(), str_cat("voice latent: shape[", i, "]"), 0, kMaxSafeInteger);
  }
  if (dims[0] != 1) fail(ErrorCode::InvalidArgument, "voice latent: shape must be [1, C, T], got batch ", dims[0]);
  return dims;
}

val voice_file_js(val latent) {
  return guarded([&] { return to_typed_array(voice_file(voice_from_js(latent))); });
}

val load_voice_js(uintptr_t ptr, size_t size) {
  return guarded([&] { return voice_to_js(load_voice(reinterpret_cast<const uint8_t*>(ptr), size)); });
}

}  // namespace

val voice_to_js(const Voice& voice) {
  val r = val::object();
  r.set("data", to_typed_array(voice.latent));
  r.set("shape", int_array({1, voice.channels, voice.length}));
  return r;
}

Voice voice_from_js(const val& latent) {
  if (js_type(latent) == "nothing" || latent.typeOf().as<std::string>() != "object")
    fail(ErrorCode::InvalidArgument, "voice latent: expected {data: Float32Array, shape: [1, C, T]}, got ",
         js_type(latent));
  if (js_type(latent["data"]) != "Float32Array")
    fail(ErrorCode::InvalidArgument, "voice latent: data must be a Float32Array, got ", js_type(latent["data"]));
  const std::vector<int64_t> shape = voice_shape(latent["shape"]);
  return Voice::from_latent(shape[1], shape[2], read_float32(latent["data"], "voice latent"));
}

class TtsSpeakerHandle {
 public:
  val init(const LmModelHandle& model, const MimiModelHandle* mimi, val voice, const TokenizerHandle& tokenizer,
           val options) {
    return guarded([&] {
      std::shared_ptr<const LmModel> lm = model.shared();
      std::shared_ptr<const Mimi> codec = mimi ? mimi->shared() : nullptr;
      std::shared_ptr<const SentencePiece> text = tokenizer.shared();
      const double cfg = number_option(options, "cfg").value_or(2.0);
      speaker_ = std::make_unique<TtsSpeaker>(*lm, *text, voice_from_js(voice), cfg, speaker_options(options),
                                              codec.get());
      model_ = std::move(lm);
      codec_ = std::move(codec);
      tokenizer_ = std::move(text);
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
  std::shared_ptr<const SentencePiece> tokenizer_;
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
  emscripten::function("loadVoice", &load_voice_js);
  emscripten::function("voiceFile", &voice_file_js);
}

}  // namespace kyutai::wasm
