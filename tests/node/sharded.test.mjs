// Streaming loads of large checkpoints, in Node (issue 11): sharded checkpoints (Hugging Face's
// model-0000k-of-0000n.safetensors + model.safetensors.index.json) load to the same model as
// the single file; a model that cannot fit is refused after its header with its download
// cancelled; progress carries the phase. The browser side (cache, full-size models) is
// e2e/fullsize.spec.mjs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadModel, KyutaiError, listCachedModels, modelCacheAvailable } from '../../web/src/index.js';
import { parseShardIndex, isShardIndexName } from '../../web/src/sharded.js';
import { createEngine } from '../../web/src/engine.js';

const data = new URL('../data/', import.meta.url);
const file = (p) => new URL(p, data).pathname;
const CONFIG = file('stt/config.json');
const WEIGHTS = file('stt/weights.safetensors');

// Splits a safetensors file into `n` shards (tensors in file order) plus the index, as
// Hugging Face does; returns the index path.
function writeShards(src, dir, n) {
  const bytes = fs.readFileSync(src);
  const headerLength = Number(bytes.readBigUInt64LE(0));
  const header = JSON.parse(bytes.subarray(8, 8 + headerLength).toString());
  const names = Object.keys(header).filter((k) => k !== '__metadata__').sort((a, b) => header[a].data_offsets[0] - header[b].data_offsets[0]);
  const dataStart = 8 + headerLength;
  const per = Math.ceil(names.length / n);
  const weightMap = {};
  for (let k = 0; k < n; k++) {
    const name = `model-${String(k + 1).padStart(5, '0')}-of-${String(n).padStart(5, '0')}.safetensors`;
    const part = {};
    const chunks = [];
    let offset = 0;
    for (const t of names.slice(k * per, (k + 1) * per)) {
      const [b, e] = header[t].data_offsets;
      part[t] = { ...header[t], data_offsets: [offset, offset + e - b] };
      chunks.push(bytes.subarray(dataStart + b, dataStart + e));
      offset += e - b;
      weightMap[t] = name;
    }
    let json = JSON.stringify(part);
    while (json.length % 8) json += ' ';
    const length = Buffer.alloc(8);
    length.writeBigUInt64LE(BigInt(json.length));
    fs.writeFileSync(path.join(dir, name), Buffer.concat([length, Buffer.from(json), ...chunks]));
  }
  const index = path.join(dir, 'model.safetensors.index.json');
  fs.writeFileSync(index, JSON.stringify({ metadata: { total_size: bytes.length - dataStart }, weight_map: weightMap }));
  return index;
}

function sttFrames() {
  const run = JSON.parse(fs.readFileSync(file('stt/vectors.json'))).asr_streaming_first_frame_twice;
  const [, Q, F] = run.audio_codes.shape;
  const frames = [];
  for (let f = 0; f < F; f++) frames.push(Int32Array.from({ length: Q }, (_, q) => run.audio_codes.data[q * F + f]));
  return frames;
}

async function outputs(model) {
  const session = await model.createAsrSession();
  const out = [];
  for (const f of sttFrames()) {
    const r = await session.pushFrame(f);
    out.push([r.textToken, ...r.vad]);
  }
  await session.dispose();
  return out;
}

