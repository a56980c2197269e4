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

// The Speak panel's model (web/demo/speak.js), made by the same script into its own folder:
// the tiny TTS checkpoint of the conformance tests (random weights: the speech is noise with
// the right timing), its tokenizer and voice, and the tiny Mimi. For Kyutai's
// tts-1.6b-en_fr, load it by name in the Model section: the panel then uses it.
export const TTS_BUNDLE_URL = new URL('../../dist/models/tts/', import.meta.url);

export const TTS_BUNDLE_FILES = {
  config: 'config.json',
  weights: 'model.safetensors',
  tokenizer: 'tokenizer.model',
  mimi: { config: 'mimi.json', weights: 'mimi.safetensors' },
  voices: { 'voice_a (the conformance voice)': 'voice_a.safetensors' },
};
