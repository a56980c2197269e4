// A folder laid out like the Hugging Face hub (<root>/<owner>/<name>/<file>) holding the tiny
// TTS checkpoint of tests/data/tts as a repository and its voice in kyutai/tts-voices under
// Kyutai's name (<voice>.<sig>@<epoch>.safetensors, model_id of its config), so TTS models and
// voices by name are tested offline. The tiny codec is not Kyutai's Mimi: its config goes in
// config.json's `mimi_config` (web/src/hub.js).
import fs from 'node:fs';
import path from 'node:path';
import { read } from './data.mjs';

export const TTS_HUB_MODEL = 'kyutai/tts-tiny';
export const TTS_HUB_VOICE = 'tiny/voice_a';

// Writes the layout under `root` (made if missing).
export function makeTtsHubFolder(root) {
  const repo = path.join(root, ...TTS_HUB_MODEL.split('/'));
  fs.mkdirSync(repo, { recursive: true });
  const config = JSON.parse(read('tts/config.json'));
  config.mimi_config = JSON.parse(read('mimi/config.json'));
  fs.writeFileSync(path.join(repo, 'config.json'), JSON.stringify(config));
  fs.writeFileSync(path.join(repo, config.moshi_name), read('tts/weights.safetensors'));
  fs.writeFileSync(path.join(repo, config.tokenizer_name), read('tts/tokenizer.model'));
  fs.writeFileSync(path.join(repo, config.mimi_name), read('mimi/weights.safetensors'));
  const { sig, epoch } = config.model_id;
  const voice = path.join(root, 'kyutai', 'tts-voices', `${TTS_HUB_VOICE}.${sig}@${epoch}.safetensors`);
  fs.mkdirSync(path.dirname(voice), { recursive: true });
  fs.writeFileSync(voice, read('tts/voice_a.safetensors'));
}
