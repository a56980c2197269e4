// Embind: speech-to-text as Kyutai ships it (session/transcriber.h): audio or token frames
// in, one result per frame out, {step, textToken, codes, events} (flush: events), events being {type: 'word', tokens,
// time, step}, {type: 'endWord', time, step}, {type: 'vad', time, pause: Float32Array (one pause probability per head),
// step}, {type: 'endOfTurn', time, probability, step}.
#include <memory>

#include "handles.h"
#include "session/transcriber.h"

namespace kyutai::wasm {

namespace {

val events_to_js(const std::vector<TranscriptEvent>& events) {
  val out = val::array();
  for (size_t i = 0; i < events.size(); ++i) {
    const TranscriptEvent& e = events[i];
    val o = val::object();
    switch (e.type) {
      case TranscriptEvent::Type::Word:
        o.set("type", val("word"));
        o.set("tokens", to_typed_array(e.tokens));
        break;
      case TranscriptEvent::Type::EndWord: o.set("type", val("endWord")); break;
      case TranscriptEvent::Type::Vad:
        o.set("type", val("vad"));
        o.set("pause", to_typed_array(e.pause));
        break;
      case TranscriptEvent::Type::EndOfTurn:
        o.set("type", val("endOfTurn"));
        o.set("probability", e.probability);
        break;
    }
    o.set("time", e.time);
    o.set("step", double(e.step));
    out.set(i, o);
  }
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
val step_to_js(const TranscriberStep& s) {
  val o = val::object();
  o.set("step", double(s.step));
  o.set("textToken", s.text_token);
  o.set("codes", to_typed_array(s.codes));
  o.set("events", events_to_js(s.events));
  return o;
}

}  // namespace

val word_events_to_js(const std::vector<WordEvent>& events, int64_t step) {
  val out = val::array();
  for (size_t i = 0; i < events.size(); ++i) {
    const WordEvent& e = events[i];
    val o = val::object();
    if (e.kind == WordEvent::Kind::Word) {
      o.set("type", val("word"));
      o.set("tokens", to_typed_array(e.tokens));
    } else {
      o.set("type", val("endWord"));
    }
    o.set("time", e.time);
    o.set("step", double(step));
    out.set(i, o);
  }
  return out;
}

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
      return step_to_js(transcriber().push_audio(pcm.data(), int(pcm.size())));
    });
  }
  val push_codes(val codes) {
    return guarded([&] {
      std::vector<int32_t> frame = read_int32(codes, "audio token frame");
      return step_to_js(transcriber().push_codes(frame.data(), int(frame.size())));
    });
  }
  val flush() {
    return guarded([&] { return events_to_js(transcriber().flush()); });
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
  std::unique_ptr<Transcriber> transcriber_;
};

// Kyutai's word rule alone (session/word_stream.h), for the package's ASR/TTS/duplex sessions
// whose text tokens come from elsewhere (the WebGPU sessions, TTS forcing): one text token
// per step in, {type: 'word', tokens, time, step} / {type: 'endWord', time, step} out. The
// JS side never re-implements the padding rule; it only pairs these events.
class WordStreamHandle {
 public:
  // {paddingId, endPaddingId, delaySteps (asr_delay_in_tokens, 0 for TTS/duplex), frameRate}
  val init(val options) {
    return guarded([&] {
      const auto padding = number_option(options, "paddingId");
      const auto end_padding = number_option(options, "endPaddingId");
      if (!padding || !end_padding)
        fail(ErrorCode::InvalidArgument, "word stream: paddingId and endPaddingId are required");
      const double delay = number_option(options, "delaySteps").value_or(0);
      const double rate = number_option(options, "frameRate").value_or(12.5);
      if (delay < 0 || delay > 1e6)
        fail(ErrorCode::InvalidArgument, "word stream: delaySteps ", delay, " is out of range");
      if (!(rate > 0)) fail(ErrorCode::InvalidArgument, "word stream: frameRate must be positive, got ", rate);
      stream_ = std::make_unique<WordStream>(int(delay), int32_t(*padding), int32_t(*end_padding), rate);
      return val::undefined();
    });
  }
  val push(double token) {
    return guarded([&] {
      if (!(token >= -2147483648.0 && token <= 2147483647.0) || token != double(int32_t(token)))
        fail(ErrorCode::InvalidArgument, "word stream: token ", token, " is not a 32-bit integer");
      std::vector<WordEvent> out;
      stream().push(int32_t(token), &out);
      return to_js(out);
    });
  }
  val flush() {
    return guarded([&] {
      std::vector<WordEvent> out;
      stream().flush(&out);
      return to_js(out);
    });
  }
  val reset() {
    return guarded([&] {
      stream().reset();
      return val::undefined();
    });
  }

 private:
  WordStream& stream() const {
    if (!stream_) fail(ErrorCode::InvalidState, "word stream is not initialised");
    return *stream_;
  }
  val to_js(const std::vector<WordEvent>& events) const { return word_events_to_js(events, stream_->steps()); }
  std::unique_ptr<WordStream> stream_;
};

EMSCRIPTEN_BINDINGS(kyutai_stt) {
  emscripten::class_<WordStreamHandle>("WordStream")
      .constructor<>()
      .function("init", &WordStreamHandle::init)
      .function("push", &WordStreamHandle::push)
      .function("flush", &WordStreamHandle::flush)
      .function("reset", &WordStreamHandle::reset);

  emscripten::class_<TranscriberHandle>("Transcriber")
      .constructor<>()
      .function("init", &TranscriberHandle::init)
      .function("initWithCodec", &TranscriberHandle::init_with_codec)
      .function("pushAudio", &TranscriberHandle::push_audio)
      .function("pushCodes", &TranscriberHandle::push_codes)
      .function("flush", &TranscriberHandle::flush)
      .function("reset", &TranscriberHandle::reset)
      .function("info", &TranscriberHandle::info);
}

}  // namespace kyutai::wasm
