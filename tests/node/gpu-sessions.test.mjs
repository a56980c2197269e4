// The WebGPU backend's JS parts that need no GPU: the session loops (ASR alignment, LMGen
// delays, sampling) driven by the WebAssembly stepper (wasm/bind_gpu.cpp LmStepper) against
// Kyutai's vectors, the K/V mirror, the weight directory, the self-test configs, the
// architecture check and the backend choice in Node (no WebGPU: WebAssembly, with a reason).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { data, read, vectors } from './data.mjs';
import { createEngine } from '../../web/src/engine.js';
import { loadModel } from '../../web/src/index.js';
import { WasmStepper, gpuModelInfo } from '../../web/src/webgpu/steppers.js';
import { unsupportedReason } from '../../web/src/webgpu/lm_gpu.js';
import { selectBackend, selfTestConfig } from '../../web/src/webgpu/backend.js';
import { DuplexLoop, TtsLoop, generationParams } from '../../web/src/webgpu/gpu_sessions.js';
import { Random, sampleToken } from '../../web/src/webgpu/sampling.js';
import { lmStreaming, greedyGeneration, asr } from './gpu-conformance.mjs';

const engine = await createEngine();

async function load(dir, options) {
  return engine.loadLm(read(`${dir}/config.json`).toString(), read(`${dir}/weights.safetensors`), options);
}

test('JS steppers reproduce the streaming vectors (teacher-forced, WebAssembly stepper)', async () => {
  for (const dir of ['lm', 'lm-variants/v3_layernormf32_ropeconcat_textcardout']) {
    const lm = await load(dir);
    const diffs = await lmStreaming(vectors(dir), () => new WasmStepper(engine, lm));
    for (const [name, d] of Object.entries(diffs)) {
      for (const [what, v] of Object.entries(d)) assert.ok(v < 1e-4, `${dir} ${name} ${what}: ${v}`);
    }
    lm.dispose();
  }
});

test('the JS LMGen loop reproduces greedy generation token for token', async () => {
  for (const dir of ['lm', 'lm-variants/v1_layernorm_sin_plainffn', 'lm-variants/v2_rmsnorm_sinrope_schedule_lowrank_demux',
    'lm-variants/v3_layernormf32_ropeconcat_textcardout']) {
    const lm = await load(dir);
    const config = gpuModelInfo(engine, lm).config;
    const r = await greedyGeneration(vectors(dir), config, () => new WasmStepper(engine, lm));
    assert.deepEqual(r.text, r.expectedText, `${dir} text`);
    assert.deepEqual(r.audio, r.expectedAudio, `${dir} audio`);
    assert.deepEqual(r.frames, r.expectedFrames, `${dir} frames`);
    lm.dispose();
  }
});

test('the JS ASR loop follows Kyutai\'s alignment on the STT checkpoint', async () => {
  const lm = await load('stt');
  const config = gpuModelInfo(engine, lm).config;
  const r = await asr(vectors('stt'), config, () => new WasmStepper(engine, lm));
  assert.deepEqual(r.tokens, r.expected);
  assert.ok(r.vad < 1e-4, `vad ${r.vad}`);
  lm.dispose();
});

test('sampling in JS draws exactly as the engine: same seed, same tokens as the C++ sessions', async () => {
  const lm = await load('lm');
  const config = gpuModelInfo(engine, lm).config;
  const options = { sampling: true, seed: 42, temperature: 1.2, textTemperature: 1.1, topK: 10, textTopK: 20 };
  const loop = new DuplexLoop(config, new WasmStepper(engine, lm), generationParams(config, options));
  const cpp = lm.createDuplexSession(options);
  let seen = new Set();
  for (let t = 0; t < 12; t++) {
    const user = Int32Array.from({ length: 8 }, (_, k) => (t * 7 + k * 3) % 32);
    const a = await loop.pushFrame(user);
    const b = cpp.pushFrame(user);
    assert.equal(a.textToken, b.textToken, `text at ${t}`);
    assert.deepEqual(a.audio && Array.from(a.audio), b.audio && Array.from(b.audio), `audio at ${t}`);
    assert.equal(a.frameText, b.frameText);
    assert.equal(a.step, b.step);
    seen.add(a.textToken);
  }
  assert.ok(seen.size > 2, 'sampling varies');
  const tts = new TtsLoop(config, new WasmStepper(engine, lm), generationParams(config, options));
  const cppTts = lm.createTtsSession(options);
  for (const token of [5, 3, 3, -1, 7, 0, 3]) {
    const a = await tts.pushText(token);
    const b = cppTts.pushText(token);
    assert.deepEqual({ ...a, backend: undefined, audio: a.audio && Array.from(a.audio) }, { ...b, backend: undefined, audio: b.audio && Array.from(b.audio) });
  }
  await assert.rejects(tts.pushText(1000), /text token 1000 is out of range/);
  loop.dispose();
  tts.dispose();
  lm.dispose();
  // The generator itself: 10 000 draws identical to a fresh reseed, in (0, 1).
  const r = new Random(7);
  const s = r.save();
  const u = Array.from({ length: 10000 }, () => r.uniform());
  assert.ok(u.every((x) => x > 0 && x < 1));
  r.restore(s);
  assert.equal(r.uniform(), u[0]);
  assert.equal(sampleToken(new Float32Array([1, 5, 5, 2]), 4, { useSampling: false }, r), 1);
});

