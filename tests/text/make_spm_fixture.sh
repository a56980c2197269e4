#!/usr/bin/env bash
# Builds the SentencePiece reference fixture for tests/text/sentencepiece_test.cpp with
# Debian's sentencepiece tools (apt-get install -y sentencepiece): a small English/French
# training corpus, several models trained from it, and spm_encode/spm_decode outputs for a
# fixed set of test sentences and for random id sequences. Nothing here is checked in; the
# test (or a CTest fixture, see tests/text/README.md) runs this script at test time.
#
# Usage: make_spm_fixture.sh OUTPUT_DIR
#
# OUTPUT_DIR receives, for every model NAME listed in models.txt:
#   NAME.model           the serialized ModelProto
#   NAME.ids             spm_encode --output_format=id of sentences.txt (one line each)
#   NAME.pieces          spm_encode --output_format=piece of sentences.txt
#   NAME.decoded         spm_decode --input_format=id of NAME.ids
#   NAME.random_ids      random id sequences (ids in [0, vocab), <0x0A> excluded)
#   NAME.random_decoded  spm_decode --input_format=id of NAME.random_ids
# plus sentences.txt (the inputs) and corpus.txt. models.txt is written last, so its
# presence means the fixture is complete.
set -euo pipefail

out=${1:?usage: make_spm_fixture.sh OUTPUT_DIR}
for tool in spm_train spm_encode spm_decode; do
  command -v "$tool" >/dev/null || { echo "make_spm_fixture.sh: $tool not found (apt-get install -y sentencepiece)" >&2; exit 2; }
done
mkdir -p "$out"
rm -f "$out/models.txt"
export LC_ALL=C.UTF-8

write_corpus() {
  local en_subject=("The cat" "My neighbour" "A young engineer" "The old fisherman" "Every student"
                    "Our team" "The small robot" "This company" "Her grandfather" "The quick fox")
  local en_verb=("reads" "builds" "repairs" "paints" "discovers" "sells" "writes about" "dreams of" "carries")
  local en_object=("a red bicycle" "the morning newspaper" "twelve wooden chairs" "an ancient map"
                   "the speech model" "three blue boats" "a quiet garden" "the train station")
  local en_tail=("every day." "on Sunday!" "in 2023, again." "before 7:30 am?" "with 42 friends;"
                 "(quite slowly)" "- really." "at 15% speed." "for \$19.99." "near the river, I think.")
  local fr_subject=("Le garçon" "La météo" "Une élève" "Mon frère aîné" "Le boulanger" "Cette équipe"
                    "La sœur de Zoé" "Un été" "Le maître d'hôtel" "Ça")
  local fr_verb=("mange" "préfère" "achète" "découvre" "répare" "célèbre" "dessine" "écoute" "goûte")
  local fr_object=("une crème brûlée" "le château fort" "des pâtes fraîches" "la forêt enneigée"
                   "un café noir" "les fenêtres ouvertes" "une île déserte" "le théâtre à l'italienne")
  local fr_tail=("à Noël." "près de la rivière !" "en août, déjà." "à 8 h 45 ?" "avec 3 amis ;"
                 "« vraiment »." "où ça ?" "- c'est ça." "pour 12,50 €." "naïvement, dit-il.")
  local i
  for ((i = 0; i < 220; i++)); do
    echo "${en_subject[i % 10]} ${en_verb[(i / 10) % 9]} ${en_object[(i * 7) % 8]} ${en_tail[(i * 3) % 10]}"
    echo "${fr_subject[i % 10]} ${fr_verb[(i / 10) % 9]} ${fr_object[(i * 5) % 8]} ${fr_tail[(i * 7) % 10]}"
  done
  for ((i = 0; i < 6; i++)); do
    echo "東京の天気は晴れです。今日は$((i + 1))月です。"
    echo "你好，世界！我们今天学习中文。"
    echo "Bonne fête 🎉 et bon appétit 🍰 !"
    echo "Numbers: 0 1 2 3 4 5 6 7 8 9, 10, 100, 1000 and 3.14159."
  done
}

# One input per line. Covers unseen words, accents (composed and decomposed), whitespace
# runs at either end and inside, NFKC changes (full-width, ligatures, circled digits,
# half-width katakana, NBSP, ideographic space), CJK, emoji that need byte fallback,
# control and invalid bytes, and text spelling reserved pieces.
write_sentences() {
  printf '%s\n' \
    "Hello world" \
    "The cat reads the morning newspaper every day." \
    "Le garçon mange une crème brûlée à Noël." \
    "Xylophone quizzically juxtaposed; zebras vex." \
    "  leading and trailing spaces  " \
    "multiple    internal     spaces" \
    " " \
    "" \
    "    " \
    "ＡＢＣ１２３ ｈｅｌｌｏ ｗｏｒｌｄ！" \
    "ﬁnancial ﬂow ① ② ½ ™ ㎏" \
    "ｶﾀｶﾅ and ﾊﾝｶｸ" \
    "東京の天気は晴れです。" \
    "你好，世界！" \
    "日本語のテキストは難しい" \
    "I love emoji 🎉🚀🦀 so much" \
    "🦀" \
    "Price: \$1,234.56 (approx.) - 50% off!" \
    "naïve café résumé Œuvre straße ÉCOLE" \
    "<s> </s> <unk> <0x41> <sep> [MASK] <ctl>" \
    "Mr. Smith met <sep> Mrs. Jones" \
    "literal ▁ marker ▁▁ here" \
    "Ça coûte 12,50 € ? « Oui » !" \
    "UPPER lower MiXeD 2023" \
    "a" \
    "Zoé" \
    "The quick fox écoute le théâtre à l'italienne in 2023."
  printf 'tab\tseparated\twords\n'
  printf 'e\xcc\x81te\xcc\x81 decomposed accents\n'           # e + U+0301
  printf 'no\xc2\xa0break\xc2\xa0space and\xe3\x80\x80ideographic\n'  # NBSP, U+3000
  printf 'zero\xe2\x80\x8bwidth and soft\xc2\xadhyphen\n'      # U+200B, U+00AD
  printf 'bell\x07 and \x01control\n'
  printf 'invalid \xff\xfe bytes \xc3 here\n'
  printf '\xef\xbf\xbd replacement char\n'
}

