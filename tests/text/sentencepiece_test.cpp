// SentencePiece tokenizer against Debian's sentencepiece tools. The reference models and
// outputs are produced at test time by tests/text/make_spm_fixture.sh (see README.md in this
// directory): natively the test runs the script itself unless KYUTAI_SPM_FIXTURE names an
// existing fixture directory; under WebAssembly (no processes) it reads KYUTAI_SPM_FIXTURE or,
// failing that, /tmp/kyutai-spm-fixture, and skips when neither holds a fixture.
#include "text/sentencepiece.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "core/error.h"
#include "test_util.h"

namespace kyutai {
namespace {

namespace fs = std::filesystem;

constexpr const char* kDefaultFixtureDir = "/tmp/kyutai-spm-fixture";

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::vector<int> parse_ids(const std::string& line) {
  std::vector<int> ids;
  std::istringstream in(line);
  for (int id; in >> id;) ids.push_back(id);
  return ids;
}

std::string join(const std::vector<std::string>& parts, const std::string& separator) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) out += (i ? separator : "") + parts[i];
  return out;
}

std::string ids_text(const std::vector<int>& ids) {
  std::string out;
  for (size_t i = 0; i < ids.size(); ++i) out += (i ? " " : "") + std::to_string(ids[i]);
  return out;
}

bool has_fixture(const std::string& dir) { return !dir.empty() && fs::exists(fs::path(dir) / "models.txt"); }

// KYUTAI_SPM_FIXTURE from the process environment. Emscripten 3.1.6's getenv only sees a
// fixed default set (USER, PATH, HOME, ...), not Node's process.env; with NODERAWFS the host
// file system is mounted, so on Linux the variable can still be read from the Node process's
// /proc/self/environ.
std::string fixture_env() {
  if (const char* env = std::getenv("KYUTAI_SPM_FIXTURE"); env != nullptr && *env != '\0') return env;
#ifdef __EMSCRIPTEN__
  std::error_code missing;
  if (!fs::exists("/proc/self/environ", missing)) return {};
  std::string environ_text;
  try {
    std::vector<uint8_t> bytes = test::read_file("/proc/self/environ");
    environ_text.assign(bytes.begin(), bytes.end());
  } catch (const std::exception&) {
    return {};
  }
  const std::string key = "KYUTAI_SPM_FIXTURE=";
  std::istringstream entries(environ_text);
  for (std::string entry; std::getline(entries, entry, '\0');) {
    if (entry.compare(0, key.size(), key) == 0) return entry.substr(key.size());
  }
#endif
  return {};
}

// Locates (or natively, builds) the fixture directory once for the whole binary.
class SpmFixture {
 public:
  static SpmFixture& get() {
    static SpmFixture fixture;
    return fixture;
  }
  ~SpmFixture() {
    std::error_code ignored;
    if (!created_.empty()) fs::remove_all(created_, ignored);
  }

  const std::string& dir() const { return dir_; }
  const std::string& problem() const { return problem_; }
  bool skipped() const { return skipped_; }

 private:
  SpmFixture() {
    if (std::string env = fixture_env(); !env.empty()) {
      dir_ = env;
      if (!has_fixture(dir_)) problem_ = str_cat("KYUTAI_SPM_FIXTURE=", dir_, " holds no models.txt");
      return;
    }
#ifdef __EMSCRIPTEN__
    // Processes cannot be spawned here; fall back to the documented default location.
    if (has_fixture(kDefaultFixtureDir)) {
      dir_ = kDefaultFixtureDir;
    } else {
      skipped_ = true;
      problem_ = str_cat("no SentencePiece fixture: set KYUTAI_SPM_FIXTURE or run tests/text/make_spm_fixture.sh ",
                         kDefaultFixtureDir, " first (the WebAssembly build cannot run spm_train itself)");
    }
#else
    build_natively();
#endif
  }

#ifndef __EMSCRIPTEN__
  void build_natively() {
    std::string pattern = (fs::temp_directory_path() / "kyutai-spm-XXXXXX").string();
    std::vector<char> buffer(pattern.begin(), pattern.end());
    buffer.push_back('\0');
    if (mkdtemp(buffer.data()) == nullptr) {
      problem_ = "cannot create a temporary directory for the SentencePiece fixture";
      return;
    }
    created_ = dir_ = buffer.data();
    const std::string script = std::string(KYUTAI_TEST_DATA) + "/../text/make_spm_fixture.sh";
    const std::string command = "bash '" + script + "' '" + dir_ + "'";
    if (std::system(command.c_str()) != 0 || !has_fixture(dir_)) {
      problem_ = str_cat("`", command,
                         "` failed (is Debian's sentencepiece installed? apt-get install -y sentencepiece)");
    }
  }
#endif