test('a sharded checkpoint (index path, or {shards}) loads to the same model as the single file', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kyutai-shards-'));
  try {
    const index = writeShards(WEIGHTS, dir, 3);
    for (const format of ['auto', 'q8']) {
      const single = await loadModel({ config: CONFIG, weights: WEIGHTS, format });
      const progress = [];
      const sharded = await loadModel({ config: CONFIG, weights: index, format, onProgress: (p) => progress.push(p) });
      assert.deepEqual(await outputs(sharded), await outputs(single), format);
      assert.equal(sharded.weightBytes, single.weightBytes);
      assert.equal(sharded.load.files, 3);
      assert.equal(single.load.files, 1);
      // The same bytes in the same order hash the same whether or not they are split, but the
      // shards carry headers of their own: the hashes differ, each stable.
      assert.match(sharded.load.contentHash, /^[0-9a-f]{16}$/);
      const streaming = progress.filter((p) => p.phase === 'convert');
      assert.deepEqual([...new Set(streaming.map((p) => p.file))], [1, 2, 3]);
      assert.ok(streaming.every((p) => p.files === 3));
      assert.equal(streaming.at(-1).tensors, 27);
      const size = ['1', '2', '3'].reduce((n, k) => n + fs.statSync(path.join(dir, `model-0000${k}-of-00003.safetensors`)).size, 0);
      assert.equal(streaming.at(-1).loaded, size);
      assert.equal(streaming.at(-1).total, size);
      assert.equal(progress.at(-1).phase, 'ready');
      const buffers = ['1', '2', '3'].map((k) => fs.readFileSync(path.join(dir, `model-0000${k}-of-00003.safetensors`)));
      const listed = await loadModel({ config: CONFIG, weights: { shards: buffers }, format });
      assert.deepEqual(await outputs(listed), await outputs(single));
      assert.equal(listed.load.contentHash, sharded.load.contentHash);
      for (const m of [single, sharded, listed]) await m.dispose();
    }
    // One file given twice is refused, naming the tensor.
    const buffers = ['1', '1', '3'].map((k) => fs.readFileSync(path.join(dir, `model-0000${k}-of-00003.safetensors`)));
    await assert.rejects(loadModel({ config: CONFIG, weights: { shards: buffers } }), (e) => {
      assert.ok(e instanceof KyutaiError);
      assert.equal(e.code, 'INVALID_CHECKPOINT');
      assert.match(e.message, /appears twice/);
      return true;
    });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('the shard index is checked: JSON, a weight_map, file names next to the index', () => {
  assert.ok(isShardIndexName('https://x/y/model.safetensors.index.json?download=1'));
  assert.ok(!isShardIndexName('https://x/y/model.safetensors'));
  assert.deepEqual(parseShardIndex('{"weight_map": {"a": "m-2.safetensors", "b": "m-1.safetensors", "c": "m-2.safetensors"}}'),
    { files: ['m-1.safetensors', 'm-2.safetensors'], tensors: 3, totalSize: undefined });
  for (const [text, message] of [
    ['<html>', /invalid JSON/],
    ['{"metadata": {}}', /weight_map/],
    ['{"weight_map": {}}', /empty/],
    ['{"weight_map": {"a": "../secret.safetensors"}}', /not a file next to the index/],
    ['{"weight_map": {"a": "/etc/passwd"}}', /not a file next to the index/],
    ['{"weight_map": {"a": "https://elsewhere/x.safetensors"}}', /not a file next to the index/],
    ['{"weight_map": {"a": 5}}', /must be a file name/],
  ]) {
    assert.throws(() => parseShardIndex(text), (e) => e instanceof KyutaiError && e.code === 'INVALID_CHECKPOINT' && message.test(e.message), text);
  }
});

test('a model that cannot fit is refused after its header, naming the sizes; the rest is never read', async () => {
  const bytes = fs.readFileSync(WEIGHTS);
  const headerEnd = 8 + Number(bytes.readBigUInt64LE(0));
  // A stream of 4 KiB chunks that counts what was pulled and whether it was cancelled.
  let pulled = 0;
  let cancelled = false;
  const stream = new ReadableStream({
    pull(controller) {
      if (pulled >= bytes.length) return controller.close();
      const chunk = bytes.subarray(pulled, pulled + 4096);
      pulled += chunk.length;
      controller.enqueue(new Uint8Array(chunk));
    },
    cancel() {
      cancelled = true;
    },
  }, { highWaterMark: 0 });
  const progress = [];
  await assert.rejects(loadModel({ config: CONFIG, weights: stream, format: 'f32', maxBytes: 1000, onProgress: (p) => progress.push(p) }), (e) => {
    assert.ok(e instanceof KyutaiError);
    assert.equal(e.code, 'LIMIT_EXCEEDED');
    assert.match(e.message, /^model does not fit: f32 needs \d+ MiB \(weights \d+ MiB, KV cache \d+ MiB, load buffer \d+ MiB\) but the WebAssembly heap can take 0 MiB more; no weight format fits \(even q4\)$/);
    return true;
  });
  assert.ok(cancelled, 'the source stream was cancelled');
  assert.ok(pulled <= headerEnd + 4096, `read ${pulled} bytes; the header ends at ${headerEnd}`);
  assert.ok(progress.every((p) => p.tensors === 0));

  // By default the limit is what the 4 GiB heap can still take; null turns the check off.
  const engine = await createEngine();
  assert.equal(engine.heapLimit(), 2 ** 32);
  assert.ok(engine.heapAvailable() > 2 ** 32 - 256 * 2 ** 20);
  const model = await loadModel({ config: CONFIG, weights: WEIGHTS, maxBytes: null });
  assert.equal(model.load.heap.maxBytes, null);
  await model.dispose();
});

test('Node has no model cache: loads say so by source, and the cache API answers empty', async () => {
  assert.equal(modelCacheAvailable(), false);
  assert.deepEqual(await listCachedModels(), []);
  const model = await loadModel({ config: CONFIG, weights: WEIGHTS });
  assert.equal(model.load.source, 'local');
  assert.equal(model.load.cached, false);
  assert.ok(model.bytesPerFrame > 0 && model.bytesPerFrame < model.weightBytes);
  const h = model.load.heap;
  assert.ok(h.sizeAfter >= h.sizeBefore && h.peakInUse >= h.inUseAfter && h.inUseAfter > h.inUseBefore);
  await model.dispose();
});
