// The demo's default model: one folder holding a Kyutai-format bundle, made at build time by
// scripts/make-demo-bundle.sh (called at the end of scripts/build.sh) from files of this
// repository, nothing downloaded: the tiny speech-to-text checkpoint of the conformance
// tests, the tiny Mimi codec (8 codebooks of 32 entries: its codes are valid audio tokens
// of that model) and a SentencePiece tokenizer with the model's 100 text pieces, trained at
// build time. The weights are random: the words are well-formed but meaningless; the bundle
// shows the whole path (microphone -> Mimi -> LM -> words) running. For a real model put
// Kyutai's released files in a folder and point these at them.
export const BUNDLE_URL = new URL('../../dist/models/default/', import.meta.url);

export const BUNDLE_FILES = {
  config: 'config.json',
  weights: 'model.safetensors',
  tokenizer: 'tokenizer.model',                               // SentencePiece, engine.loadTokenizer
  mimi: { config: 'mimi.json', weights: 'mimi.safetensors' },  // the Mimi codec, engine.loadMimi
  // The tiny random model never pads on its own: make it (see talkative.js). Remove this line
  // for a real model, e.g. Kyutai's stt-1b-en_fr (README, "Loading kyutai/stt-1b-en_fr").
  talkative: true,
};