  std::string dir_;
  std::string created_;
  std::string problem_;
  bool skipped_ = false;
};

// Everything the reference files say about one model.
struct Reference {
  std::string name;
  std::vector<std::string> ids, pieces, decoded, random_ids, random_decoded;
};

class SentencePieceReference : public ::testing::Test {
 protected:
  void SetUp() override {
    const SpmFixture& fixture = SpmFixture::get();
    if (fixture.skipped()) GTEST_SKIP() << fixture.problem();
    ASSERT_TRUE(fixture.problem().empty()) << fixture.problem();
    dir_ = fixture.dir();
    sentences_ = split_lines(test::read_text(path("sentences.txt")));
    model_names_ = split_lines(test::read_text(path("models.txt")));
    ASSERT_FALSE(model_names_.empty());
  }

  std::string path(const std::string& file) const { return (fs::path(dir_) / file).string(); }

  SentencePiece load(const std::string& name) const {
    std::vector<uint8_t> bytes = test::read_file(path(name + ".model"));
    return SentencePiece::load(bytes.data(), bytes.size());
  }

  std::vector<uint8_t> model_bytes(const std::string& name) const { return test::read_file(path(name + ".model")); }

  Reference reference(const std::string& name) const {
    Reference r;
    r.name = name;
    r.ids = split_lines(test::read_text(path(name + ".ids")));
    r.pieces = split_lines(test::read_text(path(name + ".pieces")));
    r.decoded = split_lines(test::read_text(path(name + ".decoded")));
    r.random_ids = split_lines(test::read_text(path(name + ".random_ids")));
    r.random_decoded = split_lines(test::read_text(path(name + ".random_decoded")));
    EXPECT_EQ(r.ids.size(), sentences_.size()) << name;
    EXPECT_EQ(r.pieces.size(), sentences_.size()) << name;
    EXPECT_EQ(r.decoded.size(), sentences_.size()) << name;
    EXPECT_EQ(r.random_ids.size(), r.random_decoded.size()) << name;
    return r;
  }

  std::string dir_;
  std::vector<std::string> sentences_;
  std::vector<std::string> model_names_;
};

TEST_F(SentencePieceReference, EncodesToTheSameIdsAsSpmEncodeForEveryModel) {
  for (const std::string& name : model_names_) {
    SentencePiece sp = load(name);
    Reference ref = reference(name);
    for (size_t i = 0; i < sentences_.size() && i < ref.ids.size(); ++i) {
      EXPECT_EQ(ids_text(sp.encode(sentences_[i])), ref.ids[i]) << name << " sentence " << i << ": " << sentences_[i];
    }
  }
}

