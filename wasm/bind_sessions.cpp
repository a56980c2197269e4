// Embind: the streaming sessions over a loaded LM (src/session/), each with its one-call step
// for the WebAssembly backend and the stages of lm/forward.h for a forward that runs
// elsewhere (WebGPU: web/src/webgpu/):
//
//   begin(input)          -> request {tokens, forcedText, sampleText, sampleAudio, depformer, codebooks, vad}
//   sampleText(logits)    -> token     (when request.sampleText; the engine's generator)
//   sampleAudio(k, logits)-> token     (when request.sampleAudio, k = 0 .. dep_q - 1 in order)
//   finish(reply)         -> the step's result, as the one-call step returns it;
//                            reply {textToken, audioTokens, vad, kvRows} (kvRows: the WebAssembly mirror)
//   runLocal()            -> the open frame on the WebAssembly forward (a failed remote frame's redo)
//
// DuplexPipeline runs PCM -> Mimi -> the duplex step -> Mimi -> PCM and the word rule in one call.
// Every result carries the session's words (Kyutai's rule, session/word_stream.h):
// words: [{tokens, text, start, end}] completed at this step (end null until known) and
// ended: a word of an earlier step with the end this step fixed, or null; `text` is decoded
// by the engine once setTokenizer(tokenizer) gave the session the model's SentencePiece
// (null without). flush() -> the last words, at the end of the input.
#include <memory>

#include "bind_gpu.h"
#include "handles.h"
#include "lm/forward.h"
#include "lm/lm_gen.h"
#include "session/asr_session.h"
#include "session/duplex_pipeline.h"
#include "session/generation_sessions.h"
#include "text/sentencepiece.h"

namespace kyutai::wasm {

namespace {

GenerationParams generation_params(const LmConfig& c, const val& o) {
  GenerationParams p = GenerationParams::from_config(c, bool_option(o, "sampling").value_or(false));
  if (auto v = number_option(o, "temperature")) p.audio.temperature = float(*v);
  if (auto v = number_option(o, "textTemperature")) p.text.temperature = float(*v);
  if (auto v = integer_option(o, "topK", 0, INT32_MAX)) p.audio.top_k = int(*v);
  if (auto v = integer_option(o, "textTopK", 0, INT32_MAX)) p.text.top_k = int(*v);
  if (auto v = integer_option(o, "seed", 0, kMaxSafeInteger)) p.seed = uint64_t(*v);
  return p;
}

val words_to_js(const std::vector<Word>& words, const SentencePiece* text) {
  val out = val::array();
  for (size_t i = 0; i < words.size(); ++i) out.set(i, word_to_js(words[i], text));
  return out;
}

void set_words(val& r, const WordUpdate& u, const SentencePiece* text) {
  r.set("words", words_to_js(u.words, text));
  r.set("ended", u.ended ? word_to_js(*u.ended, text) : val::null());
}

val generated(const GeneratedFrame& f, const SentencePiece* text) {
  val r = val::object();
  r.set("step", double(f.step));
  r.set("textToken", f.text_token);
  r.set("audio", f.has_frame ? to_typed_array(f.audio) : val::null());
  r.set("frameText", f.has_frame ? val(f.frame_text) : val::null());
  set_words(r, f.words, text);
  return r;
}

val asr_result(const AsrStep& s, const SentencePiece* text) {
  val r = val::object();
  r.set("step", double(s.step));
  r.set("textToken", s.text_token);
  r.set("isPadding", s.is_padding);
  r.set("vad", to_typed_array(s.vad));
  set_words(r, s.words, text);
  return r;
}

val duplex_result(const DuplexStep& s, const SentencePiece* text) {
  val r = val::object();
  r.set("step", double(s.step));
  r.set("textToken", s.text_token);
  r.set("codes", to_typed_array(s.user_codes));
  r.set("audio", s.has_frame ? to_typed_array(s.audio) : val::null());
  r.set("frameText", s.has_frame ? val(s.frame_text) : val::null());
  r.set("pcm", s.has_frame ? to_typed_array(s.pcm) : val::null());
  set_words(r, s.words, text);
  return r;
}

}  // namespace

val word_to_js(const Word& w, const SentencePiece* text) {
  val o = val::object();
  o.set("tokens", to_typed_array(w.tokens));
  o.set("text", text ? val(text->decode_word(std::vector<int>(w.tokens.begin(), w.tokens.end()))) : val::null());
  o.set("start", w.start);
  o.set("end", w.end ? val(*w.end) : val::null());
  return o;
}

// A session over a shared model: the model stays alive as long as the session does.
template <typename Session>
class SessionHandle {
 public:
  Session& session() {
    if (!session_) fail(ErrorCode::InvalidState, "session is not initialised");
    return *session_;
  }
  // The model's SentencePiece: words come with their text.
  val set_tokenizer(const TokenizerHandle& tokenizer) {
    return guarded([&] {
      text_ = tokenizer.shared();
      return val::undefined();
    });
  }
  val flush() {
    return guarded([&] { return words_to_js(session().flush_words(), text_.get()); });
  }
  std::shared_ptr<const LmModel> model_;  // declared first: destroyed after the session
  std::shared_ptr<const Mimi> codec_;
  std::shared_ptr<const SentencePiece> text_;
  std::unique_ptr<Session> session_;

