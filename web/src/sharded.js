// Sharded checkpoints: Hugging Face splits large safetensors files into
// `model-00001-of-0000N.safetensors`, ... with an index `model.safetensors.index.json`
// {"metadata": {"total_size": bytes}, "weight_map": {tensor name: file name}}. The engine
// streams the shards one after the other into one loader (LmLoader.beginFile between them),
// so a sharded checkpoint loads to exactly the model its single-file form gives.
//
// Here: recognising an index, parsing and checking it, and resolving its files to URLs.
import { KyutaiError } from './errors.js';
import { fetchChecked } from './sources.js';

// Weights given as several files, in order: `{shards: [source, ...]}`.
export function isShardList(weights) {
  return !!weights && typeof weights === 'object' && Array.isArray(weights.shards);
}

// True for a URL or path whose file name ends in `.index.json` (query and hash ignored).
export function isShardIndexName(name) {
  if (typeof name !== 'string' && !(name instanceof URL)) return false;
  const s = String(name).replace(/[?#].*$/, '');
  return /\.index\.json$/i.test(s);
}

// The index text -> {files: [file names in shard order], totalSize, tensors}. The files are the
// distinct values of weight_map, sorted (Hugging Face numbers them, -00001-of-0000N first).
export function parseShardIndex(text, what = 'safetensors index') {
  let index;
  try {
    index = JSON.parse(text);
  } catch (e) {
    throw new KyutaiError(`${what}: invalid JSON (${e.message})`, 'INVALID_CHECKPOINT');
  }
  const map = index?.weight_map;
  if (!map || typeof map !== 'object' || Array.isArray(map)) {
    throw new KyutaiError(`${what}: expected an object with a "weight_map" object {tensor: file}`, 'INVALID_CHECKPOINT');
  }
  const files = new Set();
  let tensors = 0;
  for (const [tensor, file] of Object.entries(map)) {
    if (typeof file !== 'string' || !file) {
      throw new KyutaiError(`${what}: weight_map['${tensor}'] must be a file name, got ${JSON.stringify(file)}`, 'INVALID_CHECKPOINT');
    }
    // Shards live next to their index: a plain relative name, never a way out of the folder.
    if (/^[a-z][a-z0-9+.-]*:/i.test(file) || file.startsWith('/') || file.split(/[\\/]/).includes('..')) {
      throw new KyutaiError(`${what}: weight_map['${tensor}'] names '${file}', which is not a file next to the index`, 'INVALID_CHECKPOINT');
    }
    files.add(file);
    tensors++;
  }
  if (!files.size) throw new KyutaiError(`${what}: weight_map is empty`, 'INVALID_CHECKPOINT');
  const total = Number(index.metadata?.total_size);
  return {
    files: [...files].sort(),
    tensors,
    totalSize: Number.isFinite(total) && total > 0 ? total : undefined,
  };
}

// The shard URLs of an index at `indexUrl` (its files are relative to it).
export function shardUrls(indexUrl, index) {
  return index.files.map((f) => new URL(f, indexUrl).href);
}

// Fetches an index and returns {urls, index}.
export async function fetchShardIndex(url, fetchImpl = fetch) {
  const response = await fetchChecked(url, 'safetensors index', fetchImpl);
  const index = parseShardIndex(await response.text(), url);
  return { index, urls: shardUrls(url, index) };
}
