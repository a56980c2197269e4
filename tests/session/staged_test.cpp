// The staged sessions (lm/forward.h): a step driven through begin / sample / finish with a
// forward computed elsewhere (here a second LmState standing in for the GPU, whose new K/V
// rows feed the session's mirror) gives the same tokens as the one-call step; bad replies
// and out-of-order calls are refused with a code and change nothing; a remote frame that
// fails is redone locally from the mirror with the same tokens as an uninterrupted run.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <set>

#include "codec/mimi.h"
#include "lm_fixture.h"
#include "session/asr_session.h"
#include "session/duplex_pipeline.h"
#include "session/generation_sessions.h"
#include "test_util.h"

namespace kyutai {
namespace {

const LmModel& stt() { return *test::lm_fixture("stt").model; }
const LmModel& moshi() { return *test::lm_fixture("lm").model; }

std::vector<int32_t> user_frame(int t, int n = 8) {
  std::vector<int32_t> f(n);
  for (int k = 0; k < n; ++k) f[k] = (t * 7 + k * 3) % 32;
  return f;
}

// A forward outside the session (the GPU's role): its own LmState; replies with the tokens
// the session samples (or the argmax), the VAD and the position's K/V rows.
class RemoteForward {
 public:
  explicit RemoteForward(const LmModel& m) : m_(m), state_(m.new_state()) {}

  template <typename Session>
  FrameReply run(Session& s, const FrameRequest& req) {
    const LmConfig& c = m_.config();
    std::vector<float> out(c.dim), logits(c.text_card_out);
    m_.step(req.tokens.data(), state_, out.data(), logits.data());
    FrameReply r;
    r.text_token = req.forced_text   ? *req.forced_text
                   : req.sample_text ? s.sample_text(logits.data(), int(logits.size()))
                                     : argmax(logits.data(), int(logits.size()));
    if (req.vad) {
      r.vad.resize(size_t(c.extra_heads_num_heads) * c.extra_heads_dim);
      m_.extra_heads(out.data(), r.vad.data());
    }
    if (req.depformer) {
      state_.depformer.reset();
      std::vector<float> dl(c.card);
      int32_t prev = r.text_token;
      for (int k = 0; k < c.dep_q; ++k) {
        m_.depformer_step(k, prev, out.data(), state_, dl.data());
        prev = req.sample_audio ? s.sample_audio(k, dl.data(), c.card) : argmax(dl.data(), c.card);
        r.audio_tokens.push_back(prev);
      }
    }
    r.kv_rows = last_rows();
    return r;
  }