TEST_F(SentencePieceReference, PiecesOfEncodedIdsMatchSpmEncodePieceOutput) {
  for (const std::string& name : model_names_) {
    SentencePiece sp = load(name);
    Reference ref = reference(name);
    for (size_t i = 0; i < sentences_.size() && i < ref.pieces.size(); ++i) {
      // spm prints an <unk> piece as the text it covers, which the id alone cannot give:
      // take that token from the reference (no fixture piece or surface contains ' ').
      std::vector<std::string> expected;
      std::istringstream tokens(ref.pieces[i]);
      for (std::string token; std::getline(tokens, token, ' ');) expected.push_back(token);
      std::vector<int> ids = sp.encode(sentences_[i]);
      ASSERT_EQ(ids.size(), expected.size()) << name << " sentence " << i << ": " << ref.pieces[i];
      std::vector<std::string> pieces;
      for (size_t k = 0; k < ids.size(); ++k) {
        pieces.push_back(ids[k] == sp.unk_id() ? expected[k] : sp.id_to_piece(ids[k]));
      }
      EXPECT_EQ(join(pieces, " "), ref.pieces[i]) << name << " sentence " << i << ": " << sentences_[i];
    }
  }
}

TEST_F(SentencePieceReference, DecodesSpmIdsToTheSameTextAsSpmDecode) {
  for (const std::string& name : model_names_) {
    SentencePiece sp = load(name);
    Reference ref = reference(name);
    for (size_t i = 0; i < ref.ids.size() && i < ref.decoded.size(); ++i) {
      EXPECT_EQ(sp.decode(parse_ids(ref.ids[i])), ref.decoded[i]) << name << " line " << i << ": " << ref.ids[i];
    }
  }
}

TEST_F(SentencePieceReference, DecodesRandomIdSequencesLikeSpmDecode) {
  // Random ids mix control, <unk>, byte pieces (including invalid UTF-8 runs) and word
  // markers in positions ordinary encoding never produces.
  for (const std::string& name : model_names_) {
    SentencePiece sp = load(name);
    Reference ref = reference(name);
    for (size_t i = 0; i < ref.random_ids.size() && i < ref.random_decoded.size(); ++i) {
      EXPECT_EQ(sp.decode(parse_ids(ref.random_ids[i])), ref.random_decoded[i])
          << name << " line " << i << ": " << ref.random_ids[i];
    }
  }
}

TEST_F(SentencePieceReference, DecodeOfEncodeMatchesSpmRoundTrip) {
  for (const std::string& name : model_names_) {
    SentencePiece sp = load(name);
    Reference ref = reference(name);
    for (size_t i = 0; i < sentences_.size() && i < ref.decoded.size(); ++i) {
      EXPECT_EQ(sp.decode(sp.encode(sentences_[i])), ref.decoded[i])
          << name << " sentence " << i << ": " << sentences_[i];
    }
  }
}

TEST_F(SentencePieceReference, PlainTextSurvivesTheRoundTripUnchanged) {
  SentencePiece sp = load("uni_nfkc_bytes");
  for (const char* text : {"Hello world", "Le garçon mange une crème brûlée à Noël.", "東京の天気は晴れです。",
                           "I love emoji 🎉🚀🦀 so much", "Xylophone quizzically juxtaposed"}) {
    EXPECT_EQ(sp.decode(sp.encode(text)), text);
  }
}

TEST_F(SentencePieceReference, ByteFallbackSpellsUnknownEmojiAsUtf8Bytes) {
  SentencePiece sp = load("uni_nfkc_bytes");
  std::vector<int> ids = sp.encode("🦀");
  ASSERT_EQ(ids.size(), 5u);
  EXPECT_EQ(sp.id_to_piece(ids[0]), "\xe2\x96\x81");
  const char* expected[] = {"<0xF0>", "<0x9F>", "<0xA6>", "<0x80>"};
  for (int k = 0; k < 4; ++k) {
    EXPECT_TRUE(sp.is_byte(ids[k + 1]));
    EXPECT_EQ(sp.id_to_piece(ids[k + 1]), expected[k]);
  }
  EXPECT_EQ(sp.decode(ids), "🦀");
  // An incomplete byte run decodes to one replacement character per stray byte.
  EXPECT_EQ(sp.decode({ids[1], ids[2]}), "\xef\xbf\xbd\xef\xbf\xbd");
}

