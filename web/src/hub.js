// Models by name: `loadModel('kyutai/stt-1b-en_fr', {format: 'q4'})` finds a repository's
// files the way Kyutai's own loaders do (moshi/models/loaders.py): `config.json`, the LM
// weights under `moshi_name` (default model.safetensors), the Mimi codec under `mimi_name`
// and the SentencePiece tokenizer under `tokenizer_name`. Mimi's checkpoint carries no
// configuration; Kyutai's loaders build it from a constant, which is KYUTAI_MIMI_CONFIG here.
//
// Files are found through a URL template (`hub`): {repo}, {revision} and {file} are replaced.
// The default is Hugging Face's resolve/main layout; a mirror, a folder the app serves, or in
// Node a local directory laid out the same way (repo/file) works with its own template.
import { KyutaiError } from './errors.js';
import { fetchChecked, fileError } from './sources.js';
import { isNode, baseUrl, nodeImport } from './inputs.js';

export const DEFAULT_HUB = 'https://huggingface.co/{repo}/resolve/{revision}/{file}';

// Kyutai's `_mimi_config` (moshi/models/loaders.py), as the engine's Mimi loader reads it.
export const KYUTAI_MIMI_CONFIG = Object.freeze({
  sample_rate: 24000, channels: 1, frame_rate: 12.5,
  seanet: {
    channels: 1, dimension: 512, causal: true, n_filters: 64, n_residual_layers: 1, activation: 'ELU', compress: 2,
    dilation_base: 2, disable_norm_outer_blocks: 0, kernel_size: 7, residual_kernel_size: 3, last_kernel_size: 3,
    norm: 'none', pad_mode: 'constant', ratios: [8, 6, 5, 4], true_skip: true,
  },
  quantizer: { dimension: 256, n_q: 32, bins: 2048, input_dimension: 512, output_dimension: 512 },
  transformer: {
    d_model: 512, num_heads: 8, num_layers: 8, causal: true, layer_scale: 0.01, context: 250, conv_layout: true,
    max_period: 10000, gating: 'none', norm: 'layer_norm', positional_embedding: 'rope', dim_feedforward: 2048,
    input_dimension: 512, output_dimensions: [512],
  },
});

// "owner/name": letters, digits, '-', '_', '.'; no path beyond that.
const MODEL_NAME = /^[A-Za-z0-9][\w.-]*\/[\w.-]*[A-Za-z0-9_]$/;

export function isModelName(name) {
  return typeof name === 'string' && MODEL_NAME.test(name) && !name.includes('..');
}

const isPathTemplate = (hub) => isNode && !/^[a-z][a-z0-9+.-]*:/i.test(hub);

// The location of `file` of `repo`: a URL, or in Node (a template without a scheme) a path.
export function hubFileUrl(repo, file, { hub = DEFAULT_HUB, revision = 'main' } = {}) {
  if (!/\{file\}/.test(hub)) throw new KyutaiError(`hub: the template '${hub}' has no {file} placeholder (example: ${DEFAULT_HUB})`, 'INVALID_ARGUMENT');
  const filled = hub.replaceAll('{repo}', repo).replaceAll('{revision}', encodeURIComponent(revision)).replaceAll('{file}', file);
  return isPathTemplate(hub) ? filled : new URL(filled, baseUrl()).href;
}

async function readJson(location, what) {
  let text;
  if (/^[a-z][a-z0-9+.-]*:/i.test(location)) {
    text = await (await fetchChecked(location, what)).text();
  } else {
    const fs = await nodeImport('fs');
    text = await fs.promises.readFile(location, 'utf8').catch((e) => Promise.reject(fileError(e, location, what)));
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new KyutaiError(`${what}: ${location} is not valid JSON (${e.message})`, 'INVALID_CONFIG');
  }
}

// A file's size in bytes, or undefined when the server does not say (for progress totals).
async function fileSize(location) {
  try {
    if (!/^[a-z][a-z0-9+.-]*:/i.test(location)) return (await (await nodeImport('fs')).promises.stat(location)).size;
    const response = await fetch(location, { method: 'HEAD' });
    const n = Number(response.headers.get('content-length'));
    return response.ok && n > 0 ? n : undefined;
  } catch {
    return undefined;  // a size is only for progress; the load itself reports a missing file
  }
}

