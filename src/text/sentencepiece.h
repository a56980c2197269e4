// SentencePiece text tokenizer: loads a serialized sentencepiece ModelProto (the `.model`
// file Kyutai ships) from bytes and encodes/decodes exactly like sentencepiece 0.1.97
// (Debian's spm_encode / spm_decode): the normalizer (precompiled nmt_nfkc-style charsmap or
// identity, add_dummy_prefix, remove_extra_whitespaces, escape_whitespaces,
// treat_whitespace_as_suffix, user-defined symbols), unigram Viterbi segmentation, BPE
// merges, unknown-piece merging, byte fallback, and the decoder's whitespace, byte and
// control-piece rules (plus the optional denormalizer).
//
// Not supported: WORD and CHAR model types (load throws Unsupported), sampling / n-best,
// encoder extra options (bos/eos/reverse), and the self-test samples embedded in the model.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace kyutai {

class SentencePiece {
 public:
  // Parses and validates a ModelProto. Throws kyutai::Error: InvalidCheckpoint for bytes
  // that are not a well-formed SentencePiece model (truncated, garbage, duplicate pieces,
  // missing <unk>, incomplete byte pieces, corrupt charsmap...), Unsupported for WORD/CHAR
  // models. The bytes are copied; the caller may free them afterwards.
  static SentencePiece load(const uint8_t* bytes, size_t size);

  // Move-only; a moved-from SentencePiece may only be destroyed or assigned to.
  SentencePiece(SentencePiece&&) noexcept;
  SentencePiece& operator=(SentencePiece&&) noexcept;
  ~SentencePiece();

  // Normalizes and segments `text` (UTF-8; invalid bytes become U+FFFD like sentencepiece).
  std::vector<int> encode(std::string_view text) const;

  // Joins the pieces of `ids` into text as spm_decode does: U+2581 becomes a space (the
  // sentence-initial one is dropped when the model adds a dummy prefix), runs of byte pieces
  // are reassembled into UTF-8 (invalid bytes become U+FFFD), control pieces vanish and
  // <unk> becomes the model's unk_surface (" \u2047 " by default).
  // Throws InvalidArgument if an id is outside [0, vocab_size()).
  std::string decode(const std::vector<int>& ids) const;

  // Decodes the pieces of one word as they read inside a sentence, then removes the single
  // word-boundary space contributed by the U+2581 marker (the leading one; for models trained
  // with treat_whitespace_as_suffix, the trailing one). Unlike decode(), the result does not
  // depend on whether the word is the first of the sentence, so a speech recognizer can emit
  // words one at a time: group streamed ids into words with starts_word(), decode_word() each
  // group and join with spaces.
  std::string decode_word(const std::vector<int>& ids) const;
  // True if the piece begins with the U+2581 word marker. Throws like id_to_piece().
  bool starts_word(int id) const;

  // Piece text of `id`; throws InvalidArgument if out of range.
  std::string id_to_piece(int id) const;
  // Id of the piece spelled `piece`, or unk_id() if the vocabulary has no such piece.
  int piece_to_id(std::string_view piece) const;

  int vocab_size() const;
  int unk_id() const;
  // Control pieces (<s>, </s>, user control symbols) decode to nothing. False if out of range.
  bool is_control(int id) const;
  // Byte-fallback pieces <0x00>..<0xFF>. False if out of range.
  bool is_byte(int id) const;

 private:
  struct Model;
  explicit SentencePiece(std::unique_ptr<const Model> model);

  std::string decode_impl(const std::vector<int>& ids, bool sentence_start) const;

  // Immutable once loaded, so a const SentencePiece is safe to share between threads.
  std::unique_ptr<const Model> model_;
};

}  // namespace kyutai