 private:
  std::vector<float> last_rows() const {
    std::vector<float> rows;
    for (const KvCache& cache : state_.transformer.layers) {
      const int slot = int((cache.end - 1) % cache.capacity);
      for (const AlignedBuffer<float>* b : {&cache.keys, &cache.values})
        for (int h = 0; h < cache.kv_heads; ++h) {
          const float* row = b->data() + (size_t(h) * cache.capacity + slot) * cache.d_head;
          rows.insert(rows.end(), row, row + cache.d_head);
        }
    }
    return rows;
  }
  const LmModel& m_;
  LmState state_;
};

void expect_same(const GeneratedFrame& a, const GeneratedFrame& b, int t) {
  EXPECT_EQ(a.step, b.step) << t;
  EXPECT_EQ(a.text_token, b.text_token) << t;
  EXPECT_EQ(a.has_frame, b.has_frame) << t;
  EXPECT_EQ(a.frame_text, b.frame_text) << t;
  EXPECT_EQ(a.audio, b.audio) << t;
}

TEST(StagedSessions, RemoteForwardWithMirrorGivesTheSyncTokensAndFailsOverExactly) {
  for (bool sampling : {false, true}) {
    GenerationParams p = sampling ? test::sampled_params(11) : GenerationParams{};
    DuplexSession sync(moshi(), p), staged(moshi(), p);
    RemoteForward gpu(moshi());
    std::vector<int32_t> texts;
    for (int t = 0; t < 20; ++t) {  // past the KV ring of the tiny model's context
      auto user = user_frame(t);
      GeneratedFrame a = sync.push_frame(user.data(), 8);
      const FrameRequest& req = staged.begin_frame(user.data(), 8);
      GeneratedFrame b = staged.finish(gpu.run(staged, req));
      expect_same(a, b, t);
      texts.push_back(a.text_token);
    }
    // The device fails mid-frame (after the text token was drawn): the frame is redone on
    // the mirror with the generator rewound, then the session goes on locally.
    for (int t = 20; t < 26; ++t) {
      auto user = user_frame(t);
      GeneratedFrame a = sync.push_frame(user.data(), 8);
      const FrameRequest& req = staged.begin_frame(user.data(), 8);
      if (t == 20 && req.sample_text) {
        std::vector<float> junk(moshi().config().text_card_out, 0.5f);
        staged.sample_text(junk.data(), int(junk.size()));
      }
      expect_same(a, staged.run_local(), t);
    }
    if (sampling) EXPECT_GT(std::set<int32_t>(texts.begin(), texts.end()).size(), 2u) << "sampling varies";
  }
}

TEST(StagedSessions, AsrAndTtsStagedMatchTheirOneCallSteps) {
  AsrSession sync(stt()), staged(stt());
  RemoteForward gpu(stt());
  for (int t = 0; t < 20; ++t) {
    auto frame = user_frame(t);
    AsrStep a = sync.push_frame(frame.data(), 8);
    AsrStep b = staged.finish(gpu.run(staged, staged.begin_frame(frame.data(), 8)));
    EXPECT_EQ(a.text_token, b.text_token) << t;
    EXPECT_EQ(a.step, b.step);
    ASSERT_EQ(a.vad.size(), b.vad.size());
    for (size_t i = 0; i < a.vad.size(); ++i) EXPECT_NEAR(a.vad[i], b.vad[i], 1e-6f);
  }
  TtsSession tts(moshi(), test::sampled_params(3)), tts_staged(moshi(), test::sampled_params(3));
  RemoteForward tts_gpu(moshi());
  int t = 0;
  for (int32_t token : {5, 3, 3, -1, 7, 0, 3, 3, 9}) {
    GeneratedFrame a = tts.push_text(token);
    const FrameRequest& req = tts_staged.begin_text(token);
    EXPECT_FALSE(req.sample_text) << "forced text is never sampled";
    expect_same(a, tts_staged.finish(tts_gpu.run(tts_staged, req)), t++);
  }
}

TEST(StagedSessions, BadRepliesAndOutOfOrderCallsAreRefusedWithoutStateChange) {
  DuplexSession s(moshi(), test::sampled_params(5)), twin(moshi(), test::sampled_params(5));
  const LmConfig& c = moshi().config();
  std::vector<float> text(c.text_card_out, 0.1f), audio(c.card, 0.1f), short_logits(3, 0.f);
  auto user = user_frame(0);
  FrameReply empty;
  auto code = [](auto&& f) {
    try {
      f();
    } catch (const Error& e) {
      return e.code();
    }
    return ErrorCode::Internal;
  };
  EXPECT_EQ(code([&] { s.finish(empty); }), ErrorCode::InvalidState);
  EXPECT_EQ(code([&] { s.sample_text(text.data(), int(text.size())); }), ErrorCode::InvalidState);
  EXPECT_EQ(code([&] { s.run_local(); }), ErrorCode::InvalidState);
  EXPECT_EQ(s.steps(), 0);

  const FrameRequest& req = s.begin_frame(user.data(), 8);
  ASSERT_TRUE(req.sample_text && req.sample_audio && req.depformer);
  EXPECT_EQ(code([&] { s.begin_frame(user.data(), 8); }), ErrorCode::InvalidState);
  EXPECT_EQ(code([&] { s.sample_audio(0, audio.data(), c.card); }), ErrorCode::InvalidState) << "text first";
  EXPECT_EQ(code([&] { s.sample_text(short_logits.data(), 3); }), ErrorCode::InvalidArgument);
  int32_t token = s.sample_text(text.data(), int(text.size()));
  EXPECT_EQ(code([&] { s.sample_text(text.data(), int(text.size())); }), ErrorCode::InvalidState) << "drawn once";
  EXPECT_EQ(code([&] { s.sample_audio(1, audio.data(), c.card); }), ErrorCode::InvalidState) << "codebook 0 first";
  FrameReply reply;
  reply.text_token = token;
  for (int k = 0; k < c.dep_q; ++k) reply.audio_tokens.push_back(s.sample_audio(k, audio.data(), c.card));
  FrameReply wrong_text = reply, short_audio = reply, bad_rows = reply;
  wrong_text.text_token = (token + 1) % c.text_card_out;
  short_audio.audio_tokens.pop_back();
  bad_rows.kv_rows.assign(7, 0.f);
  EXPECT_EQ(code([&] { s.finish(wrong_text); }), ErrorCode::InvalidArgument);
  EXPECT_EQ(code([&] { s.finish(short_audio); }), ErrorCode::InvalidArgument);
  EXPECT_EQ(code([&] { s.finish(bad_rows); }), ErrorCode::InvalidArgument);
  EXPECT_TRUE(s.frame_open()) << "a refused reply leaves the frame open";
  EXPECT_EQ(s.steps(), 0);
  // Nothing changed: the frame redone locally is the twin's first step.
  expect_same(twin.push_frame(user.data(), 8), s.run_local(), 0);
  for (int t = 1; t < 5; ++t) {
    auto u = user_frame(t);
    expect_same(twin.push_frame(u.data(), 8), s.push_frame(u.data(), 8), t);
  }
  // A remote reply without K/V rows ends the mirror: a later local redo is refused.
  auto u = user_frame(5);
  const FrameRequest& r2 = s.begin_frame(u.data(), 8);
  FrameReply no_rows;
  no_rows.text_token = r2.sample_text ? s.sample_text(text.data(), int(text.size())) : 0;
  for (int k = 0; k < c.dep_q; ++k) no_rows.audio_tokens.push_back(s.sample_audio(k, audio.data(), c.card));
  s.finish(no_rows);
  EXPECT_EQ(code([&] { s.push_frame(u.data(), 8); }), ErrorCode::InvalidState);
  s.reset();
  expect_same(DuplexSession(moshi(), test::sampled_params(5)).push_frame(user.data(), 8), s.push_frame(user.data(), 8),
              0);
}

TEST(DuplexPipeline, MatchesMimiEncodeDuplexStepAndDecode) {
  GenerationParams p = test::sampled_params(9);
  DuplexPipeline pipe(moshi(), test::mimi_fixture(), p), staged(moshi(), test::mimi_fixture(), p);
  RemoteForward gpu(moshi());
  DuplexSession session(moshi(), p);
  MimiState enc = test::mimi_fixture().new_state(8), dec = test::mimi_fixture().new_state(8);
  SessionWords words(0, moshi().config().existing_text_padding_id, moshi().config().existing_text_end_padding_id,
                     test::mimi_fixture().frame_rate());
  std::vector<float> pcm(1920);
  int frames = 0;
  for (int t = 0; t < 12; ++t) {
    for (size_t i = 0; i < pcm.size(); ++i) pcm[i] = 0.3f * std::sin(0.01f * float(i + t * 1920));
    std::vector<int32_t> codes(8);
    test::mimi_fixture().encode_step(pcm.data(), enc, codes.data());
    GeneratedFrame expected = session.push_frame(codes.data(), 8);
    DuplexStep got = pipe.step(pcm.data(), 1920);
    DuplexStep remote = staged.finish(gpu.run(staged, staged.begin(pcm.data(), 1920)));
    EXPECT_EQ(remote.audio, got.audio) << t;
    EXPECT_EQ(remote.pcm, got.pcm) << t;
    EXPECT_EQ(got.user_codes, codes) << t;
    EXPECT_EQ(got.text_token, expected.text_token) << t;
    EXPECT_EQ(got.has_frame, expected.has_frame) << t;
    EXPECT_EQ(got.audio, expected.audio) << t;
    WordUpdate w = words.push(expected.text_token);
    EXPECT_EQ(got.words.words.size(), w.words.size()) << t;
    EXPECT_EQ(got.words.ended.has_value(), w.ended.has_value()) << t;
    EXPECT_EQ(expected.words.words.size(), w.words.size()) << t;  // the session's own words
    if (expected.has_frame) {
      std::vector<float> out(1920);
      test::mimi_fixture().decode_step(expected.audio.data(), dec, out.data());
      EXPECT_EQ(got.pcm, out) << t;
      ++frames;
    } else {
      EXPECT_TRUE(got.pcm.empty());
    }
  }
  EXPECT_GT(frames, 8);
  std::vector<float> bad(1920, NAN);
  EXPECT_THROW(pipe.step(bad.data(), 1920), Error);
  EXPECT_THROW(pipe.step(pcm.data(), 100), Error);
  EXPECT_FALSE(pipe.frame_open());
}

}  // namespace
}  // namespace kyutai