test('appendKv advances the WebAssembly stream by one position per row set', async () => {
  // (That mirrored rows give an identical continuation is checked with a real GPU in
  // e2e/webgpu.spec.mjs, where the rows come from the device.)
  const lm = await load('stt');
  const a = new WasmStepper(engine, lm);
  assert.equal(a.kvFloats, 2 * 2 * 64);
  a.appendKv(new Float32Array(a.kvFloats));
  a.appendKv(new Float32Array(a.kvFloats));
  assert.equal(a.position, 2);
  assert.throws(() => a.appendKv(new Float32Array(3)), /expected 256 values/);
  a.reset();
  assert.equal(a.position, 0);
  a.dispose();
  lm.dispose();
});

test('the weight directory lists every tensor with its heap bytes, format and shape', async () => {
  for (const format of ['f32', 'q8', 'q4']) {
    const lm = await load('lm', { format });
    const info = gpuModelInfo(engine, lm);
    assert.equal(info.tensors.length, 123);
    const inProj = info.tensors.find((t) => t.name === 'transformer.layers.0.self_attn.in_projs.0.weight');
    assert.deepEqual(inProj.shape, [192, 64]);
    assert.equal(inProj.format, format);
    assert.equal(inProj.panels, 12);
    const perPanel = { f32: 64 * 16 * 4, q8: 64 * 16, q4: 64 * 8 }[format];
    assert.equal(inProj.bytes, 12 * perPanel);
    assert.equal(inProj.scalesBytes, { f32: 0, q8: 12 * 16 * 4, q4: 12 * 2 * 16 * 4 }[format]);
    const table = info.tensors.find((t) => t.name === 'text_emb.weight');
    assert.deepEqual([table.kind, table.rows, table.width, table.format, table.bytes], ['table', 101, 64, 'f32', 101 * 64 * 4]);
    // The heap bytes are the weights: text_emb row 3 read through the directory.
    const row = new Float32Array(engine.module.HEAPU8.buffer, table.ptr + 3 * 64 * 4, 64);
    const sum = lm.embeddingSum({ text: new Int32Array([3]) });
    assert.deepEqual(Array.from(row), Array.from(sum.values));
    assert.equal(info.config.main.headDim, 16);
    assert.equal(info.config.depformer.capacity, 8);
    lm.dispose();
  }
  // Only a loaded model handle is accepted: anything else is refused before any use.
  assert.throws(() => engine.module.gpuModelInfo(12345), /Cannot pass "12345" as a LmModel/);
  const empty = new engine.module.LmModel();
  assert.match(engine.module.gpuModelInfo(empty).message, /model is not loaded/);
  empty.delete();
});

test('architecture check: Kyutai LM, STT and v3 run on the GPU; v1 and v2 name what they lack', async () => {
  const expected = {
    lm: null,
    stt: null,
    'lm-variants/v3_layernormf32_ropeconcat_textcardout': null,
    'lm-variants/v1_layernorm_sin_plainffn': /norm_emb/,
    'lm-variants/v2_rmsnorm_sinrope_schedule_lowrank_demux': /depformer_low_rank_embeddings, demux_second_stream/,
  };
  for (const [dir, want] of Object.entries(expected)) {
    const lm = await load(dir);
    const reason = unsupportedReason(gpuModelInfo(engine, lm));
    if (want === null) assert.equal(reason, null, dir);
    else assert.match(reason, want, dir);
    lm.dispose();
  }
});

test('self-test configs: a tiny model of the same architecture loads for every checkpoint and format', async () => {
  for (const dir of ['lm', 'stt', 'lm-variants/v1_layernorm_sin_plainffn', 'lm-variants/v3_layernormf32_ropeconcat_textcardout']) {
    const text = read(`${dir}/config.json`).toString();
    const lm = await load(dir);
    const info = gpuModelInfo(engine, lm);
    const tiny = selfTestConfig(JSON.parse(text), info.config);
    for (const format of ['f32', 'q4']) {
      const bytes = engine.module.gpuSyntheticCheckpoint(JSON.stringify(tiny), 'F32', 7);
      assert.ok(bytes instanceof Uint8Array, `${dir}: ${bytes.message}`);
      const small = await engine.loadLm(tiny, bytes, { format });
      const c = gpuModelInfo(engine, small).config;
      assert.equal(c.dim, 32);
      assert.equal(c.depQ, Math.min(info.config.depQ, 2));
      assert.equal(c.main.norm, info.config.main.norm);
      assert.equal(c.main.pos, info.config.main.pos);
      assert.equal(c.main.gating, info.config.main.gating);
      small.dispose();
    }
    lm.dispose();
  }
});

test('in Node, backend auto falls back to WebAssembly and says why; webgpu is refused', async () => {
  const lm = await load('stt');
  const r = await selectBackend({ engine, lm, configText: read('stt/config.json').toString() });
  assert.equal(r.gpu, null);
  assert.equal(r.backend, 'wasm-simd');
  assert.match(r.reason, /WebGPU is not available in Node/);
  await assert.rejects(selectBackend({ engine, lm, configText: '{}', backend: 'webgpu' }), (e) => e.code === 'UNSUPPORTED' && /not usable: WebGPU is not available/.test(e.message));
  await assert.rejects(selectBackend({ engine, lm, configText: '{}', backend: 'cuda' }), (e) => e.code === 'INVALID_ARGUMENT');
  lm.dispose();
  const model = await loadModel({ config: new URL('stt/config.json', data), weights: new URL('stt/weights.safetensors', data), backend: 'auto' });
  assert.equal(model.backend, 'wasm-simd');
  assert.match(model.backendReason, /WebGPU is not available in Node/);
  await model.dispose();
});
