#include "text/sentencepiece.h"

#include <algorithm>
#include <array>
#include <cfloat>
#include <optional>
#include <queue>
#include <unordered_map>
#include <utility>

#include "core/error.h"
#include "io/json.h"
#include "text/protobuf.h"

namespace kyutai {
namespace {

constexpr std::string_view kSpaceSymbol = "\xe2\x96\x81";          // U+2581, sentencepiece's word marker
constexpr std::string_view kReplacementChar = "\xef\xbf\xbd";      // U+FFFD
constexpr std::string_view kDefaultUnkSurface = " \xe2\x81\x87 ";  // " ⁇ "
// Penalty (below the lowest piece score) of the unknown node sentencepiece's unigram
// lattice adds where no single-character piece exists.
constexpr float kUnkPenalty = 10.0f;
// sentencepiece's normalizer keeps at most this many charsmap matches per position and uses
// the longest of those; reproduced so that pathological charsmaps normalize identically.
constexpr size_t kMaxCharsMapMatches = 32;

// ModelProto.SentencePiece.Type values.
enum class PieceType { Normal = 1, Unknown = 2, Control = 3, UserDefined = 4, Unused = 5, Byte = 6 };
// TrainerSpec.ModelType values.
enum class ModelType { Unigram = 1, Bpe = 2, Word = 3, Char = 4 };

// Byte length of the UTF-8 character starting with `lead`, from the lead byte alone (no
// validation), as sentencepiece's OneCharLen: stray continuation bytes count as one.
size_t one_char_len(char lead) {
  static constexpr uint8_t kLength[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
  return kLength[static_cast<unsigned char>(lead) >> 4];
}

bool starts_with(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }
bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

std::string replace_all(std::string_view s, std::string_view from, std::string_view to) {
  std::string out;
  size_t pos = 0;
  for (size_t hit; (hit = s.find(from, pos)) != std::string_view::npos; pos = hit + from.size()) {
    out.append(s.substr(pos, hit - pos));
    out.append(to);
  }
  out.append(s.substr(pos));
  return out;
}

// "<0x41>" -> 0x41; -1 for anything else (sentencepiece accepts exactly this upper-case form).
int byte_piece_value(std::string_view piece) {
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  if (piece.size() != 6 || !starts_with(piece, "<0x") || piece[5] != '>') return -1;
  int high = hex(piece[3]), low = hex(piece[4]);
  return high < 0 || low < 0 ? -1 : high * 16 + low;
}

// ---------------------------------------------------------------------------------------
// ModelProto subset

struct PieceProto {
  std::string text;
  float score = 0.0f;
  PieceType type = PieceType::Normal;
};

struct NormalizerSpec {
  std::string name;
  std::string charsmap;  // precompiled_charsmap: <u32 trie size><darts trie><NUL-separated outputs>
  bool add_dummy_prefix = true;
  bool remove_extra_whitespaces = true;
  bool escape_whitespaces = true;
};

struct TrainerSpec {
  ModelType model_type = ModelType::Unigram;
  bool byte_fallback = false;
  bool treat_whitespace_as_suffix = false;
  std::optional<std::string> unk_surface;
};

struct ModelProto {
  std::vector<PieceProto> pieces;
  TrainerSpec trainer;
  NormalizerSpec normalizer;
  std::optional<NormalizerSpec> denormalizer;
};

// Repeated occurrences of an optional sub-message merge into one (proto2 rule), which is why
// the parsers below update an existing object instead of returning a fresh one.
void parse_piece(std::string_view bytes, const std::string& context, PieceProto& piece) {
  protobuf::Reader reader(bytes, context);
  for (protobuf::Field f; reader.next(f);) {
    if (f.number == 1) {
      piece.text = std::string(f.as_bytes(context));
    } else if (f.number == 2) {
      piece.score = f.as_float(context);
    } else if (f.number == 3) {
      int32_t type = f.as_int32(context);
      if (type < 1 || type > 6) fail(ErrorCode::InvalidCheckpoint, "tokenizer: ", context, " has unknown type ", type);
      piece.type = static_cast<PieceType>(type);
    }
  }
}

void parse_trainer_spec(std::string_view bytes, TrainerSpec& spec) {
  const std::string context = "ModelProto.trainer_spec";
  protobuf::Reader reader(bytes, context);
  for (protobuf::Field f; reader.next(f);) {
    if (f.number == 3) {
      int32_t type = f.as_int32(context);
      if (type < 1 || type > 4) fail(ErrorCode::InvalidCheckpoint, "tokenizer: unknown model_type ", type);
      spec.model_type = static_cast<ModelType>(type);
    } else if (f.number == 24) {
      spec.treat_whitespace_as_suffix = f.as_bool(context);
    } else if (f.number == 35) {
      spec.byte_fallback = f.as_bool(context);
    } else if (f.number == 44) {
      spec.unk_surface = std::string(f.as_bytes(context));
    }
  }
}

void parse_normalizer_spec(std::string_view bytes, const std::string& context, NormalizerSpec& spec) {
  protobuf::Reader reader(bytes, context);
  for (protobuf::Field f; reader.next(f);) {
    switch (f.number) {
      case 1: spec.name = std::string(f.as_bytes(context)); break;
      case 2: spec.charsmap = std::string(f.as_bytes(context)); break;
      case 3: spec.add_dummy_prefix = f.as_bool(context); break;
      case 4: spec.remove_extra_whitespaces = f.as_bool(context); break;
      case 5: spec.escape_whitespaces = f.as_bool(context); break;
      default: break;  // normalization_rule_tsv and extensions only matter to the trainer
    }
  }
}

ModelProto parse_model_proto(std::string_view bytes) {
  ModelProto model;
  protobuf::Reader reader(bytes, "ModelProto");
  for (protobuf::Field f; reader.next(f);) {
    if (f.number == 1) {
      std::string context = str_cat("ModelProto.pieces[", model.pieces.size(), "]");
      parse_piece(f.as_bytes(context), context, model.pieces.emplace_back());
    } else if (f.number == 2) {
      parse_trainer_spec(f.as_bytes("ModelProto"), model.trainer);
    } else if (f.number == 3) {
      parse_normalizer_spec(f.as_bytes("ModelProto"), "ModelProto.normalizer_spec", model.normalizer);
    } else if (f.number == 5) {
      if (!model.denormalizer) model.denormalizer.emplace();
      parse_normalizer_spec(f.as_bytes("ModelProto"), "ModelProto.denormalizer_spec", *model.denormalizer);
    }
    // Field 4 (self_test_data) and extensions are ignored.
  }
  return model;
}

// ---------------------------------------------------------------------------------------
// Byte trie over piece spellings: all pieces that prefix a position (unigram lattice),
// exact lookups (BPE merges, piece_to_id) and longest match (user-defined symbols).

class PieceTrie {
 public:
  // Returns false if `key` is already present.
  bool insert(std::string_view key, int id) {
    int node = 0;
    for (char c : key) {
      auto& children = nodes_[node].children;
      auto it = std::lower_bound(children.begin(), children.end(), std::make_pair(static_cast<unsigned char>(c), 0));
      if (it != children.end() && it->first == static_cast<unsigned char>(c)) {
        node = it->second;
        continue;
      }
      int created = static_cast<int>(nodes_.size());
      children.insert(it, {static_cast<unsigned char>(c), created});
      nodes_.emplace_back();
      node = created;
    }
    if (nodes_[node].id >= 0) return false;
    nodes_[node].id = id;
    return true;
  }

  int find(std::string_view key) const {
    int node = 0;
    for (char c : key) {
      node = child(node, static_cast<unsigned char>(c));
      if (node < 0) return -1;
    }
    return nodes_[node].id;
  }

  // Calls visit(end, id) for every key equal to text[start, end), shortest first.
  template <typename Visit>
  void for_each_prefix(std::string_view text, size_t start, Visit&& visit) const {
    int node = 0;
    for (size_t pos = start; pos < text.size(); ++pos) {
      node = child(node, static_cast<unsigned char>(text[pos]));
      if (node < 0) return;
      if (nodes_[node].id >= 0) visit(pos + 1, nodes_[node].id);
    }
  }

  // Length of the longest key that prefixes `text`, 0 if none.
  size_t longest_prefix(std::string_view text) const {
    size_t longest = 0;
    for_each_prefix(text, 0, [&](size_t end, int) { longest = end; });
    return longest;
  }

  bool empty() const { return nodes_.size() == 1; }

 private:
  struct Node {
    int id = -1;
    std::vector<std::pair<unsigned char, int>> children;  // sorted by byte
  };

  int child(int node, unsigned char c) const {
    const auto& children = nodes_[node].children;
    auto it = std::lower_bound(children.begin(), children.end(), std::make_pair(c, 0));
    return it != children.end() && it->first == c ? it->second : -1;
  }

  std::vector<Node> nodes_ = std::vector<Node>(1);
};

// ---------------------------------------------------------------------------------------
// precompiled_charsmap: a Darts-clone double array mapping input byte strings to offsets of
// NUL-terminated replacements in a trailing blob. Lookups are bounds-checked because the
// array comes from the user's file.

class CharsMap {
 public:
  CharsMap() = default;
  CharsMap(std::string_view blob, std::string_view context) : context_(context) {
    if (blob.empty()) return;
    if (blob.size() <= 4) fail(ErrorCode::InvalidCheckpoint, "tokenizer: ", context, " charsmap is truncated");
    uint32_t trie_size = 0;
    for (int k = 0; k < 4; ++k) trie_size |= uint32_t(static_cast<unsigned char>(blob[k])) << (8 * k);
    if (trie_size > blob.size() - 4) {
      fail(ErrorCode::InvalidCheckpoint, "tokenizer: ", context, " charsmap trie size ", trie_size,
           " exceeds the blob (", blob.size(), " bytes)");
    }
    units_.resize(trie_size / 4);
    for (size_t i = 0; i < units_.size(); ++i) {
      uint32_t unit = 0;
      for (int k = 0; k < 4; ++k) unit |= uint32_t(static_cast<unsigned char>(blob[4 + 4 * i + k])) << (8 * k);
      units_[i] = unit;
    }
    replacements_ = std::string(blob.substr(4 + trie_size));
  }

  // Longest rule matching a prefix of `input` (among the first kMaxCharsMapMatches, like
  // sentencepiece). Returns the matched length (0 if none) and sets `replacement`.
  size_t longest_match(std::string_view input, std::string_view& replacement) const {
    size_t length = 0;
    uint32_t value = 0;
    size_t matches = 0;
    size_t node = 0;
    if (units_.empty()) return 0;
    node ^= offset(units_[0]);
    for (size_t i = 0; i < input.size(); ++i) {
      unsigned char c = static_cast<unsigned char>(input[i]);
      node ^= c;
      if (node >= units_.size() || label(units_[node]) != c) break;
      bool leaf = has_leaf(units_[node]);
      node ^= offset(units_[node]);
      if (!leaf) continue;
      if (node >= units_.size()) corrupt("a leaf outside the trie");
      if (++matches <= kMaxCharsMapMatches) {
        length = i + 1;
        value = units_[node] & 0x7FFFFFFFu;
      }
    }
    if (length == 0) return 0;
    if (value >= replacements_.size()) corrupt("a replacement outside its table");
    std::string_view rest = std::string_view(replacements_).substr(value);
    replacement = rest.substr(0, rest.find('\0'));
    return length;
  }

 private:
  // Darts-clone unit layout: bit 8 = has leaf, bits 0-7 label (bit 31 marks leaves),
  // bits 10-31 offset (shifted by 8 more when bit 9 is set); a leaf's low 31 bits hold the value.
  static bool has_leaf(uint32_t unit) { return (unit >> 8) & 1; }
  static uint32_t label(uint32_t unit) { return unit & ((1u << 31) | 0xFFu); }
  static uint32_t offset(uint32_t unit) { return (unit >> 10) << ((unit & (1u << 9)) >> 6); }

  [[noreturn]] void corrupt(const char* what) const {
    fail(ErrorCode::InvalidCheckpoint, "tokenizer: ", context_, " charsmap is corrupt (", what, ")");
  }

  std::vector<uint32_t> units_;
  std::string replacements_;
  std::string context_;
};

// ---------------------------------------------------------------------------------------
// Normalizer: charsmap rules, then sentencepiece's whitespace handling.

class Normalizer {
 public:
  Normalizer() = default;
  Normalizer(const NormalizerSpec& spec, bool treat_whitespace_as_suffix, std::string_view context)
      : spec_(spec), suffix_(treat_whitespace_as_suffix), map_(spec.charsmap, context) {}

  // `user_defined` (may be null) lists symbols that bypass normalization.
  std::string normalize(std::string_view input, const PieceTrie* user_defined) const {
    if (spec_.remove_extra_whitespaces) {
      while (!input.empty()) {  // leading whitespace, judged after normalization
        auto [text, consumed] = normalize_prefix(input, user_defined);
        if (text != " ") break;
        input.remove_prefix(consumed);
      }
    }
    if (input.empty()) return {};

    const std::string_view space = spec_.escape_whitespaces ? kSpaceSymbol : " ";
    std::string out;
    out.reserve(input.size() * 3);
    if (!suffix_ && spec_.add_dummy_prefix) out.append(space);
    bool prev_space = spec_.remove_extra_whitespaces;
    while (!input.empty()) {
      auto [text, consumed] = normalize_prefix(input, user_defined);
      while (prev_space && starts_with(text, " ")) text.remove_prefix(1);
      if (!text.empty()) {
        for (char c : text) {
          if (c == ' ' && spec_.escape_whitespaces) {
            out.append(kSpaceSymbol);
          } else {
            out += c;
          }
        }
        prev_space = text.back() == ' ';
      }
      input.remove_prefix(consumed);
      if (!spec_.remove_extra_whitespaces) prev_space = false;
    }
    if (spec_.remove_extra_whitespaces) {
      while (ends_with(out, space)) out.resize(out.size() - space.size());
    }
    if (suffix_ && spec_.add_dummy_prefix) out.append(space);
    return out;
  }

  const NormalizerSpec& spec() const { return spec_; }

 private:
  // Normalized text of the first unit of `input` and how many input bytes it consumed.
  std::pair<std::string_view, size_t> normalize_prefix(std::string_view input, const PieceTrie* user_defined) const {
    if (user_defined != nullptr) {
      size_t length = user_defined->longest_prefix(input);
      if (length > 0) return {input.substr(0, length), length};
    }
    std::string_view replacement;
    size_t length = map_.longest_match(input, replacement);
    if (length > 0) return {replacement, length};
    size_t char_length = utf8_sequence_length(input, 0);
    // A malformed byte becomes U+FFFD and is consumed alone.
    if (char_length == 0) return {kReplacementChar, 1};
    return {input.substr(0, char_length), char_length};
  }

  NormalizerSpec spec_;
  bool suffix_ = false;
  CharsMap map_;
};

using Segmentation = std::vector<std::pair<std::string_view, int>>;  // (piece text, id)

}  // namespace

// ---------------------------------------------------------------------------------------

struct SentencePiece::Model {
  std::vector<PieceProto> pieces;
  std::vector<int16_t> byte_of;                   // per id: 0..255 for byte pieces, -1 otherwise
  std::array<int, 256> byte_ids{};                // byte value -> id (valid when byte_fallback)
  PieceTrie vocab;                                // NORMAL, USER_DEFINED and UNUSED pieces
  std::unordered_map<std::string, int> reserved;  // UNKNOWN, CONTROL and BYTE pieces
  PieceTrie user_defined;
  ModelType type = ModelType::Unigram;
  bool byte_fallback = false;
  bool suffix_marker = false;  // treat_whitespace_as_suffix
  int unk_id = -1;
  std::string unk_surface;
  float min_score = FLT_MAX;
  // sic: sentencepiece starts from FLT_MIN (tiny positive), not -FLT_MAX, so with the usual
  // negative scores the user-defined bonus length * max_score - 0.1 is about -0.1; kept so
  // segmentations match.
  float max_score = FLT_MIN;
  Normalizer normalizer;
  std::optional<Normalizer> denormalizer;

