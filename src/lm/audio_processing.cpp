#include "lm/audio_processing.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "kernels/ops.h"
#include "nn/weight_loader.h"

namespace kyutai {

AudioProcessing::AudioProcessing(const LmConfig& c)
    : n_q_(c.n_q),
      dim_(c.dim),
      audio_dim_(c.audio_emb_dim ? c.audio_emb_dim : c.dim),
      num_heads_(c.num_heads),
      widest_row_(std::max<int64_t>({3 * int64_t(c.dim), 2 * int64_t(c.hidden_scale * c.dim), c.text_card_out,
                                     int64_t(c.dep_q) * c.card, int64_t(c.dep_q) * c.depformer_dim,
                                     c.audio_emb_dim ? c.audio_emb_dim : c.dim})),
      fusion_(c.audio_fusion) {
  positional_ = c.main_transformer().positional;
  for (int i = 0; i < n_q_; ++i) audio_.emplace_back(ScaledEmbeddingSpec{c.card + 1, audio_dim_, c.norm_emb, 0, false});
  text_ = ScaledEmbedding(ScaledEmbeddingSpec{c.text_card + 1, dim_, c.norm_emb, 0, c.demux_second_stream});
}

void AudioProcessing::declare_weights(WeightLoader& loader) {
  for (int i = 0; i < n_q_; ++i) audio_[i].declare_weights(loader, "emb." + std::to_string(i));
  text_.declare_weights(loader, "text_emb");
  if (audio_dim_ != dim_) loader.linear("audio_proj", dim_, audio_dim_, &audio_proj_);
  if (fusion_ == FusionKind::CrossAttention) {
    loader.linear("fusion.cross_attention.q", dim_, dim_, &cross_q_);
    loader.linear("fusion.cross_attention.k", dim_, dim_, &cross_k_);
    loader.linear("fusion.cross_attention.v", dim_, dim_, &cross_v_);
    loader.linear("fusion.cross_attention.o", dim_, dim_, &cross_o_);
  }
}

size_t AudioProcessing::weight_bytes() const {
  size_t n = text_.table().bytes();
  for (const auto& e : audio_) n += e.table().bytes();
  return n;
}

void AudioProcessing::check_token(int stream, int b, int t, int32_t token) const {
  const ScaledEmbedding& e = stream == 0 ? text_ : audio_[stream - 1];
  if (token == -1 || (token >= 0 && token <= e.max_token())) return;
  if (stream == 0)
    fail(ErrorCode::InvalidArgument, "text token ", token, " at batch ", b, ", position ", t,
         " is out of range: expected -1 or 0..", e.max_token(), " (", e.max_token(), " = initial token)");
  fail(ErrorCode::InvalidArgument, "audio codebook ", stream - 1, ": token ", token, " at batch ", b, ", position ", t,
       " is out of range: expected -1 or 0..", e.max_token(), " (", e.max_token(), " = initial token)");
}

void AudioProcessing::validate(const MultistreamInput& in, int* batch, int* time) const {
  if (!in.audio.empty() && int(in.audio.size()) != n_q_)
    fail(ErrorCode::InvalidArgument, "expected ", n_q_, " audio codebooks (or none), got ", in.audio.size());
  int B = -1, T = -1;
  auto check_shape = [&](const TokenTensor& tt, const std::string& what) {
    if (tt.batch <= 0 || tt.time < 0 || tt.data.size() != uint64_t(tt.batch) * uint64_t(tt.time))
      fail(ErrorCode::InvalidArgument, what, ": malformed token tensor [", tt.batch, ", ", tt.time, "]");
    if (B < 0) {
      B = tt.batch;
      T = tt.time;
    } else if (tt.batch != B || tt.time != T) {
      fail(ErrorCode::InvalidArgument, what, " has shape [", tt.batch, ", ", tt.time, "] but the other inputs are [", B,
           ", ", T, "]: B and T must match across codebooks");
    }
  };
  if (in.text) check_shape(*in.text, "text tokens");
  for (size_t c = 0; c < in.audio.size(); ++c)
    if (in.audio[c]) check_shape(*in.audio[c], "audio codebook " + std::to_string(c));
  if (B < 0) fail(ErrorCode::InvalidArgument, "neither text nor audio tokens were given");
  // Whole-sequence passes allocate B x T x (row width) values per buffer: refuse sizes whose
  // buffers would not fit (or whose size would wrap around on wasm32) before allocating.
  constexpr uint64_t kMaxSequenceValues = uint64_t(1) << 28;
  if (double(B) * double(T) * double(widest_row_) > double(kMaxSequenceValues))
    fail(ErrorCode::LimitExceeded, "a whole-sequence pass over B x T = ", B, " x ", T, " positions needs ", widest_row_,
         " values per position and buffer, beyond the limit of ", kMaxSequenceValues,
         " values (kyutai-wasm kMaxSequenceValues); stream long inputs step by step");
  if (in.text)
    for (int b = 0; b < B; ++b)
      for (int t = 0; t < T; ++t) check_token(0, b, t, in.text->at(b, t));
  for (size_t c = 0; c < in.audio.size(); ++c)
    if (in.audio[c])
      for (int b = 0; b < B; ++b)
        for (int t = 0; t < T; ++t) check_token(int(c) + 1, b, t, in.audio[c]->at(b, t));
  *batch = B;
  *time = T;
}

void AudioProcessing::sum_one(const int32_t* tokens, float* out, ThreadPool* pool) const {
  // tokens[0] = text, tokens[1 + c] = audio codebook c.
  if ((audio_dim_ == dim_ && text_.is_plain() &&
       std::all_of(audio_.begin(), audio_.end(),
                   [&](const ScaledEmbedding& e) { return e.is_plain() && e.table().bf16 == text_.table().bf16; }))) {
    // One gather over n_q audio tables then the text table: the sum order Kyutai uses.
    thread_local std::vector<const void*> tables;
    thread_local std::vector<int32_t> ids;
    tables.resize(n_q_ + 1);
    ids.resize(n_q_ + 1);
    for (int c = 0; c < n_q_; ++c) {
      const EmbeddingTable& t = audio_[c].table();
      tables[c] = t.bf16 ? static_cast<const void*>(t.bf16_data.data()) : t.f32_data.data();
      ids[c] = tokens[1 + c];
    }
    const EmbeddingTable& tt = text_.table();
    tables[n_q_] = tt.bf16 ? static_cast<const void*>(tt.bf16_data.data()) : tt.f32_data.data();
    ids[n_q_] = tokens[0];
    if (tt.bf16)
      gather_sum_bf16(reinterpret_cast<const uint16_t* const*>(tables.data()), ids.data(), n_q_ + 1, dim_, out);
    else gather_sum_f32(reinterpret_cast<const float* const*>(tables.data()), ids.data(), n_q_ + 1, dim_, out);
    return;
  }
  std::vector<float> audio(audio_dim_, 0.0f);
  for (int c = 0; c < n_q_; ++c) audio_[c].accumulate(tokens[1 + c], audio.data(), pool);
  if (audio_dim_ != dim_) audio_proj_.forward(audio.data(), 1, out, pool);
  else std::copy(audio.begin(), audio.end(), out);
  text_.accumulate(tokens[0], out, pool);
}

void AudioProcessing::embed_step(const int32_t* tokens, float* out, ThreadPool* pool) const {
  for (int s = 0; s <= n_q_; ++s) check_token(s, 0, 0, tokens[s]);
  sum_one(tokens, out, pool);
}

std::vector<float> AudioProcessing::embedding_sum(const MultistreamInput& in, ThreadPool* pool, int* batch,
                                                  int* time) const {
  int B, T;
  validate(in, &B, &T);
  std::vector<float> out(size_t(B) * T * dim_);
  std::vector<int32_t> tokens(n_q_ + 1);
  for (int b = 0; b < B; ++b)
    for (int t = 0; t < T; ++t) {
      tokens[0] = in.text ? in.text->at(b, t) : -1;
      for (int c = 0; c < n_q_; ++c)
        tokens[1 + c] = (c < int(in.audio.size()) && in.audio[c]) ? in.audio[c]->at(b, t) : -1;
      sum_one(tokens.data(), out.data() + (size_t(b) * T + t) * dim_, pool);
    }
  if (batch) *batch = B;
  if (time) *time = T;
  return out;
}

void AudioProcessing::cross_attend(const float* text, const float* audio, const uint8_t* present, int T, float* out,
                                   ThreadPool* pool) const {
  const int D = dim_, H = num_heads_, dh = D / H;
  std::vector<float> q(size_t(T) * D), k(size_t(T) * D), v(size_t(T) * D), ctx(size_t(T) * D, 0.0f), o(size_t(T) * D);
  cross_q_.forward(text, T, q.data(), pool);
  cross_k_.forward(audio, T, k.data(), pool);
  cross_v_.forward(audio, T, v.data(), pool);
  std::vector<float> w(T);
  const float inv_sqrt = 1.0f / std::sqrt(float(dh));
  for (int t = 0; t < T; ++t)
    for (int h = 0; h < H; ++h) {
      float m = -INFINITY;
      for (int j = 0; j <= t; ++j)
        if (present[j]) {
          w[j] = dot(q.data() + size_t(t) * D + h * dh, k.data() + size_t(j) * D + h * dh, dh) * inv_sqrt;
          m = std::max(m, w[j]);
        }
      if (m == -INFINITY) continue;  // no audio yet: the text passes through unchanged
      float sum = 0;
      for (int j = 0; j <= t; ++j)
        if (present[j]) sum += (w[j] = std::exp(w[j] - m));
      for (int j = 0; j <= t; ++j)
        if (present[j]) axpy(w[j] / sum, v.data() + size_t(j) * D + h * dh, dh, ctx.data() + size_t(t) * D + h * dh);
    }
  cross_o_.forward(ctx.data(), T, o.data(), pool);
  for (size_t i = 0; i < o.size(); ++i) out[i] = text[i] + o[i];
}

FusedEmbeddings AudioProcessing::fuse(const MultistreamInput& in, int64_t offset, ThreadPool* pool) const {
  int B, T;
  validate(in, &B, &T);
  FusedEmbeddings f;
  f.batch = B;
  f.dim = dim_;
  if (fusion_ == FusionKind::Sum) {
    f.length = T;
    f.values = embedding_sum(in, pool);
    f.mask.assign(size_t(B) * T, 1);
  } else {
    // Separate streams: text embeddings and the (projected) audio sum.
    MultistreamInput text_only{in.text, {}}, audio_only{std::nullopt, in.audio};
    std::vector<float> text(size_t(B) * T * dim_, 0.0f), audio(size_t(B) * T * dim_, 0.0f);
    if (in.text) text = embedding_sum(text_only, pool);
    bool any_audio = std::any_of(in.audio.begin(), in.audio.end(), [](const auto& a) { return a.has_value(); });
    if (any_audio) audio = embedding_sum(audio_only, pool);
    std::vector<uint8_t> text_present(size_t(B) * T, 0), audio_present(size_t(B) * T, 0);
    for (int b = 0; b < B; ++b)
      for (int t = 0; t < T; ++t) {
        text_present[size_t(b) * T + t] = in.text && in.text->at(b, t) != -1;
        for (const auto& a : in.audio)
          if (a && a->at(b, t) != -1) audio_present[size_t(b) * T + t] = 1;
      }
    f.length = fusion_ == FusionKind::CrossAttention ? T : 2 * T;
    f.values.assign(size_t(B) * f.length * dim_, 0.0f);
    f.mask.assign(size_t(B) * f.length, 0);
    for (int b = 0; b < B; ++b) {
      const float* tb = text.data() + size_t(b) * T * dim_;
      const float* ab = audio.data() + size_t(b) * T * dim_;
      float* ob = f.values.data() + size_t(b) * f.length * dim_;
      uint8_t* mb = f.mask.data() + size_t(b) * f.length;
      for (int t = 0; t < T; ++t) {
        int ts = fusion_ == FusionKind::Concat ? t : 2 * t;
        int as = fusion_ == FusionKind::Concat ? T + t : 2 * t + 1;
        if (fusion_ == FusionKind::CrossAttention) {
          mb[t] = text_present[size_t(b) * T + t] || audio_present[size_t(b) * T + t];
          continue;
        }
        std::copy(tb + size_t(t) * dim_, tb + size_t(t + 1) * dim_, ob + size_t(ts) * dim_);
        std::copy(ab + size_t(t) * dim_, ab + size_t(t + 1) * dim_, ob + size_t(as) * dim_);
        mb[ts] = text_present[size_t(b) * T + t];
        mb[as] = audio_present[size_t(b) * T + t];
      }
      if (fusion_ == FusionKind::CrossAttention)
        cross_attend(tb, ab, audio_present.data() + size_t(b) * T, T, ob, pool);
    }
  }
  for (int b = 0; b < B; ++b)
    positional_.add_to_input(f.values.data() + size_t(b) * f.length * dim_, f.length, dim_, offset);
  return f;
}

}  // namespace kyutai
