// Embind: speech-to-text as Kyutai ships it (session/transcriber.h): audio or token frames
// in, one result per frame out, {step, textToken, codes, events} (flush: events), events being {type: 'word', tokens,
// text, start, end, step} (given once ended; text decoded by the engine once setTokenizer gave it the model's
// SentencePiece, null without), {type: 'vad', time, pause: Float32Array (one pause probability per head), step},
// {type: 'endOfTurn', time, probability, step}.
#include <memory>

#include "handles.h"
#include "session/transcriber.h"

namespace kyutai::wasm {

namespace {

val event_to_js(const TranscriptEvent& e, const SentencePiece* text) {
  if (e.type == TranscriptEvent::Type::Word) {
    val o = word_to_js(e.word, text);
    o.set("type", val("word"));
    o.set("step", double(e.step));
    return o;
  }
  val o = val::object();
  if (e.type == TranscriptEvent::Type::Vad) {
    o.set("type", val("vad"));
    o.set("pause", to_typed_array(e.pause));
  } else {
    o.set("type", val("endOfTurn"));
    o.set("probability", e.probability);
  }
  o.set("time", e.time);
  o.set("step", double(e.step));
  return o;
}

val events_to_js(const std::vector<TranscriptEvent>& events, const SentencePiece* text) {
  val out = val::array();
  for (size_t i = 0; i < events.size(); ++i) out.set(i, event_to_js(events[i], text));
  return out;
}

TranscriberOptions transcriber_options(const val& o) {
  TranscriberOptions t;
  if (auto v = number_option(o, "temperature")) t.asr.temperature = float(*v);
  if (auto v = number_option(o, "seed")) t.asr.seed = uint64_t(*v);
  if (auto v = number_option(o, "vadHead")) t.vad_head = int(*v);
  if (auto v = number_option(o, "endOfTurnThreshold")) t.end_of_turn_threshold = float(*v);
  val silence = o.isUndefined() || o.isNull() ? val::undefined() : o["silenceCodes"];
  if (!silence.isUndefined() && !silence.isNull()) t.silence_codes = read_int32(silence, "silenceCodes");
  return t;
}

// One frame's result: {step, textToken, codes, events} (session/transcriber.h TranscriberStep).
val step_to_js(const TranscriberStep& s, const SentencePiece* text) {
  val o = val::object();
  o.set("step", double(s.step));
  o.set("textToken", s.text_token);
  o.set("codes", to_typed_array(s.codes));
  o.set("events", events_to_js(s.events, text));
  return o;
}

}  // namespace

class TranscriberHandle {
 public:
  // Token frames only.
  val init(const LmModelHandle& lm, val options) {
    return guarded([&] {
      start(lm.shared(), nullptr, transcriber_options(options));
      return val::undefined();
    });
  }
  // Audio through Mimi.
  val init_with_codec(const LmModelHandle& lm, const MimiModelHandle& mimi, val options) {
    return guarded([&] {
      start(lm.shared(), mimi.shared(), transcriber_options(options));
      return val::undefined();
    });
  }
  val push_audio(val samples) {
    return guarded([&] {
      std::vector<float> pcm = read_float32(samples, "audio frame");
      return step_to_js(transcriber().push_audio(pcm.data(), int(pcm.size())), text_.get());
    });
  }
  val push_codes(val codes) {
    return guarded([&] {
      std::vector<int32_t> frame = read_int32(codes, "audio token frame");
      return step_to_js(transcriber().push_codes(frame.data(), int(frame.size())), text_.get());
    });
  }
  val flush() {
    return guarded([&] { return events_to_js(transcriber().flush(), text_.get()); });
  }
  // The model's SentencePiece: words come with their text.
  val set_tokenizer(const TokenizerHandle& tokenizer) {
    return guarded([&] {
      text_ = tokenizer.shared();
      return val::undefined();
    });
  }
  val reset() {
    return guarded([&] {
      transcriber().reset();
      return val::undefined();
    });
  }
  val info() const {
    return guarded([&] {
      val o = val::object();
      o.set("frameRate", transcriber().frame_rate());
      o.set("frameSize", mimi_ ? mimi_->frame_size() : 0);
      o.set("steps", double(transcriber().steps()));
      return o;
    });
  }

 private:
  void start(std::shared_ptr<const LmModel> lm, std::shared_ptr<const Mimi> mimi, TranscriberOptions options) {
    transcriber_.reset();
    transcriber_ = std::make_unique<Transcriber>(*lm, mimi.get(), std::move(options));
    lm_ = std::move(lm);
    mimi_ = std::move(mimi);
  }
  Transcriber& transcriber() const {
    if (!transcriber_) fail(ErrorCode::InvalidState, "transcriber is not initialised");
    return *transcriber_;
  }

  std::shared_ptr<const LmModel> lm_;  // declared before the transcriber: outlive it
  std::shared_ptr<const Mimi> mimi_;
  std::shared_ptr<const SentencePiece> text_;
  std::unique_ptr<Transcriber> transcriber_;
};

EMSCRIPTEN_BINDINGS(kyutai_stt) {
  emscripten::class_<TranscriberHandle>("Transcriber")
      .constructor<>()
      .function("init", &TranscriberHandle::init)
      .function("initWithCodec", &TranscriberHandle::init_with_codec)
      .function("pushAudio", &TranscriberHandle::push_audio)
      .function("pushCodes", &TranscriberHandle::push_codes)
      .function("flush", &TranscriberHandle::flush)
      .function("reset", &TranscriberHandle::reset)
      .function("setTokenizer", &TranscriberHandle::set_tokenizer)
      .function("info", &TranscriberHandle::info);
}

}  // namespace kyutai::wasm