TEST_F(SentencePieceReference, UnknownRunsCollapseIntoOneUnkWithoutByteFallback) {
  SentencePiece sp = load("uni_identity");
  std::vector<int> ids = sp.encode("🎉🚀🦀");
  ASSERT_EQ(ids.size(), 2u);  // "▁" then a single <unk> for the three emoji
  EXPECT_EQ(ids[1], sp.unk_id());
  EXPECT_FALSE(sp.is_byte(ids[1]));
  EXPECT_EQ(sp.decode(ids), "[UNK]");  // the model's --unk_surface
}

TEST_F(SentencePieceReference, PieceLookupsAgreeWithTheVocabFile) {
  SentencePiece sp = load("uni_nfkc_bytes");
  std::vector<std::string> vocab = split_lines(test::read_text(path("uni_nfkc_bytes.vocab")));
  ASSERT_EQ(sp.vocab_size(), static_cast<int>(vocab.size()));
  for (int id = 0; id < sp.vocab_size(); ++id) {
    std::string piece = vocab[id].substr(0, vocab[id].find('\t'));
    EXPECT_EQ(sp.id_to_piece(id), piece);
    EXPECT_EQ(sp.piece_to_id(piece), id);
  }
  EXPECT_EQ(sp.unk_id(), 0);
  EXPECT_EQ(sp.piece_to_id("no such piece"), sp.unk_id());
  EXPECT_TRUE(sp.is_control(sp.piece_to_id("<s>")));
  EXPECT_TRUE(sp.is_control(sp.piece_to_id("</s>")));
  EXPECT_FALSE(sp.is_control(sp.unk_id()));
  EXPECT_TRUE(sp.is_byte(sp.piece_to_id("<0x41>")));
  EXPECT_EQ(sp.decode({sp.piece_to_id("<s>"), sp.piece_to_id("</s>")}), "");
}

// Groups ids into words the way a streaming recognizer would: a piece starting with the
// word marker opens a new word.
std::vector<std::string> stream_words(const SentencePiece& sp, const std::vector<int>& ids) {
  std::vector<std::string> words;
  std::vector<int> word;
  for (int id : ids) {
    if (sp.starts_word(id) && !word.empty()) {
      words.push_back(sp.decode_word(word));
      word.clear();
    }
    word.push_back(id);
  }
  if (!word.empty()) words.push_back(sp.decode_word(word));
  return words;
}

TEST_F(SentencePieceReference, DecodeWordStripsTheMarkerSpaceOfEachStreamedWord) {
  SentencePiece sp = load("uni_nfkc_bytes");
  std::vector<std::string> expected = {"The", "cat", "reads", "écoute", "🦀", "every", "day."};
  EXPECT_EQ(stream_words(sp, sp.encode("The cat reads écoute 🦀 every day.")), expected);
  // A word in mid-sentence decodes like the same word opening the sentence.
  std::vector<int> cat = sp.encode("cat");
  EXPECT_EQ(sp.decode_word(cat), "cat");
  EXPECT_EQ(sp.decode_word({}), "");
}

TEST_F(SentencePieceReference, DecodeWordStripsTheMarkerEvenWhenDecodeKeepsIt) {
  // Without a dummy prefix, decode() keeps the space of a word marker in first position.
  SentencePiece sp = load("uni_raw_spaces");
  std::vector<int> ids = sp.encode("hello world");
  std::vector<std::string> expected = {"hello", "world"};
  EXPECT_EQ(stream_words(sp, ids), expected);
  std::vector<int> second(ids.begin() + 1, ids.end());
  while (!second.empty() && !sp.starts_word(second.front())) second.erase(second.begin());
  ASSERT_FALSE(second.empty());
  EXPECT_EQ(sp.decode(second), " world");
  EXPECT_EQ(sp.decode_word(second), "world");
}