# Random id sequences over the vocabulary file $1, 1 to 12 ids per line. <0x0A> is left
# out: a decoded newline would split the line-oriented reference file.
write_random_ids() {
  awk -F '\t' -v seed="$2" '
    $1 != "<0x0A>" { allowed[n++] = NR - 1 }
    END {
      srand(seed)
      for (l = 0; l < 80; l++) {
        len = 1 + int(rand() * 12); line = ""
        for (k = 0; k < len; k++) line = line (k ? " " : "") allowed[int(rand() * n)]
        print line
      }
    }' "$1"
}

# train NAME [spm_train options...]
train() {
  local name=$1
  shift
  spm_train --input="$out/corpus.txt" --model_prefix="$out/$name" --minloglevel=2 --num_threads=1 \
    --random_seed=1 "$@" >"$out/$name.train.log" 2>&1 || {
    echo "make_spm_fixture.sh: spm_train failed for $name:" >&2
    cat "$out/$name.train.log" >&2
    exit 1
  }
}

# reference NAME: writes the encode/decode outputs of NAME.model.
reference() {
  local name=$1 model="$out/$1.model"
  spm_encode --model="$model" --output_format=id <"$out/sentences.txt" >"$out/$name.ids"
  spm_encode --model="$model" --output_format=piece <"$out/sentences.txt" >"$out/$name.pieces"
  spm_decode --model="$model" --input_format=id <"$out/$name.ids" >"$out/$name.decoded"
  write_random_ids "$out/$name.vocab" "${#name}" >"$out/$name.random_ids"
  spm_decode --model="$model" --input_format=id <"$out/$name.random_ids" >"$out/$name.random_decoded"
  models+=("$name")
}

write_corpus >"$out/corpus.txt"
write_sentences >"$out/sentences.txt"
printf '6F 65\t153\n' >"$out/denormalize.tsv"  # "oe" -> "œ" when decoding
models=()

# (a) The Kyutai setup: unigram, nmt_nfkc charsmap, byte fallback.
train uni_nfkc_bytes --model_type=unigram --vocab_size=500 --byte_fallback=true
reference uni_nfkc_bytes

# (b) Identity normalization, no byte fallback (unknown runs merge into one <unk>),
#     user-defined and control symbols, a custom unk surface.
train uni_identity --model_type=unigram --vocab_size=250 --normalization_rule_name=identity \
  --user_defined_symbols='<sep>,[MASK],Mr.' --control_symbols='<ctl>' --unk_surface='[UNK]'
reference uni_identity

# (c) Whitespace kept as is (no dummy prefix, no trimming), case folding, a denormalizer.
train uni_raw_spaces --model_type=unigram --vocab_size=480 --byte_fallback=true \
  --normalization_rule_name=nmt_nfkc_cf --add_dummy_prefix=false --remove_extra_whitespaces=false \
  --denormalization_rule_tsv="$out/denormalize.tsv"
reference uni_raw_spaces

# (d) Word marker as a suffix.
train uni_suffix --model_type=unigram --vocab_size=250 --treat_whitespace_as_suffix=true
reference uni_suffix

# (e) escape_whitespaces=false has no spm_train flag: append a second normalizer_spec
#     (field 3, 2 bytes: field 5 = 0) to model (a); protobuf merges it into the first.
cp "$out/uni_nfkc_bytes.model" "$out/uni_no_escape.model"
cp "$out/uni_nfkc_bytes.vocab" "$out/uni_no_escape.vocab"
printf '\x1a\x02\x28\x00' >>"$out/uni_no_escape.model"
reference uni_no_escape

# (f) BPE, with and without byte fallback.
train bpe_nfkc_bytes --model_type=bpe --vocab_size=500 --byte_fallback=true
reference bpe_nfkc_bytes
train bpe_identity --model_type=bpe --vocab_size=250 --normalization_rule_name=identity \
  --user_defined_symbols='<sep>,[MASK],Mr.'
reference bpe_identity

printf '%s\n' "${models[@]}" >"$out/models.txt.tmp"
mv "$out/models.txt.tmp" "$out/models.txt"