// Kyutai's file-name keys of config.json, with the defaults of its loaders.
function fileNames(config, name) {
  const pick = (key, fallback) => {
    const v = config[key] ?? fallback;
    if (v !== undefined && (typeof v !== 'string' || !v || v.includes('..') || v.startsWith('/'))) {
      throw new KyutaiError(`${name}/config.json: "${key}" must be a file name of the repository, got ${JSON.stringify(v)}`, 'INVALID_CONFIG');
    }
    return v;
  };
  return { weights: pick('moshi_name', 'model.safetensors'), mimi: pick('mimi_name'), tokenizer: pick('tokenizer_name') };
}

// A model name -> loadModel's options for its files: {config, weights, tokenizer,
// frameTokenizer, files: [{role, file, url, size}]}. `mimi_config` in config.json (not a
// Kyutai key) replaces KYUTAI_MIMI_CONFIG for a repository with another codec.
export async function resolveModel(name, { hub = DEFAULT_HUB, revision = 'main' } = {}) {
  if (!isModelName(name)) {
    throw new KyutaiError(`model name: expected "owner/name" (like 'kyutai/stt-1b-en_fr'), got ${JSON.stringify(name)}`, 'INVALID_ARGUMENT');
  }
  if (typeof hub !== 'string') throw new KyutaiError(`hub: expected a URL template with {repo} and {file}, got ${typeof hub}`, 'INVALID_ARGUMENT');
  const at = (file) => hubFileUrl(name, file, { hub, revision });
  const config = await readJson(at('config.json'), `${name} config`);
  const names = fileNames(config, name);
  const files = [{ role: 'weights', file: names.weights, url: at(names.weights) }];
  if (names.mimi) files.push({ role: 'mimi', file: names.mimi, url: at(names.mimi) });
  if (names.tokenizer) files.push({ role: 'tokenizer', file: names.tokenizer, url: at(names.tokenizer) });
  await Promise.all(files.map(async (f) => (f.size = await fileSize(f.url))));
  const url = (role) => files.find((f) => f.role === role)?.url;
  return {
    config,
    weights: url('weights'),
    tokenizer: url('tokenizer'),
    frameTokenizer: names.mimi ? { type: 'mimi', config: config.mimi_config ?? KYUTAI_MIMI_CONFIG, weights: url('mimi') } : undefined,
    files,
  };
}

// Progress of a load by name: the engine's events plus `fileName` (the file being read) and
// `overall: {loaded, total}` over every file of the model. The LM weights stream with
// progress; the codec and tokenizer, read after them, count once the model is ready.
export function hubProgress(files, onProgress) {
  if (!onProgress) return undefined;
  const weights = files.find((f) => f.role === 'weights');
  const sizes = files.map((f) => f.size);
  const total = sizes.every((n) => n > 0) ? sizes.reduce((a, b) => a + b, 0) : undefined;
  const list = files.map(({ role, file, size }) => ({ role, file, size }));
  return (p) => {
    const ready = p.phase === 'ready';
    const loaded = ready ? total : Math.min(p.loaded ?? 0, weights.size ?? Infinity);
    onProgress({ ...p, fileName: ready ? undefined : weights.file, modelFiles: list, overall: { loaded, total } });
  };
}

// Kyutai's voices by name (moshi/models/tts.py, get_voice_path): a file of the kyutai/tts-voices
// repository named `<name>.<sig>@<epoch>.safetensors`, sig and epoch from the model's
// config.json `model_id`; e.g. 'expresso/ex03-ex01_happy_001_channel1_334s.wav'.
export const KYUTAI_VOICE_REPO = 'kyutai/tts-voices';

export function voiceFileUrl(name, modelId, { hub = DEFAULT_HUB, revision = 'main', repo = KYUTAI_VOICE_REPO } = {}) {
  if (typeof name !== 'string' || !name || name.includes('..') || name.startsWith('/')) {
    throw new KyutaiError(`voice name: expected a file name of ${repo} (like 'expresso/ex03-ex01_happy_001_channel1_334s.wav'), got ${JSON.stringify(name)}`, 'INVALID_ARGUMENT');
  }
  if (name.endsWith('.safetensors')) return hubFileUrl(repo, name, { hub, revision });
  if (!modelId || typeof modelId.sig !== 'string' || !Number.isInteger(modelId.epoch)) {
    throw new KyutaiError(`voice name '${name}': the model's config.json has no model_id {sig, epoch} to name its voice files; pass the voice file's URL or bytes`, 'INVALID_CONFIG');
  }
  return hubFileUrl(repo, `${name}.${modelId.sig}@${modelId.epoch}.safetensors`, { hub, revision });
}