TEST_F(SentencePieceReference, DecodeWordStripsTheTrailingMarkerOfSuffixModels) {
  SentencePiece sp = load("uni_suffix");
  std::vector<int> ids = sp.encode("cat reads");
  // In suffix models the marker closes a word.
  std::vector<std::string> words;
  std::vector<int> word;
  for (int id : ids) {
    word.push_back(id);
    const std::string piece = sp.id_to_piece(id);
    if (piece.size() >= 3 && piece.compare(piece.size() - 3, 3, "\xe2\x96\x81") == 0) {
      words.push_back(sp.decode_word(word));
      word.clear();
    }
  }
  if (!word.empty()) words.push_back(sp.decode_word(word));
  std::vector<std::string> expected = {"cat", "reads"};
  EXPECT_EQ(words, expected);
}

TEST_F(SentencePieceReference, RejectsOutOfRangeIds) {
  SentencePiece sp = load("uni_nfkc_bytes");
  const int vocab = sp.vocab_size();
  try {
    sp.decode({5, vocab});
    FAIL() << "decode accepted an id past the vocabulary";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::InvalidArgument);
    EXPECT_EQ(std::string(e.what()), str_cat("tokenizer: id ", vocab, " out of range (vocab ", vocab, ")"));
  }
  EXPECT_THROW(sp.decode({-1}), Error);
  EXPECT_THROW(sp.decode_word({vocab + 100}), Error);
  EXPECT_THROW(sp.id_to_piece(-3), Error);
  EXPECT_THROW(sp.starts_word(vocab), Error);
  EXPECT_FALSE(sp.is_control(-1));
  EXPECT_FALSE(sp.is_byte(vocab));
}

TEST_F(SentencePieceReference, RejectsTruncatedModelsWithAnError) {
  std::vector<uint8_t> bytes = model_bytes("uni_nfkc_bytes");
  // Cuts inside a field must name the protobuf problem.
  for (size_t size : {size_t(1), size_t(7), bytes.size() / 2, bytes.size() - 1}) {
    try {
      SentencePiece::load(bytes.data(), size);
      FAIL() << "loaded a model truncated to " << size << " bytes";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::InvalidCheckpoint) << e.what();
      EXPECT_NE(std::string(e.what()).find("protobuf: malformed ModelProto"), std::string::npos) << e.what();
    }
  }
  // Every other cut either loads (a field boundary) or throws kyutai::Error; never anything else.
  for (size_t size = 0; size < bytes.size(); size += 97) {
    try {
      SentencePiece sp = SentencePiece::load(bytes.data(), size);
      EXPECT_GT(sp.vocab_size(), 0);
    } catch (const Error&) {
    }
  }
}

TEST_F(SentencePieceReference, SurvivesRandomlyCorruptedModels) {
  const std::vector<uint8_t> original = model_bytes("uni_nfkc_bytes");
  std::mt19937 rng(1234);
  int loaded = 0;
  for (int trial = 0; trial < 300; ++trial) {
    std::vector<uint8_t> bytes = original;
    int flips = 1 + int(rng() % 4);
    for (int k = 0; k < flips; ++k) bytes[rng() % bytes.size()] = uint8_t(rng());
    try {
      SentencePiece sp = SentencePiece::load(bytes.data(), bytes.size());
      ++loaded;
      for (const std::string& text : sentences_) sp.decode(sp.encode(text));
    } catch (const Error&) {
      // A clear error is an acceptable outcome; a crash or another exception type is not.
    }
  }
  EXPECT_GT(loaded, 0);  // corruption of scores or piece text still yields a usable model
}

// --- Hand-built models: edge cases spm_train does not produce ----------------------------

