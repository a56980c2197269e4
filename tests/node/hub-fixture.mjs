// A folder laid out like the Hugging Face hub (<root>/<owner>/<name>/<file>), made from the
// demo bundle (dist/models/default: tiny STT + tiny Mimi + SentencePiece) under the file names
// of Kyutai's `kyutai/stt-1b-en_fr`, so loading by name is tested offline: only the hub
// template differs from a real load. The tiny codec is not Kyutai's Mimi, so its config goes
// in config.json's `mimi_config` (web/src/hub.js); the LM's padding rows are made talkative
// (web/demo/talkative.js) so that words come one at a time.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { talkative } from '../../web/demo/talkative.js';

export const HUB_MODEL = 'kyutai/stt-1b-en_fr';
export const HUB_FILES = {
  weights: 'model.safetensors',
  mimi: 'mimi-pytorch-e351c8d8@125.safetensors',
  tokenizer: 'tokenizer_en_fr_audio_8000.model',
};

const BUNDLE = fileURLToPath(new URL('../../dist/models/default/', import.meta.url));

// Writes the layout under `root` (made if missing); returns the model's folder.
export function makeHubFolder(root) {
  const bundle = JSON.parse(fs.readFileSync(path.join(BUNDLE, 'bundle.json'), 'utf8'));
  const dir = path.join(root, ...HUB_MODEL.split('/'));
  fs.mkdirSync(dir, { recursive: true });
  const config = JSON.parse(fs.readFileSync(path.join(BUNDLE, bundle.config), 'utf8'));
  config.mimi_name = HUB_FILES.mimi;
  config.tokenizer_name = HUB_FILES.tokenizer;
  config.mimi_config = JSON.parse(fs.readFileSync(path.join(BUNDLE, bundle.mimi.config), 'utf8'));
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config, null, 2));
  fs.writeFileSync(path.join(dir, HUB_FILES.weights), talkative(fs.readFileSync(path.join(BUNDLE, bundle.weights))));
  fs.copyFileSync(path.join(BUNDLE, bundle.mimi.weights), path.join(dir, HUB_FILES.mimi));
  fs.copyFileSync(path.join(BUNDLE, bundle.tokenizer), path.join(dir, HUB_FILES.tokenizer));
  return dir;
}
