// The WebGPU backend's parts that need no GPU: the GPU session driver (steppers.js GpuSession)
// stepping the engine's C++ sessions through their stages (begin / sampleText / sampleAudio /
// finish) with a stand-in remote forward (the engine's raw LmStepper) against Kyutai's vectors
// and the one-call sessions, the WebAssembly reference forward, the weight directory, the
// self-test configs, the architecture check and the backend choice in Node (no WebGPU:
// WebAssembly, with a reason).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { data, read, vectors } from './data.mjs';
import { createEngine } from '../../web/src/engine.js';
import { unwrap } from '../../web/src/errors.js';
import { loadModel } from '../../web/src/index.js';
import { GpuSession, GpuSpeaker, gpuModelInfo, referenceFrames } from '../../web/src/webgpu/steppers.js';
import { unsupportedReason } from '../../web/src/webgpu/lm_gpu.js';
import { selectBackend, selfTestConfig } from '../../web/src/webgpu/backend.js';
import { lmStreaming, greedyGeneration, asr, ttsTeacherForced, ttsGeneration } from './gpu-conformance.mjs';

const engine = await createEngine();

async function load(dir, options) {
  return engine.loadLm(read(`${dir}/config.json`).toString(), read(`${dir}/weights.safetensors`), options);
}

const argmax = (l) => l.reduce((best, v, i) => (v > l[best] ? i : best), 0);

// The GPU's role played by the engine's raw stepper: a forward outside the session, which
// samples through the session exactly as lm_gpu.js does. It keeps no K/V rows (no mirror).
// A conditioned model's stepper runs under the conditions the GPU would upload.
class StandInForward {
  constructor(lm, conditions = null) {
    this.handle = new engine.module.LmStepper();
    unwrap(conditions ? this.handle.initConditioned(lm.handle, conditions) : this.handle.init(lm.handle));
    this.frames = 0;
  }
  async run(session, req) {
    const h = this.handle;
    const r = unwrap(h.step(req.tokens));
    const textToken = req.forcedText ?? (req.sampleText ? session.sampleText(r.textLogits) : argmax(r.textLogits));
    const audioTokens = [];
    let prev = textToken;
    for (let k = 0; req.depformer && k < req.codebooks; k++) {
      const logits = unwrap(h.depformerStep(k, prev, r.transformerOut));
      prev = req.sampleAudio ? session.sampleAudio(k, logits) : argmax(logits);
      audioTokens.push(prev);
    }
    this.frames++;
    return { textToken, audioTokens: Int32Array.from(audioTokens), vad: req.vad ? unwrap(h.extraHeads(r.transformerOut)) : null, kvRows: null };
  }
  reset() {
    unwrap(this.handle.reset());
  }
  dispose() {
    this.handle.delete();
  }
}

const driven = (session, lm, local, forward = new StandInForward(lm)) =>
  new GpuSession(session, forward, { local, wasmBackend: engine.backend, mirror: false });

test('WebAssembly reference forward reproduces the streaming vectors (teacher-forced)', async () => {
  for (const dir of ['lm', 'lm-variants/v3_layernormf32_ropeconcat_textcardout']) {
    const lm = await load(dir);
    const diffs = await lmStreaming(vectors(dir), (requests) => referenceFrames(engine, lm, requests));
    for (const [name, d] of Object.entries(diffs)) {
      for (const [what, v] of Object.entries(d)) assert.ok(v < 1e-4, `${dir} ${name} ${what}: ${v}`);
    }
    lm.dispose();
  }
});

test('the staged duplex session, driven around a remote forward, reproduces greedy generation', async () => {
  for (const dir of ['lm', 'lm-variants/v1_layernorm_sin_plainffn', 'lm-variants/v2_rmsnorm_sinrope_schedule_lowrank_demux',
    'lm-variants/v3_layernormf32_ropeconcat_textcardout']) {
    const lm = await load(dir);
    const forward = new StandInForward(lm);
    const r = await greedyGeneration(vectors(dir), () => driven(lm.createDuplexSession(), lm, 'pushFrame', forward));
    assert.deepEqual(r.text, r.expectedText, `${dir} text`);
    assert.deepEqual(r.frames, r.expectedFrames, `${dir} frames`);
    assert.equal(forward.frames, r.text.length, 'every frame ran on the stand-in remote forward');
    lm.dispose();
  }
});

test('the staged ASR session follows Kyutai\'s alignment on the STT checkpoint', async () => {
  const lm = await load('stt');
  const config = gpuModelInfo(engine, lm).config;
  const r = await asr(vectors('stt'), config, () => driven(lm.createAsrSession(), lm, 'pushFrame'));
  assert.deepEqual(r.tokens, r.expected);
  assert.ok(r.vad < 1e-4, `vad ${r.vad}`);
  lm.dispose();
});

