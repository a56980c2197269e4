// Embind: the Mimi codec. One loaded model (weights, read once) serves any number of streams:
// a MimiStream holds only a streaming state (convolution tails, ring KV caches) and a
// reference to the model, so several sessions of one page share the weights. Whole clips
// (encode/decode) run on the model directly with a state of their own.
//
// Every method returns a JS value or a JS Error made by `guarded` (web/src/engine.js unwraps
// it into a KyutaiError), so bad input never leaves a stream half-stepped: the engine checks
// the input before touching the state (Mimi::encode_step / decode_step do the same).
#include <memory>

#include "codec/mimi.h"
#include "handles.h"
#include "io/safetensors.h"
#include "session/tts_voice.h"

namespace kyutai::wasm {

namespace {

val mimi_info(const Mimi& m) {
  val o = val::object();
  o.set("sampleRate", m.sample_rate());
  o.set("frameRate", m.frame_rate());
  o.set("frameSize", m.frame_size());
  o.set("numCodebooks", m.num_codebooks());
  o.set("semanticCodebooks", m.config().quantizer.n_q_semantic);
  o.set("cardinality", m.cardinality());
  o.set("dimension", m.config().seanet.dimension);
  o.set("threads", m.pool()->threads());
  return o;
}

}  // namespace

// Streams a safetensors file chunk by chunk into a Mimi (as LmLoader does for the LM).
val MimiLoaderHandle::init(std::string config_json, val options) {
  return guarded([&] {
    MimiConfig config = MimiConfig::parse(config_json);
    loader_ = std::make_unique<MimiLoader>(std::move(config), load_options(options));
    stream_ = loader_->stream();
    return val::undefined();
  });
}

// Bytes at `ptr` on the WebAssembly heap (the caller allocates and frees them).
val MimiLoaderHandle::push(uintptr_t ptr, size_t size) {
  return guarded([&] {
    if (!stream_) fail(ErrorCode::InvalidState, "Mimi loader is not initialised or already finished");
    stream_->push(reinterpret_cast<const uint8_t*>(ptr), size);
    val p = val::object();
    p.set("bytes", double(stream_->bytes_received()));
    p.set("tensors", double(loader_->tensors_loaded()));
    p.set("headerReady", stream_->header_ready());
    if (stream_->header_ready())
      p.set("totalBytes", double(stream_->header().data_start() + stream_->header().data_bytes));
    return p;
  });
}

std::shared_ptr<const Mimi> MimiLoaderHandle::finish() {
  if (!stream_) fail(ErrorCode::InvalidState, "Mimi loader is not initialised or already finished");
  stream_->finish();
  std::shared_ptr<const Mimi> model = loader_->finish();
  stream_.reset();
  loader_.reset();
  return model;
}

val MimiModelHandle::load(MimiLoaderHandle& loader) {
  return guarded([&] {
    model_ = loader.finish();
    return val::undefined();
  });
}

val MimiModelHandle::info() const {
  return guarded([&] { return mimi_info(model()); });
}

// A whole clip (zero-padded to whole frames) -> {codes: Int32Array [codebooks][frames], codebooks, frames}.
val MimiModelHandle::encode(val pcm, val codebooks) const {
  return guarded([&] {
    const Mimi& m = model();
    std::vector<float> samples = read_float32(pcm, "Mimi audio");
    if (!codebooks.isUndefined() && !codebooks.isNull() && !codebooks.isNumber())
      fail(ErrorCode::InvalidArgument, "Mimi encode: codebooks must be a number, got ", js_type(codebooks));
    const int k = codebooks.isUndefined() || codebooks.isNull() ? m.num_codebooks() : codebooks.as<int>();
    MimiCodes codes = m.encode(samples.data(), samples.size(), k);
    val r = val::object();
    r.set("codes", to_typed_array(codes.data));
    r.set("codebooks", codes.codebooks);
    r.set("frames", codes.frames);
    return r;
  });
}

// A clip -> its un-quantized latent {data, shape: [1, dim, frames]} (a voice's speaker_wavs).
// options {sampleRate: must be Mimi's when given, seconds: Kyutai's voice recipe, the first
// `seconds` of the clip zero-padded to exactly that (src/session/tts_voice.h)}.
val MimiModelHandle::encode_to_latent(val pcm, val options) const {
  return guarded([&] {
    const Mimi& m = model();
    if (auto rate = number_option(options, "sampleRate"); rate && *rate != m.sample_rate())
      fail(ErrorCode::InvalidArgument, "Mimi encodeToLatent: the audio must be at ", m.sample_rate(),
           " Hz (resample it first), got ", *rate, " Hz");
    const std::optional<double> seconds = number_option(options, "seconds");
    std::vector<float> samples = read_float32(pcm, "Mimi audio");
    if (seconds) return voice_to_js(voice_from_recording(m, samples.data(), samples.size(), *seconds));
    MimiLatent latent = m.encode_to_latent(samples.data(), samples.size());
    return voice_to_js(Voice::from_latent(latent.dim, latent.frames, std::move(latent.data)));
  });
}

// codes [codebooks][frames] (codebook-major, Mimi::encode's layout) -> frames * frameSize samples.
val MimiModelHandle::decode(val codes, int frames) const {
  return guarded([&] {
    const Mimi& m = model();
    std::vector<int32_t> data = read_int32(codes, "Mimi codes");
    if (frames < 0) fail(ErrorCode::InvalidArgument, "Mimi decode: frames must be >= 0, got ", frames);
    if (frames == 0) {
      if (!data.empty()) fail(ErrorCode::InvalidArgument, "Mimi decode: 0 frames but ", data.size(), " codes");
      return to_typed_array(std::vector<float>());
    }
    if (data.size() % size_t(frames) != 0)
      fail(ErrorCode::InvalidArgument, "Mimi decode: ", data.size(), " codes do not split into ", frames,
           " frames of whole codebooks");
    const int k = int(data.size() / size_t(frames));
    return to_typed_array(m.decode(data.data(), k, frames));
  });
}

// One stream of frames through a shared model: its own state, the model's weights.
class MimiStreamHandle {
 public:
  val init(const MimiModelHandle& model, int codebooks) {
    return guarded([&] {
      std::shared_ptr<const Mimi> m = model.shared();
      MimiState state = m->new_state(codebooks);  // validates the count
      model_ = std::move(m);
      state_ = std::make_unique<MimiState>(std::move(state));
      codes_.assign(size_t(codebooks), 0);
      pcm_.assign(size_t(model_->frame_size()), 0.0f);
      return val::undefined();
    });
  }
  val codebooks() const {
    return guarded([&] { return val(stream().codebooks); });
  }
  // frameSize samples -> `codebooks` codes.
  val encode_step(val pcm) {
    return guarded([&] {
      MimiState& st = stream();
      std::vector<float> frame = read_float32(pcm, "Mimi audio frame");
      if (frame.size() != size_t(model_->frame_size()))
        fail(ErrorCode::InvalidArgument, "Mimi: expected a frame of ", model_->frame_size(), " samples, got ",
             frame.size());
      model_->encode_step(frame.data(), st, codes_.data());
      return to_typed_array(codes_);
    });
  }
  // `codebooks` codes -> frameSize samples.
  val decode_step(val codes) {
    return guarded([&] {
      MimiState& st = stream();
      std::vector<int32_t> frame = read_int32(codes, "Mimi codes");
      if (frame.size() != size_t(st.codebooks))
        fail(ErrorCode::InvalidArgument, "Mimi: this stream decodes ", st.codebooks, " codes per frame, got ",
             frame.size());
      model_->decode_step(frame.data(), st, pcm_.data());
      return to_typed_array(pcm_);
    });
  }
  val reset() {
    return guarded([&] {
      stream().reset();
      return val::undefined();
    });
  }

