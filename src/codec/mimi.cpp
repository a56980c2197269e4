#include "codec/mimi.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "io/safetensors.h"

namespace kyutai {

namespace {

// Longest clip a whole-clip call accepts (about 93 hours at 12.5 Hz); beyond it, stream.
constexpr size_t kMaxClipFrames = size_t(1) << 22;

void append_rows(std::vector<float>* dst, const float* rows, size_t count) {
  if (dst) dst->insert(dst->end(), rows, rows + count);
}

// [time][channels] -> [channels][time], Kyutai's conv layout.
std::vector<float> channels_first(const std::vector<float>& rows, int channels) {
  const size_t time = rows.size() / channels;
  std::vector<float> out(rows.size());
  for (size_t t = 0; t < time; ++t)
    for (int c = 0; c < channels; ++c) out[size_t(c) * time + t] = rows[t * channels + c];
  return out;
}

}  // namespace

void MimiEncoderState::reset() {
  seanet.reset();
  transformer.reset();
  downsample.reset();
}

void MimiDecoderState::reset() {
  upsample.reset();
  transformer.reset();
  seanet.reset();
}

MimiTransformer::MimiTransformer(const MimiTransformerConfig& c)
    : dimension(c.input_dimension),
      projected_in(c.d_model != c.input_dimension),
      projected_out(c.d_model != c.output_dimensions.at(0)),
      transformer(c.transformer()) {}

void MimiTransformer::declare_weights(WeightLoader& loader, const std::string& prefix) {
  const int d_model = transformer.config().d_model;
  transformer.declare_weights(loader, prefix + "transformer.");
  if (projected_in) loader.linear(prefix + "input_proj", d_model, dimension, &input_proj);
  if (projected_out) loader.linear(prefix + "output_projs.0", dimension, d_model, &output_proj);
}

void MimiTransformer::forward(float* x, int steps, TransformerState& state, ThreadPool* pool) const {
  if (!projected_in && !projected_out) {
    transformer.forward(x, steps, state, pool);
    return;
  }
  std::vector<float> inner(size_t(steps) * transformer.config().d_model);
  if (projected_in) input_proj.forward(x, steps, inner.data(), pool);
  else std::copy(x, x + inner.size(), inner.begin());
  transformer.forward(inner.data(), steps, state, pool);
  if (projected_out) output_proj.forward(inner.data(), steps, x, pool);
  else std::copy(inner.begin(), inner.end(), x);
}

Mimi::Mimi(MimiConfig config, const LoadOptions& options)
    : config_(std::move(config)),
      pool_(std::make_unique<ThreadPool>(std::max(1, options.threads))),
      steps_per_frame_(config_.encoder_steps_per_frame()),
      encoder_(config_.seanet),
      decoder_(config_.seanet),
      encoder_transformer_(config_.transformer),
      decoder_transformer_(config_.transformer),
      quantizer_(config_.quantizer) {
  if (steps_per_frame_ > 1) {
    // Kyutai's ConvDownsample1d / ConvTrUpsample1d with learnt weights: kernel 2 x stride,
    // no bias, replicate padding down; the upsampling is channel-wise (groups = dimension)
    // unless upsample_channel_wise_bug is off.
    ConvShape s;
    s.in_channels = s.out_channels = config_.seanet.dimension;
    s.kernel = 2 * steps_per_frame_;
    s.stride = steps_per_frame_;
    downsample_ = Conv1d(s, /*bias=*/false, PadMode::Replicate, "downsample.conv.conv.conv");
    if (config_.upsample_channel_wise_bug) s.groups = config_.seanet.dimension;
    upsample_ = ConvTranspose1d(s, /*bias=*/false, "upsample.convtr.convtr.convtr");
  }
}

void Mimi::declare_weights(WeightLoader& loader) {
  encoder_.declare_weights(loader, "encoder.model.");
  decoder_.declare_weights(loader, "decoder.model.");
  encoder_transformer_.declare_weights(loader, "encoder_transformer.");
  decoder_transformer_.declare_weights(loader, "decoder_transformer.");
  if (steps_per_frame_ > 1) {
    downsample_.declare_weights(loader, "downsample.conv.conv.conv");
    upsample_.declare_weights(loader, "upsample.convtr.convtr.convtr");
  }
  quantizer_.declare_weights(loader, "quantizer.");
}

void Mimi::prepare() {
  encoder_.prepare();
  decoder_.prepare();
  if (steps_per_frame_ > 1) {
    downsample_.prepare();
    upsample_.prepare();
  }
  quantizer_.prepare();
}

void Mimi::set_whole_clip_chunk_frames(int frames) {
  if (frames <= 0) fail(ErrorCode::InvalidArgument, "Mimi: whole-clip chunks need at least one frame, got ", frames);
  chunk_frames_ = frames;
}

int Mimi::whole_clip_capacity(int steps, int chunk_steps) const {
  // A chunk of c steps is written before its queries attend, so the first query of a chunk
  // sees capacity - c + 1 keys: capacity context + c - 1 gives it its whole window.
  const std::optional<int>& context = config_.transformer.context;
  if (!context) return steps;
  return std::min(steps, *context + chunk_steps - 1);
}

MimiEncoderState Mimi::new_encoder_state(int capacity) const {
  MimiEncoderState st;
  st.seanet = encoder_.new_state();
  st.transformer = encoder_transformer_.transformer.new_state(capacity);
  if (steps_per_frame_ > 1) st.downsample = downsample_.new_state();
  return st;
}

MimiDecoderState Mimi::new_decoder_state(int capacity) const {
  MimiDecoderState st;
  if (steps_per_frame_ > 1) st.upsample = upsample_.new_state();
  st.transformer = decoder_transformer_.transformer.new_state(capacity);
  st.seanet = decoder_.new_state();
  return st;
}

MimiState Mimi::new_state(int codebooks) const {
  quantizer_.check_codebooks(codebooks);
  MimiState st;
  st.codebooks = codebooks;
  // Kyutai's streaming mode: ring KV caches of exactly `context` entries.
  st.encoder = new_encoder_state(encoder_transformer_.transformer.streaming_capacity());
  st.decoder = new_decoder_state(decoder_transformer_.transformer.streaming_capacity());
  return st;
}

void Mimi::check_finite(const float* pcm, size_t samples) const {
  for (size_t i = 0; i < samples; ++i)
    if (!std::isfinite(pcm[i]))
      fail(ErrorCode::InvalidArgument, "Mimi: audio sample ", i, " is ", std::isnan(pcm[i]) ? "NaN" : "infinite",
           "; samples must be finite");
}

void Mimi::check_codes(const int32_t* codes, int code_stride, int codebooks, int frames) const {
  const int bins = quantizer_.bins();
  for (int k = 0; k < codebooks; ++k)
    for (int t = 0; t < frames; ++t) {
      const int32_t code = codes[size_t(k) * code_stride + t];
      if (code < 0 || code >= bins)
        fail(ErrorCode::InvalidArgument, "Mimi: code ", code, " (codebook ", k, ", frame ", t,
             ") is out of range: codes are 0..", bins - 1);
    }
}

const float* Mimi::encode_latent_frames(const float* pcm, int frames, MimiEncoderState& st,
                                        MimiIntermediates* inter) const {
  const int dim = config_.seanet.dimension;
  const int steps = frames * steps_per_frame_;
  st.steps.resize(size_t(steps) * dim);
  encoder_.forward(pcm, frames * frame_size(), st.seanet, st.steps.data(), pool_.get());
  if (inter) append_rows(&inter->seanet_encoder_out, st.steps.data(), st.steps.size());
  encoder_transformer_.forward(st.steps.data(), steps, st.transformer, pool_.get());
  if (inter) append_rows(&inter->encoder_transformer_out, st.steps.data(), st.steps.size());
  const float* latent = st.steps.data();
  if (steps_per_frame_ > 1) {
    st.latent.resize(size_t(frames) * dim);
    downsample_.forward(st.steps.data(), steps, st.downsample, st.latent.data(), pool_.get());
    latent = st.latent.data();
  }
  if (inter) append_rows(&inter->latent, latent, size_t(frames) * dim);
  return latent;
}

void Mimi::encode_frames(const float* pcm, int frames, MimiEncoderState& st, int codebooks, int32_t* codes,
                         int code_stride, MimiIntermediates* inter) const {
  const float* latent = encode_latent_frames(pcm, frames, st, inter);
  quantizer_.encode(latent, frames, codebooks, codes, code_stride, pool_.get());
}

void Mimi::decode_frames(const int32_t* codes, int code_stride, int codebooks, int frames, MimiDecoderState& st,
                         float* pcm, MimiIntermediates* inter) const {
  const int dim = config_.seanet.dimension;
  const int steps = frames * steps_per_frame_;
  st.latent.resize(size_t(frames) * dim);
  quantizer_.decode(codes, code_stride, codebooks, frames, st.latent.data(), pool_.get());
  if (inter) append_rows(&inter->quantized_latent, st.latent.data(), st.latent.size());
  st.steps.resize(size_t(steps) * dim);
  if (steps_per_frame_ > 1) upsample_.forward(st.latent.data(), frames, st.upsample, st.steps.data(), pool_.get());
  else std::copy(st.latent.begin(), st.latent.end(), st.steps.begin());
  if (inter) append_rows(&inter->upsampled, st.steps.data(), st.steps.size());
  decoder_transformer_.forward(st.steps.data(), steps, st.transformer, pool_.get());
  if (inter) append_rows(&inter->decoder_transformer_out, st.steps.data(), st.steps.size());
  decoder_.forward(st.steps.data(), steps, st.seanet, pcm, pool_.get());
}

int Mimi::clip_frames(size_t samples) const {
  const size_t fs = size_t(frame_size());
  const size_t frames = (samples + fs - 1) / fs;
  if (frames > kMaxClipFrames)
    fail(ErrorCode::LimitExceeded, "Mimi: a clip of ", frames, " frames exceeds the whole-clip limit of ",
         kMaxClipFrames, " frames; stream it with encode_step");
  return int(frames);
}

void Mimi::encode_clip(const float* pcm, size_t samples, int frames, MimiIntermediates* inter,
                       const std::function<void(const float*, int, int)>& on_latent) const {
  if (frames == 0) return;
  const size_t fs = size_t(frame_size());
  const int chunk = chunk_frames_;
  MimiEncoderState st = new_encoder_state(whole_clip_capacity(frames * steps_per_frame_, chunk * steps_per_frame_));
  std::vector<float> padded;  // the last chunk, zero-padded to whole frames as Kyutai's encode does
  for (int f0 = 0; f0 < frames; f0 += chunk) {
    const int n = std::min(chunk, frames - f0);
    const float* src = pcm + f0 * fs;
    const size_t available = std::min(samples - f0 * fs, n * fs);
    if (available < n * fs) {
      padded.assign(n * fs, 0.0f);
      std::copy(src, src + available, padded.begin());
      src = padded.data();
    }
    on_latent(encode_latent_frames(src, n, st, inter), f0, n);
  }
}

MimiCodes Mimi::encode(const float* pcm, size_t samples, int codebooks, MimiIntermediates* inter) const {
  quantizer_.check_codebooks(codebooks);
  const int frames = clip_frames(samples);
  check_finite(pcm, samples);
  MimiCodes codes;
  codes.codebooks = codebooks;
  codes.frames = frames;
  codes.data.assign(size_t(codebooks) * frames, 0);
  MimiIntermediates rows;  // time-major while chunks arrive
  encode_clip(pcm, samples, frames, inter ? &rows : nullptr, [&](const float* latent, int f0, int n) {
    quantizer_.encode(latent, n, codebooks, codes.data.data() + f0, frames, pool_.get());
  });
  if (inter) {
    const int dim = config_.seanet.dimension;
    inter->seanet_encoder_out = channels_first(rows.seanet_encoder_out, dim);
    inter->encoder_transformer_out = channels_first(rows.encoder_transformer_out, dim);
    inter->latent = channels_first(rows.latent, dim);
  }
  return codes;
}

MimiLatent Mimi::encode_to_latent(const float* pcm, size_t samples) const {
  if (samples == 0) fail(ErrorCode::InvalidArgument, "Mimi: encode_to_latent needs at least 1 sample, got 0");
  const int frames = clip_frames(samples);
  check_finite(pcm, samples);
  const int dim = config_.seanet.dimension;
  std::vector<float> rows;  // [frames][dim]
  rows.reserve(size_t(frames) * dim);
  encode_clip(pcm, samples, frames, nullptr,
              [&](const float* latent, int, int n) { rows.insert(rows.end(), latent, latent + size_t(n) * dim); });
  MimiLatent out;
  out.dim = dim;
  out.frames = frames;
  out.data = channels_first(rows, dim);
  return out;
}

std::vector<float> Mimi::decode(const int32_t* codes, int codebooks, int frames, MimiIntermediates* inter) const {
  quantizer_.check_codebooks(codebooks);
  if (frames < 0 || size_t(frames) > kMaxClipFrames)
    fail(ErrorCode::InvalidArgument, "Mimi: decode needs 0..", kMaxClipFrames, " frames, got ", frames);
  check_codes(codes, frames, codebooks, frames);
  const size_t fs = size_t(frame_size());
  std::vector<float> pcm(size_t(frames) * fs);
  MimiIntermediates rows;
  if (frames > 0) {
    const int chunk = chunk_frames_;
    MimiDecoderState st = new_decoder_state(whole_clip_capacity(frames * steps_per_frame_, chunk * steps_per_frame_));
    for (int f0 = 0; f0 < frames; f0 += chunk) {
      const int n = std::min(chunk, frames - f0);
      decode_frames(codes + f0, frames, codebooks, n, st, pcm.data() + f0 * fs, inter ? &rows : nullptr);
    }
  }
  if (inter) {
    const int dim = config_.seanet.dimension;
    inter->quantized_latent = channels_first(rows.quantized_latent, dim);
    inter->upsampled = channels_first(rows.upsampled, dim);
    inter->decoder_transformer_out = channels_first(rows.decoder_transformer_out, dim);
  }
  return pcm;
}

namespace {

void check_state(const MimiState& state) {
  if (state.codebooks == 0) fail(ErrorCode::InvalidState, "Mimi: this state was not created by Mimi::new_state");
}

}  // namespace

void Mimi::encode_step(const float* frame, MimiState& state, int32_t* codes) const {
  check_state(state);
  quantizer_.check_codebooks(state.codebooks);
  check_finite(frame, size_t(frame_size()));
  encode_frames(frame, 1, state.encoder, state.codebooks, codes, 1, nullptr);
}

void Mimi::decode_step(const int32_t* codes, MimiState& state, float* pcm) const {
  check_state(state);
  quantizer_.check_codebooks(state.codebooks);
  check_codes(codes, 1, state.codebooks, 1);
  decode_frames(codes, 1, state.codebooks, 1, state.decoder, pcm, nullptr);
}

MimiLoader::MimiLoader(MimiConfig config, const LoadOptions& options)
    : model_(std::make_unique<Mimi>(std::move(config), options)), loader_(options, model_->pool()) {
  model_->declare_weights(loader_);
}

std::unique_ptr<Mimi> MimiLoader::finish() {
  if (!model_) fail(ErrorCode::InvalidState, "MimiLoader::finish called twice");
  loader_.finish();
  model_->prepare();
  return std::move(model_);
}

std::unique_ptr<Mimi> load_mimi(const MimiConfig& config, const uint8_t* bytes, size_t size,
                                const LoadOptions& options) {
  SafetensorsFile file(bytes, size);
  MimiLoader loader(config, options);
  for (const TensorInfo& t : file.header().tensors) loader.add_tensor(t, file.tensor_data(t));
  return loader.finish();
}

}  // namespace kyutai