test('sampling happens in the engine for both paths: same seed, same tokens as the one-call sessions', async () => {
  const lm = await load('lm');
  const options = { sampling: true, seed: 42, temperature: 1.2, textTemperature: 1.1, topK: 10, textTopK: 20 };
  const staged = driven(lm.createDuplexSession(options), lm, 'pushFrame');
  const cpp = lm.createDuplexSession(options);
  const seen = new Set();
  for (let t = 0; t < 12; t++) {
    const user = Int32Array.from({ length: 8 }, (_, k) => (t * 7 + k * 3) % 32);
    const a = await staged.pushFrame(user);
    const b = cpp.pushFrame(user);
    assert.deepEqual({ ...a, backend: undefined }, { ...b, backend: undefined }, `frame ${t}`);
    seen.add(a.textToken);
  }
  assert.ok(seen.size > 2, 'sampling varies');
  const tts = driven(lm.createTtsSession(options), lm, 'pushText');
  const cppTts = lm.createTtsSession(options);
  for (const token of [5, 3, 3, -1, 7, 0, 3]) {
    const a = await tts.pushText(token);
    const b = cppTts.pushText(token);
    assert.deepEqual({ ...a, backend: undefined }, { ...b, backend: undefined });
  }
  await assert.rejects(tts.pushText(1000), /text token 1000 is out of range/);
  await staged.dispose();
  await tts.dispose();
  lm.dispose();
});

test('the staged API refuses out-of-order calls and bad replies with a code, and changes nothing', async () => {
  const lm = await load('lm');
  const options = { sampling: true, seed: 3 };
  const s = lm.createDuplexSession(options);
  const twin = lm.createDuplexSession(options);
  const user = new Int32Array(8).fill(4);
  const code = (f) => {
    try {
      f();
    } catch (e) {
      return e.code;
    }
    return 'none';
  };
  assert.equal(code(() => s.finish({ textToken: 0 })), 'INVALID_STATE');
  assert.equal(code(() => s.begin(new Int32Array(7))), 'INVALID_ARGUMENT');
  assert.equal(code(() => s.begin(new Float32Array(8))), 'INVALID_ARGUMENT');
  const req = s.begin(user);
  assert.deepEqual([req.tokens.length, req.sampleText, req.sampleAudio, req.depformer, req.vad, req.forcedText], [17, true, true, true, false, null]);
  assert.equal(code(() => s.begin(user)), 'INVALID_STATE');
  assert.equal(code(() => s.sampleAudio(0, new Float32Array(32))), 'INVALID_STATE');
  assert.equal(code(() => s.sampleText(new Float32Array(3))), 'INVALID_ARGUMENT');
  const text = s.sampleText(new Float32Array(lm.config.textCardOut));
  const audio = Int32Array.from({ length: 8 }, (_, k) => s.sampleAudio(k, new Float32Array(32)));
  assert.equal(code(() => s.finish({ textToken: text, audioTokens: audio.slice(1) })), 'INVALID_ARGUMENT');
  assert.equal(code(() => s.finish({ textToken: text, audioTokens: audio, kvRows: new Float32Array(5) })), 'INVALID_ARGUMENT');
  assert.equal(code(() => s.finish({ textToken: 'x' })), 'INVALID_ARGUMENT');
  assert.equal(s.kvRowFloats(), 2 * 2 * 64);
  // The open frame redone on WebAssembly is the twin's first step.
  assert.deepEqual(s.runLocal(), twin.pushFrame(user));
  s.dispose();
  twin.dispose();
  lm.dispose();
});

test('TTS: the staged speaker, driven around a remote forward under its conditions, gives Kyutai\'s generation', async () => {
  const lm = await load('tts');
  const tts = vectors('tts');
  const voice = read('tts/voice_a.safetensors');
  const tokenizer = read('tts/tokenizer.model');
  // The speaker's conditions are those of the teacher-forced case (voice A, cfg "2.0").
  const speaker = await lm.createSpeaker({ voice, tokenizer, cfg: 2 });
  assert.equal(speaker.staged, true);
  const conditions = speaker.conditions();
  assert.equal(conditions.sum.length, lm.config.dim);
  assert.equal(conditions.crossKeys.length, gpuModelInfo(engine, lm).config.main.numLayers);
  const stepper = new StandInForward(lm, conditions);
  const forced = await ttsTeacherForced(tts, async (requests) => {
    const h = new engine.module.LmStepper();
    unwrap(h.initConditioned(lm.handle, conditions));
    const out = requests.map((req) => {
      const r = unwrap(h.step(req.tokens));
      const depformerLogits = [];
      for (let k = 0; k < req.teacher.length; k++) depformerLogits.push(...unwrap(h.depformerStep(k, req.teacher[k], r.transformerOut)));
      return { ...r, depformerLogits: Float32Array.from(depformerLogits) };
    });
    h.delete();
    return out;
  });
  for (const [what, d] of Object.entries(forced.teacher_forced)) assert.ok(d < 1e-4, `teacher-forced ${what}: ${d}`);
  const run = await ttsGeneration(tts, 'generation', new GpuSpeaker(speaker, stepper, { wasmBackend: engine.backend, mirror: false }));
  assert.deepEqual(run.frames, run.expectedFrames);
  assert.deepEqual(run.words, run.expectedWords);
  assert.deepEqual(run.backends, ['webgpu']);
  assert.equal(stepper.frames, tts.cases.generation.num_steps);
  lm.dispose();
});