  template <typename... Args>
  void start(std::shared_ptr<const LmModel> m, Args&&... args) {
    session_.reset();
    session_ = std::make_unique<Session>(*m, std::forward<Args>(args)...);
    model_ = std::move(m);
  }
};

// Reads a frame of codes from JS and hands it to f(codes, count).
template <typename F>
val on_codes(const val& codes, const char* what, F&& f) {
  return guarded([&] {
    std::vector<int32_t> frame = read_int32(codes, what);
    return f(frame.data(), int(frame.size()));
  });
}

class AsrSessionHandle : public SessionHandle<AsrSession> {
 public:
  val result(const AsrStep& s) const { return asr_result(s, text_.get()); }
  val init(const LmModelHandle& model, val options) {
    return guarded([&] {
      AsrOptions o;
      if (auto v = number_option(options, "temperature")) o.temperature = float(*v);
      if (auto v = integer_option(options, "seed", 0, kMaxSafeInteger)) o.seed = uint64_t(*v);
      start(model.shared(), o);
      return val::undefined();
    });
  }
  val push_frame(val codes) {
    return on_codes(codes, "audio frame", [&](const int32_t* c, int n) { return result(session().push_frame(c, n)); });
  }
  val begin(val codes) {
    return on_codes(codes, "audio frame",
                    [&](const int32_t* c, int n) { return frame_request_to_js(session().begin_frame(c, n)); });
  }
};

// TTS and full duplex: generation parameters in, generated frames out.
template <typename Session>
class GenerationHandle : public SessionHandle<Session> {
 public:
  val result(const GeneratedFrame& f) const { return generated(f, this->text_.get()); }
  val init(const LmModelHandle& model, val options) {
    return guarded([&] {
      this->start(model.shared(), generation_params(model.model().config(), options));
      return val::undefined();
    });
  }
};

class TtsSessionHandle : public GenerationHandle<TtsSession> {
 public:
  val push_text(int token) {
    return guarded([&] { return result(session().push_text(token)); });
  }
  val begin(int token) {
    return guarded([&] { return frame_request_to_js(session().begin_text(token)); });
  }
};

class DuplexSessionHandle : public GenerationHandle<DuplexSession> {
 public:
  val push_frame(val codes) {
    return on_codes(codes, "user audio frame",
                    [&](const int32_t* c, int n) { return result(session().push_frame(c, n)); });
  }
  val begin(val codes) {
    return on_codes(codes, "user audio frame",
                    [&](const int32_t* c, int n) { return frame_request_to_js(session().begin_frame(c, n)); });
  }
};

class DuplexPipelineHandle : public SessionHandle<DuplexPipeline> {
 public:
  val result(const DuplexStep& s) const { return duplex_result(s, text_.get()); }
  val init(const LmModelHandle& model, const MimiModelHandle& mimi, val options) {
    return guarded([&] {
      std::shared_ptr<const Mimi> codec = mimi.shared();
      start(model.shared(), *codec, generation_params(model.model().config(), options));
      codec_ = std::move(codec);
      return val::undefined();
    });
  }
  val step(val pcm) {
    return guarded([&] {
      std::vector<float> frame = read_float32(pcm, "audio frame");
      return result(session().step(frame.data(), int(frame.size())));
    });
  }
  val begin(val pcm) {
    return guarded([&] {
      std::vector<float> frame = read_float32(pcm, "audio frame");
      return frame_request_to_js(session().begin(frame.data(), int(frame.size())));
    });
  }
  val step_codes(val codes) {
    return on_codes(codes, "user audio frame",
                    [&](const int32_t* c, int n) { return result(session().step_codes(c, n)); });
  }
  val begin_codes(val codes) {
    return on_codes(codes, "user audio frame",
                    [&](const int32_t* c, int n) { return frame_request_to_js(session().begin_codes(c, n)); });
  }
  val frame_size() {
    return guarded([&] { return val(session().frame_size()); });
  }
};

// The stages every session handle shares (bound per class: Embind takes a function whose
// first parameter is the class).
template <typename H>
val sample_text(H& h, val logits) {
  return guarded([&] {
    std::vector<float> l = read_float32(logits, "text logits");
    return val(h.session().sample_text(l.data(), int(l.size())));
  });
}
template <typename H>
val sample_audio(H& h, int k, val logits) {
  return guarded([&] {
    std::vector<float> l = read_float32(logits, "audio logits");
    return val(h.session().sample_audio(k, l.data(), int(l.size())));
  });
}
template <typename H>
val finish(H& h, val reply) {
  return guarded([&] { return h.result(h.session().finish(frame_reply_from_js(reply))); });
}
template <typename H>
val run_local(H& h) {
  return guarded([&] { return h.result(h.session().run_local()); });
}
template <typename H>
val reset(H& h) {
  return guarded([&] {
    h.session().reset();
    return val::undefined();
  });
}
template <typename H>
val kv_row_count(H& h) {
  return guarded([&] { return val(kv_row_floats(*h.model_)); });
}

template <typename H>
val flush_words(H& h) {
  return h.flush();
}
template <typename H>
val set_tokenizer(H& h, const TokenizerHandle& tokenizer) {
  return h.set_tokenizer(tokenizer);
}

// Embind binds a member of a base class to the base: the derived classes bind this instead.
template <typename H>
val init_generation(H& h, const LmModelHandle& model, val options) {
  return h.init(model, options);
}

template <typename H>
emscripten::class_<H> staged(const char* name) {
  return emscripten::class_<H>(name)
      .template constructor<>()
      .function("begin", &H::begin)
      .function("sampleText", &sample_text<H>)
      .function("sampleAudio", &sample_audio<H>)
      .function("finish", &finish<H>)
      .function("runLocal", &run_local<H>)
      .function("reset", &reset<H>)
      .function("flush", &flush_words<H>)
      .function("setTokenizer", &set_tokenizer<H>)
      .function("kvRowFloats", &kv_row_count<H>);
}

// The step-level generation API (Kyutai's LMGen), for tests and custom loops.
class LmGenHandle : public GenerationHandle<LmGen> {
 public:
  val step(val user) {
    return guarded([&] {
      std::vector<int32_t> frame = read_int32(user, "user audio frame");
      GenStep s = session().step(frame.data(), int(frame.size()));
      val r = val::object();
      r.set("modelInput", to_typed_array(s.model_input));
      r.set("textLogits", to_typed_array(s.text_logits));
      r.set("transformerOut", to_typed_array(s.transformer_out));
      r.set("textToken", s.text_token);
      r.set("audioTokens", to_typed_array(s.audio_tokens));
      r.set("depformerLogits", to_typed_array(s.depformer_logits));
      r.set("frame", s.frame.empty() ? val::null() : to_typed_array(s.frame));
      return r;
    });
  }
};

EMSCRIPTEN_BINDINGS(kyutai_sessions) {
  staged<AsrSessionHandle>("AsrSession")
      .function("init", &AsrSessionHandle::init)
      .function("pushFrame", &AsrSessionHandle::push_frame);
  staged<TtsSessionHandle>("TtsSession")
      .function("init", &init_generation<TtsSessionHandle>)
      .function("pushText", &TtsSessionHandle::push_text);
  staged<DuplexSessionHandle>("DuplexSession")
      .function("init", &init_generation<DuplexSessionHandle>)
      .function("pushFrame", &DuplexSessionHandle::push_frame);
  staged<DuplexPipelineHandle>("DuplexPipeline")
      .function("init", &DuplexPipelineHandle::init)
      .function("step", &DuplexPipelineHandle::step)
      .function("stepCodes", &DuplexPipelineHandle::step_codes)
      .function("beginCodes", &DuplexPipelineHandle::begin_codes)
      .function("frameSize", &DuplexPipelineHandle::frame_size);
  emscripten::class_<LmGenHandle>("LmGen")
      .constructor<>()
      .function("init", &init_generation<LmGenHandle>)
      .function("step", &LmGenHandle::step);
}

}  // namespace kyutai::wasm