 private:
  MimiState& stream() {
    if (!state_) fail(ErrorCode::InvalidState, "Mimi stream is not initialised");
    return *state_;
  }
  const MimiState& stream() const {
    if (!state_) fail(ErrorCode::InvalidState, "Mimi stream is not initialised");
    return *state_;
  }
  std::shared_ptr<const Mimi> model_;  // keeps the weights alive while the stream lives
  std::unique_ptr<MimiState> state_;
  std::vector<int32_t> codes_;
  std::vector<float> pcm_;
};

EMSCRIPTEN_BINDINGS(kyutai_codec) {
  // Seconds of a recording Kyutai's voice recipe takes (the default of createVoice).
  emscripten::constant("VOICE_SECONDS", kVoiceSeconds);
  using namespace emscripten;
  class_<MimiLoaderHandle>("MimiLoader")
      .constructor<>()
      .function("init", &MimiLoaderHandle::init)
      .function("push", &MimiLoaderHandle::push);
  class_<MimiModelHandle>("MimiModel")
      .constructor<>()
      .function("load", &MimiModelHandle::load)
      .function("info", &MimiModelHandle::info)
      .function("encode", &MimiModelHandle::encode)
      .function("encodeToLatent", &MimiModelHandle::encode_to_latent)
      .function("decode", &MimiModelHandle::decode);
  class_<MimiStreamHandle>("MimiStream")
      .constructor<>()
      .function("init", &MimiStreamHandle::init)
      .function("codebooks", &MimiStreamHandle::codebooks)
      .function("encodeStep", &MimiStreamHandle::encode_step)
      .function("decodeStep", &MimiStreamHandle::decode_step)
      .function("reset", &MimiStreamHandle::reset);
}

}  // namespace kyutai::wasm