test('TTS: real CFG is not staged (the speaker runs it in one call) and the GPU speaker says so', async () => {
  const lm = await engine.loadLm(read('tts/config_nocfg.json').toString(), read('tts/weights_nocfg.safetensors'));
  const tts = vectors('tts');
  const options = { voice: read('tts/voice_a.safetensors'), tokenizer: read('tts/tokenizer.model'), cfg: 2, maxGenLength: tts.cases.generation_real_cfg.max_gen_length };
  const speaker = await lm.createSpeaker(options);
  assert.equal(speaker.staged, false);
  speaker.pushText('Hello');
  speaker.end();
  assert.throws(() => speaker.begin(), (e) => e.code === 'UNSUPPORTED' && /real CFG/.test(e.message));
  const wasm = new GpuSpeaker(await lm.createSpeaker(options), null, { wasmBackend: engine.backend, reason: 'real CFG runs on WebAssembly' });
  assert.equal(wasm.backend, engine.backend);
  assert.equal(wasm.fallbackReason, 'real CFG runs on WebAssembly');
  const run = await ttsGeneration(tts, 'generation_real_cfg', wasm);
  assert.deepEqual(run.frames, run.expectedFrames);
  assert.deepEqual(run.words, run.expectedWords);
  assert.deepEqual(run.backends, [engine.backend]);
  lm.dispose();
});

test('TTS staging refuses a bad reply and out-of-order calls with a code, and changes nothing', async () => {
  const lm = await load('tts');
  const speaker = await lm.createSpeaker({ voice: read('tts/voice_a.safetensors'), tokenizer: read('tts/tokenizer.model'), cfg: 2 });
  assert.throws(() => speaker.begin(), (e) => e.code === 'INVALID_STATE');  // no text yet
  speaker.pushText('Hello world, this is');
  speaker.end();
  assert.throws(() => speaker.finish({ textToken: 0 }), (e) => e.code === 'INVALID_STATE');
  const reference = await lm.createSpeaker({ voice: read('tts/voice_a.safetensors'), tokenizer: read('tts/tokenizer.model'), cfg: 2 });
  reference.pushText('Hello world, this is');
  reference.end();
  const request = speaker.begin();
  assert.equal(request.sampleText, true);  // the state machine sits between the text head and the Depformer
  assert.equal(request.depformer, false);  // step 0 < delay_steps
  assert.throws(() => speaker.begin(), (e) => e.code === 'INVALID_STATE');
  assert.throws(() => speaker.finish({ textToken: 5 }), (e) => e.code === 'INVALID_STATE');  // never sampled
  // A remote attempt that ran the state machine, then failed: the local redo starts from scratch.
  speaker.sampleText(new Float32Array(lm.config.textCardOut).fill(0));
  for (let t = 0; t < 12; t++) {
    const a = t === 0 ? speaker.runLocal() : speaker.step();
    const b = reference.step();
    assert.deepEqual([a.step, a.frame && Array.from(a.frame), a.words], [b.step, b.frame && Array.from(b.frame), b.words], `step ${t}`);
  }
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
    // Per (row, block of 32): an f32 scale, and for q4 (Q4_K) an f32 min; q8's follow each
    // block's weights in the panel, q4's are apart.
    const perPanel = { f32: 64 * 16 * 4, q8: 64 * 16 + 2 * 16 * 4, q4: 64 * 8 }[format];
    assert.equal(inProj.bytes, 12 * perPanel);
    assert.equal(inProj.scalesBytes, { f32: 0, q8: 0, q4: 12 * 2 * 16 * 8 }[format]);
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

test('architecture check: Kyutai LM, STT, v2, v3 and TTS run on the GPU; v1 names what it lacks', async () => {
  const expected = {
    lm: null,
    stt: null,
    'lm-variants/v3_layernormf32_ropeconcat_textcardout': null,
    'lm-variants/v1_layernorm_sin_plainffn': /norm_emb/,
    'lm-variants/v2_rmsnorm_sinrope_schedule_lowrank_demux': null,
    tts: null,
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
  for (const dir of ['lm', 'stt', 'lm-variants/v1_layernorm_sin_plainffn', 'lm-variants/v2_rmsnorm_sinrope_schedule_lowrank_demux', 'lm-variants/v3_layernormf32_ropeconcat_textcardout', 'tts']) {
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
