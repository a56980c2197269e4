// The demo's default model: one folder holding a Kyutai checkpoint in its released format.
// Today: the tiny speech-to-text checkpoint of the conformance tests (random weights, so its
// text is meaningless; it exercises the whole path). A full bundle will also hold the Mimi
// codec and the SentencePiece tokenizer; set their file names below when they are there.
export const BUNDLE_URL = new URL('../../tests/data/stt/', import.meta.url);

export const BUNDLE_FILES = {
  config: 'config.json',
  weights: 'weights.safetensors',
  tokenizer: null,  // e.g. 'tokenizer_en_fr_audio_8000.model' (needs the engine's SentencePiece)
  mimi: null,       // e.g. {config: 'mimi.json', weights: 'mimi.safetensors'} (needs the engine's Mimi)
};
