#include "session/duplex_pipeline.h"

#include "core/error.h"

namespace kyutai {

namespace {
const Mimi& checked_codec(const LmModel& model, const Mimi& codec) {
  const LmConfig& c = model.config();
  const int needed = std::max(c.n_q - c.dep_q, c.dep_q);
  if (codec.num_codebooks() < needed)
    fail(ErrorCode::InvalidArgument, "the codec writes ", codec.num_codebooks(), " codebooks but the model needs ",
         needed);
  if (codec.cardinality() > c.card)
    fail(ErrorCode::InvalidArgument, "the codec's codes (0..", codec.cardinality() - 1,
         ") do not fit the model's audio vocabulary of ", c.card);
  return codec;
}
}  // namespace

DuplexPipeline::DuplexPipeline(const LmModel& model, const Mimi& codec, GenerationParams params)
    : codec_(checked_codec(model, codec)),
      session_(model, params),
      encoder_(codec.new_state(model.config().n_q - model.config().dep_q)),
      decoder_(codec.new_state(model.config().dep_q)) {}

const FrameRequest& DuplexPipeline::begin(const float* pcm, int count) {
  if (session_.frame_open())
    fail(ErrorCode::InvalidState, "a frame is already open: finish it (or run it locally) first");
  if (count != codec_.frame_size())
    fail(ErrorCode::InvalidArgument, "expected an audio frame of ", codec_.frame_size(), " samples, got ", count);
  user_codes_.resize(encoder_.codebooks);
  codec_.encode_step(pcm, encoder_, user_codes_.data());  // validates the samples (NaN, inf)
  return session_.begin_frame(user_codes_.data(), int(user_codes_.size()));
}

const FrameRequest& DuplexPipeline::begin_codes(const int32_t* codes, int count) {
  const FrameRequest& req = session_.begin_frame(codes, count);  // validates the codes
  user_codes_.assign(codes, codes + count);
  return req;
}

DuplexStep DuplexPipeline::step_codes(const int32_t* codes, int count) {
  begin_codes(codes, count);
  return run_local();
}

DuplexStep DuplexPipeline::step(const float* pcm, int count) {
  begin(pcm, count);
  return run_local();
}

DuplexStep DuplexPipeline::finish(FrameReply reply) { return complete(session_.finish(std::move(reply))); }

DuplexStep DuplexPipeline::run_local() { return complete(session_.run_local()); }

DuplexStep DuplexPipeline::complete(GeneratedFrame frame) {
  DuplexStep out;
  out.step = frame.step;
  out.text_token = frame.text_token;
  out.user_codes = user_codes_;
  out.has_frame = frame.has_frame;
  out.frame_text = frame.frame_text;
  out.audio = std::move(frame.audio);
  if (out.has_frame) {
    out.pcm.resize(codec_.frame_size());
    codec_.decode_step(out.audio.data(), decoder_, out.pcm.data());
  }
  out.words = std::move(frame.words);
  return out;
}

void DuplexPipeline::reset() {
  session_.reset();
  encoder_.reset();
  decoder_.reset();
}

}  // namespace kyutai
