// Fuzzes the streaming sessions with frames built from the input: an AsrSession on the STT
// conformance model (tests/data/stt), a DuplexSession and a TtsSession on the Moshi-shaped
// conformance model (tests/data/lm), and Mimi encode_step / decode_step (tests/data/mimi),
// all loaded once. Frames have the right length or not, ids in range, just outside (-2,
// card, text_card + 1) or anywhere in int32; audio frames carry NaN, infinities, huge and
// denormal samples.
//
// Besides "kyutai::Error or nothing", each session is checked against a shadow twin that
// receives only the frames the fuzzed one accepted: their outputs must be bit-identical, so a
// refused frame may not have touched any state (KV cache, delay cache, random generator).
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "codec/mimi.h"
#include "core/error.h"
#include "lm/lm_model.h"
#include "session/asr_session.h"
#include "session/generation_sessions.h"

namespace {

using namespace kyutai;

[[noreturn]] void finding(const char* what) {
  std::fprintf(stderr, "fuzz_session: %s\n", what);
  std::abort();
}

std::vector<uint8_t> read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) {
    std::fprintf(stderr, "fuzz_session: cannot open %s\n", path.c_str());
    std::abort();
  }
  return std::vector<uint8_t>((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

std::string data(const std::string& rel) { return std::string(KYUTAI_TEST_DATA) + "/" + rel; }

LoadOptions options() {
  LoadOptions o;
  o.use_xnnpack = false;
  return o;
}

struct Models {
  std::unique_ptr<LmModel> stt, lm;
  std::unique_ptr<Mimi> mimi;
  Models() {
    auto load = [](const std::string& dir) {
      std::vector<uint8_t> cfg = read_file(data(dir + "/config.json"));
      std::vector<uint8_t> w = read_file(data(dir + "/weights.safetensors"));
      return load_lm(LmConfig::parse(std::string(cfg.begin(), cfg.end())), w.data(), w.size(), options());
    };
    stt = load("stt");
    lm = load("lm");
    std::vector<uint8_t> cfg = read_file(data("mimi/config.json"));
    std::vector<uint8_t> w = read_file(data("mimi/weights.safetensors"));
    mimi = load_mimi(MimiConfig::parse(std::string(cfg.begin(), cfg.end())), w.data(), w.size(), options());
  }
};

const Models& models() {
  static Models m;
  return m;
}

class Input {
 public:
  Input(const uint8_t* d, size_t n) : d_(d), n_(n) {}
  bool empty() const { return pos_ >= n_; }
  uint8_t u8() { return pos_ < n_ ? d_[pos_++] : 0; }
  int32_t i32() {
    uint32_t v = 0;
    for (int k = 0; k < 4; ++k) v |= uint32_t(u8()) << (8 * k);
    int32_t r;
    std::memcpy(&r, &v, 4);
    return r;
  }
  float f32() {
    uint32_t v = uint32_t(i32());
    float f;
    std::memcpy(&f, &v, 4);
    return f;
  }
  // A token id for a stream of `card` values: mostly valid (-1 = absent, 0..card-1), else
  // just outside, else anything.
  int32_t token(int card) {
    uint8_t mode = u8();
    if (mode < 200) return int32_t(u8() % (card + 1)) - 1;
    if (mode < 220) return mode & 1 ? card : -2;
    if (mode < 240) return card + 1 + (mode % 3);
    return i32();
  }
  // A frame length: mostly `expected`, sometimes anything from 0 to 2 * expected + 3.
  int count(int expected) {
    uint8_t mode = u8();
    return mode < 224 ? expected : int(mode % (2 * expected + 4));
  }

 private:
  const uint8_t* d_;
  size_t n_, pos_ = 0;
};

template <typename T>
void same(const T& a, const T& b, const char* what) {
  if (!(a == b)) finding(what);
}

// Bit equality (NaN payloads included) of float vectors.
void same_bits(const std::vector<float>& a, const std::vector<float>& b, const char* what) {
  if (a.size() != b.size() || (a.size() && std::memcmp(a.data(), b.data(), a.size() * 4) != 0)) finding(what);
}

void same_frame(const GeneratedFrame& a, const GeneratedFrame& b, const char* what) {
  if (a.step != b.step || a.text_token != b.text_token || a.has_frame != b.has_frame || a.frame_text != b.frame_text ||
      a.audio != b.audio)
    finding(what);
}

GenerationParams sampling(uint64_t seed) {
  GenerationParams p;
  p.text = {true, 0.7f, 25};
  p.audio = {true, 0.8f, 10};
  p.seed = seed;
  return p;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  const Models& m = models();
  Input in(bytes, size);
  const uint64_t seed = in.u8();
  AsrSession asr(*m.stt), asr_shadow(*m.stt);
  DuplexSession duplex(*m.lm, sampling(seed)), duplex_shadow(*m.lm, sampling(seed));
  TtsSession tts(*m.lm, sampling(seed + 1)), tts_shadow(*m.lm, sampling(seed + 1));
  MimiState codec = m.mimi->new_state(), codec_shadow = m.mimi->new_state();

  const LmConfig& sc = m.stt->config();
  const LmConfig& lc = m.lm->config();
  const int frame_size = m.mimi->frame_size();
  const int mimi_codebooks = m.mimi->num_codebooks();

  int codec_steps = 0;  // Mimi steps cost ~50x an LM step: a few per input
  for (int op = 0; op < 48 && !in.empty(); ++op) {
    int kind = in.u8() % 8;
    if ((kind == 4 || kind == 5 || kind == 6) && ++codec_steps > 6) kind = 0;
    switch (kind) {
      case 0: {  // ASR frame
        std::vector<int32_t> frame(in.count(sc.n_q));
        for (auto& v : frame) v = in.token(sc.card);
        const int64_t before = asr.steps();
        try {
          AsrStep a = asr.push_frame(frame.data(), int(frame.size()));
          AsrStep b = asr_shadow.push_frame(frame.data(), int(frame.size()));
          same(a.text_token, b.text_token, "ASR text token differs from the shadow session");
          same_bits(a.text_logits, b.text_logits, "ASR logits differ from the shadow session");
          same_bits(a.vad, b.vad, "ASR VAD differs from the shadow session");
        } catch (const Error&) {
          if (asr.steps() != before) finding("a refused ASR frame advanced the session");
        }
        break;
      }
      case 1: {  // Moshi user frame
        std::vector<int32_t> frame(in.count(lc.n_q - lc.dep_q));
        for (auto& v : frame) v = in.token(lc.card);
        bool ok = true;
        GeneratedFrame a;
        try {
          a = duplex.push_frame(frame.data(), int(frame.size()));
        } catch (const Error&) {
          ok = false;
        }
        if (ok)
          same_frame(a, duplex_shadow.push_frame(frame.data(), int(frame.size())),
                     "duplex output differs from the shadow session");
        break;
      }
      case 2: {  // TTS text token
        int32_t token = in.u8() < 224 ? in.token(lc.text_card + 1) : in.i32();
        bool ok = true;
        GeneratedFrame a;
        try {
          a = tts.push_text(token);
        } catch (const Error&) {
          ok = false;
        }
        if (ok) same_frame(a, tts_shadow.push_text(token), "TTS output differs from the shadow session");
        break;
      }
      case 3: {  // reset
        switch (in.u8() % 4) {
          case 0:
            asr.reset();
            asr_shadow.reset();
            break;
          case 1:
            duplex.reset();
            duplex_shadow.reset();
            break;
          case 2:
            tts.reset();
            tts_shadow.reset();
            break;
          default:
            codec.reset();
            codec_shadow.reset();
            break;
        }
        break;
      }
      case 4: {  // Mimi encode_step
        std::vector<float> pcm(frame_size);
        const uint8_t kind = in.u8();
        const float amp = float(in.u8()) / 64.0f;
        for (int i = 0; i < frame_size; ++i) pcm[i] = amp * std::sin(0.05f * float(i) * float(1 + kind % 7));
        if (kind % 4 == 1) {
          static const float special[] = {std::numeric_limits<float>::quiet_NaN(),
                                          std::numeric_limits<float>::infinity(),
                                          -std::numeric_limits<float>::infinity(),
                                          3e38f,
                                          -3e38f,
                                          1e-42f,
                                          -0.0f};
          int n = 1 + in.u8() % 3;
          for (int k = 0; k < n; ++k) {
            int at = (in.u8() | (in.u8() << 8)) % frame_size;
            pcm[at] = special[in.u8() % 7];
          }
        } else if (kind % 4 == 2) {
          for (int i = 0; i < 64; ++i) pcm[(i * 31) % frame_size] = in.f32();
        }
        std::vector<int32_t> a(codec.codebooks, -7), b(codec_shadow.codebooks, -7);
        try {
          m.mimi->encode_step(pcm.data(), codec, a.data());
        } catch (const Error&) {
          break;
        }
        for (int32_t c : a)
          if (c < 0 || c >= m.mimi->cardinality()) finding("Mimi produced a code outside 0..cardinality-1");
        m.mimi->encode_step(pcm.data(), codec_shadow, b.data());
        same(a, b, "Mimi codes differ from the shadow state");
        break;
      }
      case 5: {  // Mimi decode_step
        std::vector<int32_t> codes(codec.codebooks);
        for (auto& v : codes) v = in.token(m.mimi->cardinality());
        std::vector<float> a(frame_size), b(frame_size);
        try {
          m.mimi->decode_step(codes.data(), codec, a.data());
        } catch (const Error&) {
          break;
        }
        m.mimi->decode_step(codes.data(), codec_shadow, b.data());
        same_bits(a, b, "Mimi audio differs from the shadow state");
        break;
      }
      case 6: {  // a fresh Mimi state with any codebook count
        int n = int(in.u8() % (mimi_codebooks + 4)) - 1;
        try {
          MimiState st = m.mimi->new_state(n);
          std::vector<float> pcm(frame_size, 0.01f);
          std::vector<int32_t> codes(st.codebooks);
          m.mimi->encode_step(pcm.data(), st, codes.data());
        } catch (const Error&) {
        }
        break;
      }
      default: {  // empty frames through every session
        try {
          asr.push_frame(nullptr, 0);
          finding("ASR accepted an empty frame");
        } catch (const Error&) {
        }
        try {
          duplex.push_frame(nullptr, 0);
          finding("duplex accepted an empty frame");
        } catch (const Error&) {
        }
        break;
      }
    }
  }
  return 0;
}