std::string varint(uint64_t value) {
  std::string out;
  do {
    out += char((value & 0x7F) | (value > 0x7F ? 0x80 : 0));
    value >>= 7;
  } while (value != 0);
  return out;
}
std::string varint_field(int number, uint64_t value) { return varint(uint64_t(number) << 3) + varint(value); }
std::string bytes_field(int number, const std::string& payload) {
  return varint(uint64_t(number) << 3 | 2) + varint(payload.size()) + payload;
}
std::string float_field(int number, float value) {
  std::string out = varint(uint64_t(number) << 3 | 5);
  uint32_t raw;
  std::memcpy(&raw, &value, 4);
  for (int k = 0; k < 4; ++k) out += char(raw >> (8 * k));
  return out;
}
std::string piece_field(const std::string& text, float score, int type) {
  return bytes_field(1, bytes_field(1, text) + float_field(2, score) + varint_field(3, type));
}
std::string le32(uint32_t value) {
  std::string out;
  for (int k = 0; k < 4; ++k) out += char(value >> (8 * k));
  return out;
}

constexpr int kNormal = 1, kUnknown = 2, kControl = 3, kUserDefined = 4;

// <unk> <s> </s> ▁a a ▁ b, with the given trainer and normalizer specs.
std::string tiny_model(const std::string& trainer, const std::string& normalizer) {
  return piece_field("<unk>", 0, kUnknown) + piece_field("<s>", 0, kControl) + piece_field("</s>", 0, kControl) +
         piece_field(
             "\xe2\x96\x81"
             "a",
             -1, kNormal) +
         piece_field("a", -2, kNormal) + piece_field("\xe2\x96\x81", -3, kNormal) + piece_field("b", -2.5, kNormal) +
         bytes_field(2, trainer) + bytes_field(3, normalizer);
}

SentencePiece load_string(const std::string& bytes) {
  return SentencePiece::load(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
}

void expect_load_error(const std::string& bytes, ErrorCode code, const std::string& fragment) {
  try {
    load_string(bytes);
    ADD_FAILURE() << "model loaded, expected an error containing \"" << fragment << "\"";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), code) << e.what();
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
  }
}

TEST(SentencePieceHandBuilt, SegmentsWithPieceScoresAndIdentityNormalization) {
  SentencePiece sp = load_string(tiny_model(varint_field(3, 1), bytes_field(1, "identity")));
  EXPECT_EQ(sp.encode("a  b a"), (std::vector<int>{3, 5, 6, 3}));  // ▁a ▁ b ▁a
  EXPECT_EQ(sp.encode("ab"), (std::vector<int>{3, 6}));
  EXPECT_EQ(sp.encode("c"), (std::vector<int>{5, 0}));  // unknown character
  EXPECT_EQ(sp.decode({3, 5, 6, 0}), "a b \xe2\x81\x87 ");
  EXPECT_TRUE(sp.encode("   ").empty());
}

TEST(SentencePieceHandBuilt, AppliesCharsMapRulesBeforeSegmentation) {
  // Darts double array with one rule "A" -> "a": root offset 1; 'A' lands on unit 1^0x41 =
  // 0x40 (label 'A', has leaf, offset 2); its leaf is unit 0x42 holding replacement offset 0.
  std::vector<uint32_t> units(0x43, 0);
  units[0] = 1u << 10;
  units[0x40] = 0x41u | (1u << 8) | (2u << 10);
  units[0x42] = 0x80000000u | 0;
  std::string trie;
  for (uint32_t unit : units) trie += le32(unit);
  std::string charsmap = le32(uint32_t(trie.size())) + trie + std::string("a\0", 2);
  SentencePiece sp = load_string(tiny_model(varint_field(3, 1), bytes_field(2, charsmap)));
  EXPECT_EQ(sp.encode("A"), sp.encode("a"));
  EXPECT_EQ(sp.encode("bA"), (std::vector<int>{5, 6, 4}));
}

