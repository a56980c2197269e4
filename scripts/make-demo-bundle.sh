#!/usr/bin/env bash
# Makes the demo's default model bundle, dist/models/default/ (BUNDLE_DIR=... to change it),
# from files of this repository, nothing downloaded:
#   config.json, model.safetensors   the tiny speech-to-text checkpoint (tests/data/stt: n_q 8,
#                                    card 32, text_card 100; random weights, Kyutai's format)
#   mimi.json, mimi.safetensors      the tiny Mimi codec (tests/data/mimi: 8 codebooks of 32
#                                    entries, so its codes are valid audio tokens of that model)
#   tokenizer.model                  a SentencePiece unigram model trained here with Debian's
#                                    spm_train on the short text below, with exactly text_card
#                                    (100) pieces and Kyutai's special ids (unk 0, bos 1, eos 2,
#                                    pad 3 = existing_text_padding_id), so every text token the
#                                    model emits has a piece
#   bundle.json                      the file names, for web/demo/bundle.js
# The weights are random: the words the demo shows are well-formed but meaningless. The
# bundle only proves the whole path (microphone -> Mimi -> LM -> words) runs.
# Idempotent: files are rewritten only when their source changed; called by scripts/build.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${BUNDLE_DIR:-dist/models/default}
mkdir -p "$OUT"

copy() {  # source, destination name; written aside then renamed, so a reader never sees half a file
  if ! cmp -s "$1" "$OUT/$2"; then
    cp "$1" "$OUT/$2.tmp.$$"
    mv -f "$OUT/$2.tmp.$$" "$OUT/$2"
  fi
}
copy tests/data/stt/config.json config.json
copy tests/data/stt/weights.safetensors model.safetensors
copy tests/data/mimi/config.json mimi.json
copy tests/data/mimi/weights.safetensors mimi.safetensors

VOCAB=$(node -e "process.stdout.write(String(JSON.parse(require('fs').readFileSync('$OUT/config.json','utf8')).text_card))")
PAD=$(node -e "process.stdout.write(String(JSON.parse(require('fs').readFileSync('$OUT/config.json','utf8')).existing_text_padding_id ?? 3))")

# The tokenizer's training text: plain English about what the demo does, enough distinct
# words for 100 pieces. Changing it retrains the tokenizer.
CORPUS=$(mktemp)
trap 'rm -f "$CORPUS"' EXIT
cat > "$CORPUS" <<'TEXT'
Hello from the browser. This sentence drives the fake microphone of the Kyutai speech tests.
Speech recognition turns the sound of a voice into written words, one frame at a time.
The microphone captures audio at twenty four thousand samples per second.
An audio worklet cuts the signal into frames of eighty milliseconds.
The codec turns every frame into eight tokens, one for each codebook.
The language model reads those tokens and writes the text that it hears.
Words become final when the model writes a padding token after them.
The model runs in a web worker, so the page never stops to wait for it.
WebAssembly with SIMD makes the matrix products fast enough for real time.
On a page that is cross origin isolated, several threads share the work.
The demo shows a heat map of the tokens, the latency and the real time factor.
Open a file or start the microphone, then listen and watch the words appear.
Kyutai builds speech models that listen and talk at the same time.
Moshi is a full duplex model: it hears the user while it speaks.
The text to speech model reads text and writes audio tokens for the codec to decode.
Every object can be disposed, and every error names what went wrong.
A small model with random weights still exercises the whole path from sound to text.
Seven bright birds sang over the quiet river while the morning light grew warm.
Numbers and letters, questions and answers, voices near and far.
Good morning, good evening, thank you very much, see you tomorrow.
TEXT

# Retrain only when the text or the settings changed (the pieces and scores come out the same
# every time; the file also records the temporary training path).
STAMP="$OUT/tokenizer.stamp"
WANT="vocab=$VOCAB pad=$PAD $(sha256sum "$CORPUS" | cut -d' ' -f1)"
if [[ ! -f "$OUT/tokenizer.model" || ! -f "$STAMP" || "$(cat "$STAMP")" != "$WANT" ]]; then
  TMP=$(mktemp -d)
  spm_train --input="$CORPUS" --model_prefix="$TMP/tokenizer" --vocab_size="$VOCAB" \
    --model_type=unigram --byte_fallback=false --character_coverage=1.0 \
    --unk_id=0 --bos_id=1 --eos_id=2 --pad_id="$PAD" --num_threads=1 --minloglevel=2 >/dev/null 2>&1 \
    || { echo "make-demo-bundle: spm_train failed (sentencepiece from scripts/setup.sh)" >&2; rm -rf "$TMP"; exit 1; }
  mv -f "$TMP/tokenizer.model" "$OUT/tokenizer.model"
  rm -rf "$TMP"
  echo "$WANT" > "$STAMP"
fi

cat > "$OUT/bundle.json.tmp.$$" <<JSON
{
  "name": "tiny-stt-mimi",
  "description": "Tiny speech-to-text checkpoint and Mimi codec of the conformance tests (random weights) with a SentencePiece tokenizer of $VOCAB pieces trained at build time",
  "config": "config.json",
  "weights": "model.safetensors",
  "tokenizer": "tokenizer.model",
  "mimi": { "config": "mimi.json", "weights": "mimi.safetensors" }
}
JSON
if cmp -s "$OUT/bundle.json.tmp.$$" "$OUT/bundle.json"; then rm -f "$OUT/bundle.json.tmp.$$"; else mv -f "$OUT/bundle.json.tmp.$$" "$OUT/bundle.json"; fi

# The engine (dist/kyutai.mjs, built just before) must read the tokenizer, with exactly the
# model's text vocabulary.
node --input-type=module -e "
  import fs from 'node:fs';
  import { createEngine } from './web/src/engine.js';
  const engine = await createEngine();
  const tok = await engine.loadTokenizer(fs.readFileSync('$OUT/tokenizer.model'));
  if (tok.vocabSize !== $VOCAB) throw new Error('tokenizer has ' + tok.vocabSize + ' pieces, the model ' + $VOCAB);
  if (tok.idToPiece($PAD) !== '<pad>') throw new Error('id $PAD is ' + tok.idToPiece($PAD) + ', not <pad>');
  const ids = tok.encode('Hello from the browser');
  if (tok.decode(ids) !== 'Hello from the browser') throw new Error('round trip failed: ' + tok.decode(ids));
  tok.dispose();
"
echo "make-demo-bundle: $OUT ready ($(du -sh "$OUT" | cut -f1): tiny STT + Mimi, tokenizer of $VOCAB pieces)"

# The Speak panel's model (web/demo/speak.js), dist/models/tts/ (TTS_BUNDLE_DIR=... to change
# it): the tiny TTS checkpoint of the conformance tests (tests/data/tts: random weights,
# Kyutai's format, its own 100-piece tokenizer and voice) with the same tiny Mimi.
OUT=${TTS_BUNDLE_DIR:-dist/models/tts}
mkdir -p "$OUT"
copy tests/data/tts/config.json config.json
copy tests/data/tts/weights.safetensors model.safetensors
copy tests/data/tts/tokenizer.model tokenizer.model
copy tests/data/tts/voice_a.safetensors voice_a.safetensors
copy tests/data/mimi/config.json mimi.json
copy tests/data/mimi/weights.safetensors mimi.safetensors
echo "make-demo-bundle: $OUT ready ($(du -sh "$OUT" | cut -f1): tiny TTS + Mimi + voice)"