  PieceType type_of(int id) const { return pieces[id].type; }
  int piece_to_id(std::string_view piece) const;
  std::string normalize(std::string_view text) const;
  Segmentation encode_unigram(std::string_view normalized) const;
  Segmentation encode_bpe(std::string_view normalized) const;
  void append_ids(const Segmentation& segmentation, std::vector<int>& ids) const;
  void check_id(int id) const;
  void index_pieces();
};

int SentencePiece::Model::piece_to_id(std::string_view piece) const {
  auto it = reserved.find(std::string(piece));
  if (it != reserved.end()) return it->second;
  int id = vocab.find(piece);
  return id >= 0 ? id : unk_id;
}

std::string SentencePiece::Model::normalize(std::string_view text) const {
  return normalizer.normalize(text, user_defined.empty() ? nullptr : &user_defined);
}

void SentencePiece::Model::check_id(int id) const {
  if (id < 0 || id >= static_cast<int>(pieces.size())) {
    fail(ErrorCode::InvalidArgument, "tokenizer: id ", id, " out of range (vocab ", pieces.size(), ")");
  }
}

// Best-scoring segmentation over the lattice of vocabulary pieces, following sentencepiece's
// optimized unigram encoder: one best path per byte position, candidates visited by start
// then length, a strictly better score replacing the incumbent, and an <unk> node of score
// min_score - 10 wherever no single-character piece exists. Arithmetic types mirror the
// reference (the candidate is computed in double, stored in float) so ties break the same way.
Segmentation SentencePiece::Model::encode_unigram(std::string_view normalized) const {
  struct BestPath {
    int id = -1;
    float score = 0.0f;
    bool reached = false;
    size_t starts_at = 0;
  };
  const size_t size = normalized.size();
  const float unk_score = min_score - kUnkPenalty;
  std::vector<BestPath> best(size + 1);
  for (size_t start = 0; start < size;) {
    const float score_so_far = best[start].score;
    const size_t char_length = std::min(one_char_len(normalized[start]), size - start);
    bool has_single_char = false;
    vocab.for_each_prefix(normalized, start, [&](size_t end, int id) {
      PieceType piece_type = type_of(id);
      if (piece_type == PieceType::Unused) return;
      const size_t length = end - start;
      // User-defined symbols get a bonus so that they are always selected.
      const double score = piece_type == PieceType::UserDefined ? static_cast<float>(length) * max_score - 0.1
                                                                : static_cast<double>(pieces[id].score);
      const double candidate = score + score_so_far;
      BestPath& target = best[end];
      if (!target.reached || candidate > target.score) {
        target = {id, static_cast<float>(candidate), true, start};
      }
      if (length == char_length) has_single_char = true;
    });
    if (!has_single_char) {
      BestPath& target = best[start + char_length];
      const float candidate = unk_score + score_so_far;
      if (!target.reached || candidate > target.score) {
        target = {unk_id, candidate, true, start};
      }
    }
    start += char_length;
  }
  Segmentation result;
  for (size_t end = size; end > 0;) {
    const BestPath& node = best[end];
    const size_t begin = node.starts_at;  // every character boundary is reached, size included
    result.emplace_back(normalized.substr(begin, end - begin), node.id);
    end = begin;
  }
  std::reverse(result.begin(), result.end());
  return result;
}

// Greedy BPE as sentencepiece does it: start from characters (user-defined symbols frozen
// whole), repeatedly merge the adjacent pair whose concatenation is the best-scoring piece
// (leftmost on ties), then split any UNUSED piece back into the pair that produced it.
Segmentation SentencePiece::Model::encode_bpe(std::string_view normalized) const {
  struct Symbol {
    int prev;
    int next;
    bool frozen;
    std::string_view piece;
  };
  struct Pair {
    int left;
    int right;
    float score;
    size_t size;
  };
  struct Worse {
    bool operator()(const Pair& a, const Pair& b) const {
      return a.score < b.score || (a.score == b.score && a.left > b.left);
    }
  };
  std::vector<Symbol> symbols;
  for (size_t pos = 0; pos < normalized.size();) {
    size_t length = user_defined.longest_prefix(normalized.substr(pos));
    const bool frozen = length > 0;
    if (!frozen) length = std::min(one_char_len(normalized[pos]), normalized.size() - pos);
    const int index = static_cast<int>(symbols.size());
    symbols.push_back(
        {index - 1, pos + length < normalized.size() ? index + 1 : -1, frozen, normalized.substr(pos, length)});
    pos += length;
  }
  if (symbols.empty()) return {};

  std::priority_queue<Pair, std::vector<Pair>, Worse> agenda;
  std::unordered_map<std::string_view, std::pair<std::string_view, std::string_view>> unmerge;
  auto consider = [&](int left, int right) {
    if (left < 0 || right < 0 || symbols[left].frozen || symbols[right].frozen) return;
    std::string_view merged(symbols[left].piece.data(), symbols[left].piece.size() + symbols[right].piece.size());
    int id = vocab.find(merged);
    if (id < 0) return;
    agenda.push({left, right, pieces[id].score, merged.size()});
    if (type_of(id) == PieceType::Unused) unmerge[merged] = {symbols[left].piece, symbols[right].piece};
  };
  for (size_t i = 1; i < symbols.size(); ++i) consider(static_cast<int>(i) - 1, static_cast<int>(i));

  while (!agenda.empty()) {
    const Pair top = agenda.top();
    agenda.pop();
    Symbol& left = symbols[top.left];
    Symbol& right = symbols[top.right];
    // Stale entry: one side was merged away or grew since the pair was queued.
    if (left.piece.empty() || right.piece.empty() || left.piece.size() + right.piece.size() != top.size) continue;
    left.piece = std::string_view(left.piece.data(), top.size);
    left.next = right.next;
    if (right.next >= 0) symbols[right.next].prev = top.left;
    right.piece = {};
    consider(left.prev, top.left);
    consider(top.left, left.next);
  }

  Segmentation result;
  // Recursion depth is bounded by the piece length (each split shortens it).
  auto resegment = [&](auto&& self, std::string_view piece) -> void {
    int id = piece_to_id(piece);
    auto it = type_of(id) == PieceType::Unused ? unmerge.find(piece) : unmerge.end();
    if (it == unmerge.end()) {
      result.emplace_back(piece, id);
      return;
    }
    self(self, it->second.first);
    self(self, it->second.second);
  };
  for (int index = 0; index != -1; index = symbols[index].next) resegment(resegment, symbols[index].piece);
  return result;
}

// Turns (piece, id) pairs into ids the way sentencepiece fills its SentencePieceText:
// unknown pieces become their UTF-8 bytes under byte fallback, otherwise adjacent unknowns
// collapse into a single <unk>.
void SentencePiece::Model::append_ids(const Segmentation& segmentation, std::vector<int>& ids) const {
  bool prev_unknown = false;
  for (const auto& [piece, id] : segmentation) {
    const bool unknown = type_of(id) == PieceType::Unknown;
    if (unknown && byte_fallback) {
      for (char c : piece) ids.push_back(byte_ids[static_cast<unsigned char>(c)]);
    } else if (!(unknown && prev_unknown)) {
      ids.push_back(id);
    }
    prev_unknown = unknown;
  }
}

// ---------------------------------------------------------------------------------------

SentencePiece::SentencePiece(std::unique_ptr<const Model> model) : model_(std::move(model)) {}
SentencePiece::SentencePiece(SentencePiece&&) noexcept = default;
SentencePiece& SentencePiece::operator=(SentencePiece&&) noexcept = default;
SentencePiece::~SentencePiece() = default;

SentencePiece SentencePiece::load(const uint8_t* bytes, size_t size) {
  if (bytes == nullptr && size > 0) fail(ErrorCode::InvalidArgument, "tokenizer: null model bytes");
  ModelProto proto = parse_model_proto(std::string_view(reinterpret_cast<const char*>(bytes), size));
  if (proto.pieces.empty()) {
    fail(ErrorCode::InvalidCheckpoint, "tokenizer: model has no pieces (", size, " bytes; not a SentencePiece model?)");
  }
  if (proto.trainer.model_type == ModelType::Word || proto.trainer.model_type == ModelType::Char) {
    fail(ErrorCode::Unsupported, "tokenizer: ", proto.trainer.model_type == ModelType::Word ? "WORD" : "CHAR",
         " SentencePiece models are not supported (only unigram and BPE)");
  }
  auto model = std::make_unique<Model>();
  model->pieces = std::move(proto.pieces);
  model->type = proto.trainer.model_type;
  model->byte_fallback = proto.trainer.byte_fallback;
  model->suffix_marker = proto.trainer.treat_whitespace_as_suffix;
  model->unk_surface = proto.trainer.unk_surface ? *proto.trainer.unk_surface : std::string(kDefaultUnkSurface);
  model->index_pieces();
  model->normalizer = Normalizer(proto.normalizer, model->suffix_marker, "normalizer_spec");
  // Like sentencepiece, a denormalizer only runs when it carries rules.
  if (proto.denormalizer && !proto.denormalizer->charsmap.empty()) {
    model->denormalizer.emplace(*proto.denormalizer, false, "denormalizer_spec");
  }
  return SentencePiece(std::move(model));
}

// Checks the piece table the way sentencepiece's InitializePieces does and fills the lookups.
void SentencePiece::Model::index_pieces() {
  std::array<bool, 256> byte_found{};
  byte_of.assign(pieces.size(), -1);
  byte_ids.fill(-1);
  for (size_t i = 0; i < pieces.size(); ++i) {
    const PieceProto& piece = pieces[i];
    const int id = static_cast<int>(i);
    if (piece.text.empty()) fail(ErrorCode::InvalidCheckpoint, "tokenizer: piece ", id, " is empty");
    const bool in_vocab = piece.type == PieceType::Normal || piece.type == PieceType::UserDefined ||
                          piece.type == PieceType::Unused;
    const bool inserted = in_vocab ? vocab.insert(piece.text, id) : reserved.emplace(piece.text, id).second;
    if (!inserted)
      fail(ErrorCode::InvalidCheckpoint, "tokenizer: piece ", id, " \"", piece.text, "\" is defined twice");
    if (piece.type == PieceType::Normal) {
      min_score = std::min(min_score, piece.score);
      max_score = std::max(max_score, piece.score);
    } else if (piece.type == PieceType::UserDefined) {
      user_defined.insert(piece.text, id);
    } else if (piece.type == PieceType::Unknown) {
      if (unk_id >= 0) fail(ErrorCode::InvalidCheckpoint, "tokenizer: pieces ", unk_id, " and ", id, " are both <unk>");
      unk_id = id;
    } else if (piece.type == PieceType::Byte) {
      if (!byte_fallback) {
        fail(ErrorCode::InvalidCheckpoint, "tokenizer: byte piece ", piece.text,
             " found although byte_fallback is off");
      }
      const int byte = byte_piece_value(piece.text);
      if (byte < 0)
        fail(ErrorCode::InvalidCheckpoint, "tokenizer: byte piece ", id, " \"", piece.text, "\" is invalid");
      byte_found[byte] = true;
      byte_of[i] = static_cast<int16_t>(byte);
      byte_ids[byte] = id;
    }
  }
  if (unk_id < 0) fail(ErrorCode::InvalidCheckpoint, "tokenizer: model defines no <unk> piece");
  if (byte_fallback && std::find(byte_found.begin(), byte_found.end(), false) != byte_found.end()) {
    fail(ErrorCode::InvalidCheckpoint, "tokenizer: byte_fallback is on but the 256 byte pieces are not all present");
  }
}

std::vector<int> SentencePiece::encode(std::string_view text) const {
  const std::string normalized = model_->normalize(text);
  std::vector<int> ids;
  if (normalized.empty()) return ids;
  const Segmentation segmentation = model_->type == ModelType::Bpe ? model_->encode_bpe(normalized)
                                                                   : model_->encode_unigram(normalized);
  model_->append_ids(segmentation, ids);
  return ids;
}

std::string SentencePiece::decode(const std::vector<int>& ids) const { return decode_impl(ids, true); }

std::string SentencePiece::decode_word(const std::vector<int>& ids) const {
  std::string word = decode_impl(ids, false);
  if (model_->suffix_marker) {
    if (ends_with(word, " ")) word.pop_back();
  } else if (starts_with(word, " ")) {
    word.erase(0, 1);
  }
  return word;
}

// Mirrors sentencepiece's Decode: pieces are emitted in order, consecutive byte pieces are
// buffered and flushed as UTF-8 when a non-byte piece (or the end) arrives. At the start of
// a sentence the first U+2581 of a piece is dropped when the model adds a dummy prefix (just
// once) or removes extra whitespace (for every piece until some text has been produced).
std::string SentencePiece::decode_impl(const std::vector<int>& ids, bool sentence_start) const {
  const Model& m = *model_;
  for (int id : ids) m.check_id(id);
  const NormalizerSpec& spec = m.normalizer.spec();
  std::string text;
  std::string bytes;
  auto flush_bytes = [&] {
    for (size_t pos = 0; pos < bytes.size();) {
      size_t length = utf8_sequence_length(bytes, pos);
      text.append(length == 0 ? kReplacementChar : std::string_view(bytes).substr(pos, length));
      pos += length == 0 ? 1 : length;
    }
    bytes.clear();
  };
  bool at_start = sentence_start;
  bool start_marker_seen = false;
  for (int id : ids) {
    if (m.byte_of[id] >= 0) {
      bytes += static_cast<char>(m.byte_of[id]);
      continue;
    }
    flush_bytes();
    if (start_marker_seen || !text.empty()) at_start = false;
    start_marker_seen = false;
    const PieceType type = m.type_of(id);
    if (type == PieceType::Control) continue;
    if (type == PieceType::Unknown) {
      text += m.unk_surface;
      continue;
    }
    std::string_view piece = m.pieces[id].text;
    if (at_start && (spec.add_dummy_prefix || spec.remove_extra_whitespaces) && starts_with(piece, kSpaceSymbol)) {
      piece.remove_prefix(kSpaceSymbol.size());
      start_marker_seen = !spec.remove_extra_whitespaces;
    }
    text += replace_all(piece, kSpaceSymbol, " ");
  }
  flush_bytes();
  if (m.denormalizer) text = m.denormalizer->normalize(text, nullptr);
  return text;
}

bool SentencePiece::starts_word(int id) const {
  model_->check_id(id);
  return starts_with(model_->pieces[id].text, kSpaceSymbol);
}

std::string SentencePiece::id_to_piece(int id) const {
  model_->check_id(id);
  return model_->pieces[id].text;
}

int SentencePiece::piece_to_id(std::string_view piece) const { return model_->piece_to_id(piece); }

int SentencePiece::vocab_size() const { return static_cast<int>(model_->pieces.size()); }

int SentencePiece::unk_id() const { return model_->unk_id; }

bool SentencePiece::is_control(int id) const {
  return id >= 0 && id < vocab_size() && model_->type_of(id) == PieceType::Control;
}

bool SentencePiece::is_byte(int id) const {
  return id >= 0 && id < vocab_size() && model_->type_of(id) == PieceType::Byte;
}

}  // namespace kyutai