TEST(SentencePieceHandBuilt, CorruptCharsMapsFailWithAnErrorNotACrash) {
  expect_load_error(tiny_model("", bytes_field(2, le32(1000) + "xyz")), ErrorCode::InvalidCheckpoint,
                    "charsmap trie size 1000");
  expect_load_error(tiny_model("", bytes_field(2, "abc")), ErrorCode::InvalidCheckpoint, "truncated");

  // A leaf pointing past the array, then a replacement pointing past the table.
  std::vector<uint32_t> units(0x43, 0);
  units[0] = 1u << 10;
  units[0x40] = 0x41u | (1u << 8) | (0x400u << 10);
  auto charsmap = [&] {
    std::string trie;
    for (uint32_t unit : units) trie += le32(unit);
    return le32(uint32_t(trie.size())) + trie + std::string("a\0", 2);
  };
  SentencePiece outside = load_string(tiny_model("", bytes_field(2, charsmap())));
  EXPECT_THROW(outside.encode("A"), Error);
  EXPECT_EQ(outside.encode("b"), (std::vector<int>{5, 6}));  // other paths are unaffected
  units[0x40] = 0x41u | (1u << 8) | (2u << 10);
  units[0x42] = 0x80000000u | 5000;
  SentencePiece dangling = load_string(tiny_model("", bytes_field(2, charsmap())));
  EXPECT_THROW(dangling.encode("A"), Error);
}

TEST(SentencePieceHandBuilt, UserDefinedSymbolsBypassNormalizationAndWin) {
  std::string model = tiny_model(varint_field(3, 1), bytes_field(1, "identity")) + piece_field("ab", 0, kUserDefined);
  SentencePiece sp = load_string(model);
  EXPECT_EQ(sp.encode("ab"), (std::vector<int>{5, 7}));  // ▁ ab, not ▁a b
  EXPECT_EQ(sp.decode({5, 7}), "ab");
}

TEST(SentencePieceHandBuilt, RejectsInconsistentPieceTables) {
  const std::string specs = bytes_field(2, varint_field(3, 1)) + bytes_field(3, bytes_field(1, "identity"));
  expect_load_error(piece_field("a", 0, kNormal) + specs, ErrorCode::InvalidCheckpoint, "no <unk>");
  expect_load_error(
      piece_field("<unk>", 0, kUnknown) + piece_field("a", 0, kNormal) + piece_field("a", 0, kNormal) + specs,
      ErrorCode::InvalidCheckpoint, "defined twice");
  expect_load_error(piece_field("<unk>", 0, kUnknown) + piece_field("", 0, kNormal) + specs,
                    ErrorCode::InvalidCheckpoint, "piece 1 is empty");
  expect_load_error(piece_field("<unk>", 0, kUnknown) + piece_field("<0x41>", 0, 6) + specs,
                    ErrorCode::InvalidCheckpoint, "byte_fallback is off");
  expect_load_error(tiny_model(varint_field(35, 1), "") + piece_field("<0x41>", 0, 6), ErrorCode::InvalidCheckpoint,
                    "256 byte pieces");
  expect_load_error(piece_field("<unk>", 0, 9) + specs, ErrorCode::InvalidCheckpoint, "unknown type 9");
  expect_load_error(tiny_model(varint_field(3, 3), ""), ErrorCode::Unsupported, "WORD");
}

TEST(SentencePieceHandBuilt, RejectsGarbageBytesWithAClearError) {
  expect_load_error("", ErrorCode::InvalidCheckpoint, "no pieces");
  expect_load_error("{\"model\": \"not a protobuf\"}\n", ErrorCode::InvalidCheckpoint,
                    "protobuf: malformed ModelProto");
  expect_load_error(std::string("\x0a\xff\xff\xff\xff\x0f", 6), ErrorCode::InvalidCheckpoint, "claims");
  expect_load_error(std::string(12, '\xff'), ErrorCode::InvalidCheckpoint, "protobuf: malformed ModelProto");
  expect_load_error(bytes_field(1, varint_field(2, 7)), ErrorCode::InvalidCheckpoint, "expected fixed32");
  std::mt19937 rng(7);
  for (int trial = 0; trial < 200; ++trial) {
    std::string noise(1 + rng() % 300, '\0');
    for (char& c : noise) c = char(rng());
    EXPECT_THROW(load_string(noise), Error);
  }
}

}  // namespace
}  // namespace kyutai
