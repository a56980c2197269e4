// The WebGPU backend in headless Chromium. The `webgpu` project launches Chromium with
// --enable-unsafe-webgpu (a SwiftShader adapter: correct, slow); the `browser` project runs
// the same tests without it, where `backend: 'auto'` must fall back to WebAssembly, say why,
// and give the same results. Tiny checkpoints only (SwiftShader); no timing assertions.
import { test, expect, openHarness } from './fixtures.mjs';

const gpuExpected = (testInfo) => testInfo.project.name === 'webgpu';

test.describe.configure({ timeout: 300_000 });

// In the page, without the worker: the engine, the backend choice and a stepper on it.
async function inPage(page, body, arg) {
  await openHarness(page);
  return page.evaluate(body, arg);
}

test('LM conformance vectors through the streaming step path (transformer out, text and audio logits, greedy tokens)', async ({ page }, testInfo) => {
  const r = await inPage(page, async () => {
    const { createEngine } = await import('/web/src/engine.js');
    const { selectBackend } = await import('/web/src/webgpu/backend.js');
    const { GpuFrames, referenceFrames } = await import('/web/src/webgpu/steppers.js');
    const C = await import('/tests/node/gpu-conformance.mjs');
    const engine = await createEngine({ threads: 1 });
    const out = {};
    for (const dir of ['lm', 'lm-variants/v2_rmsnorm_sinrope_schedule_lowrank_demux', 'lm-variants/v3_layernormf32_ropeconcat_textcardout']) {
      const configText = await (await fetch(`/tests/data/${dir}/config.json`)).text();
      const weights = new Uint8Array(await (await fetch(`/tests/data/${dir}/weights.safetensors`)).arrayBuffer());
      const vectors = await (await fetch(`/tests/data/${dir}/vectors.json`)).json();
      const lm = await engine.loadLm(configText, weights);
      const choice = await selectBackend({ engine, lm, configText, backend: 'auto' });
      // Raw frames on the GPU (or the WebAssembly reference), then the engine's duplex session
      // stepped on the GPU forward (its rules in C++).
      const runFrames = async (requests) => {
        if (!choice.gpu) return referenceFrames(engine, lm, requests);
        const gpu = new GpuFrames(choice.gpu.glm);
        const results = [];
        for (const req of requests) results.push(await gpu.frame(req));
        gpu.dispose();
        return results;
      };
      const session = () => (choice.gpu ? choice.gpu.createSession('duplex', {}) : lm.createDuplexSession());
      out[dir] = {
        backend: choice.backend,
        reason: choice.reason,
        streaming: await C.lmStreaming(vectors, runFrames),
        greedy: await C.greedyGeneration(vectors, session),
      };
      choice.gpu?.dispose();
      lm.dispose();
    }
    return out;
  });
  for (const [dir, x] of Object.entries(r)) {
    if (gpuExpected(testInfo)) {
      expect(x.backend, `${dir}: ${x.reason}`).toBe('webgpu');
      expect(x.reason).toMatch(/WebGPU on .*self-test max relative difference/);
    } else {
      expect(x.backend).toBe('wasm-simd');
      expect(x.reason).toMatch(/no WebGPU adapter/);
    }
    for (const [name, d] of Object.entries(x.streaming)) {
      for (const [what, v] of Object.entries(d)) expect(v, `${dir} ${name} ${what}`).toBeLessThan(1e-3);
    }
    expect(x.greedy.text).toEqual(x.greedy.expectedText);
    expect(x.greedy.frames).toEqual(x.greedy.expectedFrames);
  }
  testInfo.annotations.push({ type: 'max diffs', description: JSON.stringify(Object.fromEntries(Object.entries(r).map(([k, x]) => [k, x.streaming]))) });
});

test('Kyutai TTS: the cross-attention forward within 1e-4 and the generation case exact through the engine\'s speaker on the GPU; real CFG stays on WebAssembly', async ({ page }, testInfo) => {
  const r = await inPage(page, async () => {
    const { createEngine } = await import('/web/src/engine.js');
    const { selectBackend } = await import('/web/src/webgpu/backend.js');
    const { GpuFrames } = await import('/web/src/webgpu/steppers.js');
    const C = await import('/tests/node/gpu-conformance.mjs');
    const engine = await createEngine({ threads: 1 });
    const get = async (name) => new Uint8Array(await (await fetch(`/tests/data/tts/${name}`)).arrayBuffer());
    const vectors = await (await fetch('/tests/data/tts/vectors.json')).json();
    const voice = await get('voice_a.safetensors');
    const tokenizer = await get('tokenizer.model');
    const out = {};
    for (const [variant, name] of [['', 'generation'], ['_nocfg', 'generation_real_cfg']]) {
      const configText = await (await fetch(`/tests/data/tts/config${variant}.json`)).text();
      const lm = await engine.loadLm(configText, await get(`weights${variant}.safetensors`));
      const choice = await selectBackend({ engine, lm, configText, backend: 'auto' });
      const options = { voice, tokenizer, cfg: 2, maxGenLength: vectors.cases[name].max_gen_length };
      const x = { backend: choice.backend, reason: choice.reason, forced: null };
      if (choice.gpu && !variant) {
        // Teacher-forced frames under a speaker's conditions (voice A, cfg "2.0", as the case).
        const speaker = await lm.createSpeaker(options);
        const frames = new GpuFrames(choice.gpu.glm, speaker.conditions());
        x.forced = (await C.ttsTeacherForced(vectors, async (requests) => {
          const results = [];
          for (const req of requests) results.push(await frames.frame(req));
          return results;
        })).teacher_forced;
        frames.dispose();
        speaker.dispose();
      }
      const speaker = choice.gpu ? await choice.gpu.createSpeaker(options) : await lm.createSpeaker(options);
      x.fallbackReason = speaker.fallbackReason ?? null;
      x.run = await C.ttsGeneration(vectors, name, speaker);
      await speaker.dispose();
      choice.gpu?.dispose();
      lm.dispose();
      out[name] = x;
    }
    // The device lost while step 9 is on the GPU: the engine's speaker redoes it on
    // WebAssembly from the state it began with (state machine included) and goes on there.
    const configText = await (await fetch('/tests/data/tts/config.json')).text();
    const lm = await engine.loadLm(configText, await get('weights.safetensors'));
    const choice = await selectBackend({ engine, lm, configText, backend: 'auto' });
    if (choice.gpu) {
      const speaker = await choice.gpu.createSpeaker({ voice, tokenizer, cfg: 2 });
      const backends = [];
      const step = speaker.step.bind(speaker);
      speaker.step = () => step().then((r) => (backends.push(r.backend), r));
      out.lost = await C.ttsGeneration(vectors, 'generation', speaker, (t) => t === 9 && choice.gpu.loseDevice());
      out.lost.perStep = backends;
      await speaker.dispose();
      choice.gpu.dispose();
    }
    lm.dispose();
    return out;
  });
  const gpu = gpuExpected(testInfo);
  const lost = r.lost;
  delete r.lost;
  for (const [name, x] of Object.entries(r)) {
    expect(x.backend, `${name}: ${x.reason}`).toBe(gpu ? 'webgpu' : 'wasm-simd');
    expect(x.run.frames, name).toEqual(x.run.expectedFrames);
    expect(x.run.words, name).toEqual(x.run.expectedWords);
  }
  if (gpu) {
    for (const [what, d] of Object.entries(r.generation.forced)) expect(d, `teacher-forced ${what}`).toBeLessThan(1e-4);
    expect(r.generation.run.backends).toEqual(['webgpu']);
    expect(r.generation.fallbackReason).toBeNull();
    expect(r.generation_real_cfg.run.backends).toEqual(['wasm-simd']);
    expect(r.generation_real_cfg.fallbackReason).toMatch(/^real CFG .* runs on WebAssembly$/);
    expect(lost.frames).toEqual(lost.expectedFrames);
    expect(lost.words).toEqual(lost.expectedWords);
    expect(lost.perStep).toEqual([...Array(9).fill('webgpu'), ...Array(lost.perStep.length - 9).fill('wasm-simd')]);
  } else {
    expect(r.generation.run.backends).toEqual([]);  // the engine's speaker: no per-step backend field
  }
  testInfo.annotations.push({ type: 'TTS teacher-forced max |diff|', description: JSON.stringify(r.generation.forced) });
});

test('bf16, q8 and q4 (both packed orders) weights: the GPU kernels agree with WebAssembly on the same packed weights', async ({ page }, testInfo) => {
  test.skip(!gpuExpected(testInfo), 'needs a WebGPU adapter');
  const r = await inPage(page, async () => {
    const { createEngine } = await import('/web/src/engine.js');
    const { selectBackend } = await import('/web/src/webgpu/backend.js');
    const { GpuFrames, referenceFrames } = await import('/web/src/webgpu/steppers.js');
    // Chromium runs the relaxed-SIMD build by default, which packs q4 in its Bytes order; the
    // plain build packs it in the Lanes order. The GPU has a kernel for each.
    const engines = { relaxed: await createEngine({ threads: 1 }), plain: await createEngine({ threads: 1, relaxedSimd: false }) };
    const configText = await (await fetch('/tests/data/lm/config.json')).text();
    const weights = new Uint8Array(await (await fetch('/tests/data/lm/weights.safetensors')).arrayBuffer());
    const vectors = await (await fetch('/tests/data/lm/vectors.json')).json();
    const c = vectors.cases[0];
    const out = { relaxedBuild: engines.relaxed.relaxedSimd };
    for (const [key, format, engine] of [['bf16', 'bf16', engines.plain], ['q8', 'q8', engines.plain], ['q4 lanes', 'q4', engines.plain], ['q4 bytes', 'q4', engines.relaxed]]) {
      const lm = await engine.loadLm(configText, weights, { format });
      const choice = await selectBackend({ engine, lm, configText, format, backend: 'webgpu' });
      const gpu = new GpuFrames(choice.gpu.glm);
      const [, K, T] = c.model_input.shape;
      const Q = c.depformer_tokens.shape[1];
      const requests = Array.from({ length: T }, (_, t) => ({
        tokens: Int32Array.from({ length: K }, (_, k) => c.model_input.data[k * T + t]),
        teacher: Int32Array.from({ length: Q }, (_, k) => c.depformer_tokens.data[k * T + t]),
        depformer: true,
        debug: true,
      }));
      const reference = referenceFrames(engine, lm, requests);
      let worst = 0;
      for (let t = 0; t < T; t++) {
        const a = await gpu.frame(requests[t]);
        const b = reference[t];
        for (const key of ['transformerOut', 'textLogits', 'depformerLogits']) {
          a[key].forEach((v, i) => (worst = Math.max(worst, Math.abs(v - b[key][i]) / (1 + Math.abs(b[key][i])))));
        }
      }
      out[key] = { worst, reason: choice.reason };
      gpu.dispose();
      choice.gpu.dispose();
      lm.dispose();
    }
    return out;
  });
  // bf16 products are exact in both, and q4 ones too: the GPU's 4-bit kernels round the
  // activations to 8 bits per block of 32 as the engine's do. q8 rounds them to 16 bits per block
  // on both, but its GPU float sums pass 2^24 and its finer rounding flips with the last bits of
  // the summation order, hence up to ~5e-4 between the two (relative to 1 + |value|).
  expect(r.relaxedBuild).toBe(true);
  delete r.relaxedBuild;
  expect(r.bf16.worst).toBeLessThan(1e-4);
  expect(r['q4 lanes'].worst).toBeLessThan(1e-5);
  expect(r['q4 bytes'].worst).toBeLessThan(1e-5);
  for (const [format, x] of Object.entries(r)) expect(x.worst, `${format}: ${x.reason}`).toBeLessThan(2e-3);
  testInfo.annotations.push({ type: 'max |gpu - wasm| / (1 + |wasm|)', description: JSON.stringify(r) });
});

test('speech to text through the public API: backend, tokens and VAD of the STT checkpoint', async ({ page }, testInfo) => {
  await openHarness(page);
  const r = await page.evaluate(async () => {
    const model = await harness.loadStt({ backend: 'auto' });
    const { frames, expected, vad } = await harness.sttVectors();
    const out = await harness.asrOnCodes(model, frames);
    let worst = 0;
    out.vad.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - vad[i]))));
    const status = await model.backendStatus();
    await model.dispose();
    return { backend: model.backend, reason: model.backendReason, status, tokens: out.tokens, expected, vad: worst, inWorker: model.inWorker };
  });
  expect(r.inWorker).toBe(true);
  if (gpuExpected(testInfo)) {
    expect(r.backend, r.reason).toBe('webgpu');
    expect(r.reason).toMatch(/^WebGPU on /);
  } else {
    expect(r.backend).toBe('wasm-simd');
    expect(r.reason).toMatch(/no WebGPU adapter \(headless Chromium needs --enable-unsafe-webgpu\)/);
  }
  expect(r.status.backend).toBe(r.backend);
  expect(r.tokens).toEqual(r.expected);
  expect(r.vad).toBeLessThan(1e-3);
});

test('threaded build on a cross-origin-isolated page: weights uploaded from a SharedArrayBuffer heap', async ({ page }, testInfo) => {
  await openHarness(page, '/coi/e2e/pages/harness.html');
  const r = await page.evaluate(async () => {
    const model = await harness.loadStt();
    const { frames, expected } = await harness.sttVectors();
    const out = await harness.asrOnCodes(model, frames);
    await model.dispose();
    return { isolated: crossOriginIsolated, threaded: model.engine.threaded, backend: model.backend, reason: model.backendReason, tokens: out.tokens, expected };
  });
  expect(r.isolated).toBe(true);
  expect(r.threaded).toBe(true);
  expect(r.backend, r.reason).toBe(gpuExpected(testInfo) ? 'webgpu' : 'wasm-simd-threads');
  expect(r.tokens).toEqual(r.expected);
});

test('greedy generation through a full-duplex session of the public API', async ({ page }, testInfo) => {
  await openHarness(page);
  const r = await page.evaluate(async () => {
    const base = new URL('../../tests/data/lm/', location.href);
    const model = await harness.kyutai.loadModel({ config: new URL('config.json', base), weights: new URL('weights.safetensors', base) });
    const g = (await (await fetch(new URL('vectors.json', base))).json()).greedy_generation;
    const [, U, T] = g.user_codes.shape;
    const session = await model.createDuplexSession();
    const text = [];
    const frames = [];
    const backends = new Set();
    for (let t = 0; t < T; t++) {
      const s = await session.pushFrame(Int32Array.from({ length: U }, (_, u) => g.user_codes.data[u * T + t]));
      text.push(s.textToken);
      if (s.audio) frames.push([s.frameText, ...s.audio]);
      if (s.backend) backends.add(s.backend);
    }
    await model.dispose();
    const [, rows, n] = g.step_outputs.shape;
    const expectedFrames = Array.from({ length: n }, (_, i) => Array.from({ length: rows }, (_, k) => g.step_outputs.data[k * n + i]));
    return { backend: model.backend, text, expectedText: g.sampled_text.data, frames, expectedFrames, backends: [...backends] };
  });
  expect(r.backend).toBe(gpuExpected(testInfo) ? 'webgpu' : 'wasm-simd');
  expect(r.backends).toEqual(gpuExpected(testInfo) ? ['webgpu'] : []);
  expect(r.text).toEqual(r.expectedText);
  expect(r.frames).toEqual(r.expectedFrames);
});

test('a device lost mid-session: the session continues on WebAssembly with identical results', async ({ page }, testInfo) => {
  test.skip(!gpuExpected(testInfo), 'needs a WebGPU adapter');
  await openHarness(page);
  const r = await page.evaluate(async () => {
    const { frames } = await harness.sttVectors();
    // Uninterrupted, on the GPU.
    const a = await harness.loadStt();
    const clean = await harness.asrOnCodes(a, frames);
    await a.dispose();
    // The same frames; the device is destroyed while frame 10 is in flight.
    const model = await harness.loadStt();
    const session = await model.createAsrSession();
    const steps = [];
    for (let f = 0; f < frames.length; f++) {
      if (f === 10) {
        const pending = session.pushFrame(frames[f]);
        await model.simulateDeviceLoss();
        steps.push(await pending);
      } else {
        steps.push(await session.pushFrame(frames[f]));
      }
    }
    const status = await model.backendStatus();
    const after = await model.createAsrSession();  // new sessions start on WebAssembly
    const first = await after.pushFrame(frames[0]);
    await model.dispose();

    // A model with a Depformer: greedy generation, device destroyed between frames 7 and 8.
    const base = new URL('../../tests/data/lm/', location.href);
    const g = (await (await fetch(new URL('vectors.json', base))).json()).greedy_generation;
    const [, U, T] = g.user_codes.shape;
    const user = (t) => Int32Array.from({ length: U }, (_, u) => g.user_codes.data[u * T + t]);
    const gen = async (loseAt) => {
      const m = await harness.kyutai.loadModel({ config: new URL('config.json', base), weights: new URL('weights.safetensors', base) });
      const s = await m.createDuplexSession();
      const out = [];
      for (let t = 0; t < T; t++) {
        if (t === loseAt) await m.simulateDeviceLoss();
        const x = await s.pushFrame(user(t));
        out.push({ text: x.textToken, audio: x.audio && Array.from(x.audio), backend: x.backend });
      }
      await m.dispose();
      return out;
    };
    const genClean = await gen(-1);
    const genLost = await gen(8);
    return {
      clean, tokens: steps.map((s) => s.textToken), vad: steps.flatMap((s) => Array.from(s.vad)), backends: steps.map((s) => s.backend),
      status, firstAfter: first.backend, genClean, genLost,
    };
  });
  expect(r.backends.slice(0, 10)).toEqual(Array(10).fill('webgpu'));
  expect(r.backends.slice(10)).toEqual(Array(r.backends.length - 10).fill('wasm-simd'));
  expect(r.tokens).toEqual(r.clean.tokens);
  let worst = 0;
  r.vad.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - r.clean.vad[i]))));
  expect(worst).toBeLessThan(1e-3);
  expect(r.status.backend).toBe('wasm-simd');
  expect(r.status.backendReason).toMatch(/fell back to WebAssembly: .*(lost|destroyed)/i);
  expect(r.firstAfter).toBeUndefined();  // an engine (C++) session: no per-frame backend field
  expect(r.genLost.map((x) => x.backend)).toEqual([...Array(8).fill('webgpu'), ...Array(r.genLost.length - 8).fill('wasm-simd')]);
  expect(r.genLost.map(({ text, audio }) => ({ text, audio }))).toEqual(r.genClean.map(({ text, audio }) => ({ text, audio })));
});

test('temperature sampling: the GPU path draws the same tokens as WebAssembly, also across a device lost mid-frame', async ({ page }, testInfo) => {
  await openHarness(page);
  const r = await page.evaluate(async (withGpu) => {
    const base = new URL('../../tests/data/lm/', location.href);
    const load = (backend) => harness.kyutai.loadModel({ config: new URL('config.json', base), weights: new URL('weights.safetensors', base), backend });
    const options = { sampling: true, seed: 1234, temperature: 1.3, textTemperature: 1.2, topK: 12, textTopK: 30 };
    const user = (t) => Int32Array.from({ length: 8 }, (_, k) => (t * 5 + k * 11) % 32);
    const texts = [5, 9, 3, 3, -1, 17, 0, 3, 40, 3];
    const run = async (model, loseAt = -1) => {
      const duplex = await model.createDuplexSession(options);
      const tts = await model.createTtsSession(options);
      const asr = await model.createAsrSession({ temperature: 0.9, seed: 5 });
      const out = { duplex: [], tts: [], asr: [], backends: new Set() };
      for (let t = 0; t < 10; t++) {
        if (t === loseAt) {
          const pending = duplex.pushFrame(user(t));  // in flight when the device goes
          await model.simulateDeviceLoss();
          const x = await pending;
          out.duplex.push([x.textToken, x.audio && Array.from(x.audio), x.backend]);
        } else {
          const x = await duplex.pushFrame(user(t));
          out.duplex.push([x.textToken, x.audio && Array.from(x.audio), x.backend]);
        }
        const y = await tts.pushText(texts[t]);
        out.tts.push([y.textToken, y.audio && Array.from(y.audio)]);
        const z = await asr.pushFrame(Int32Array.from({ length: 16 }, (_, k) => (t * 3 + k * 7) % 32));
        out.asr.push(z.textToken);
      }
      await model.dispose();
      return out;
    };
    const wasm = await run(await load('wasm'));
    const gpu = await run(await load('auto'));
    const lost = withGpu ? await run(await load('auto'), 6) : null;
    const strip = (o) => ({ duplex: o.duplex.map(([a, b]) => [a, b]), tts: o.tts, asr: o.asr });
    return { wasm: strip(wasm), gpu: strip(gpu), lost: lost && strip(lost), lostBackends: lost?.duplex.map((x) => x[2]), gpuBackends: gpu.duplex.map((x) => x[2]) };
  }, gpuExpected(testInfo));
  expect(new Set(r.wasm.duplex.map((x) => x[0])).size).toBeGreaterThan(2);  // it does sample
  expect(r.gpu).toEqual(r.wasm);
  if (gpuExpected(testInfo)) {
    expect(r.gpuBackends).toEqual(Array(10).fill('webgpu'));
    expect(r.lostBackends).toEqual([...Array(6).fill('webgpu'), ...Array(4).fill('wasm-simd')]);
    expect(r.lost).toEqual(r.wasm);
  } else {
    expect(r.gpuBackends).toEqual(Array(10).fill(undefined));  // engine sessions
  }
});

test('full duplex with Mimi: the engine pipeline on the GPU forward gives the WebAssembly audio, also across a device loss', async ({ page }, testInfo) => {
  await openHarness(page);
  const r = await page.evaluate(async () => {
    const base = new URL('../../tests/data/', location.href);
    const load = (backend) => harness.kyutai.loadModel({
      config: new URL('lm/config.json', base), weights: new URL('lm/weights.safetensors', base), backend,
      frameTokenizer: { type: 'mimi', config: new URL('mimi/config.json', base), weights: new URL('mimi/weights.safetensors', base) },
    });
    const frame = (t) => Float32Array.from({ length: 1920 }, (_, i) => 0.3 * Math.sin(0.01 * (i + t * 1920)) * Math.sin(0.0007 * (i + t * 1920)));
    const run = async (model, loseAt = -1) => {
      const duplex = await model.createDuplexSession({ sampling: true, seed: 77 });
      const out = [];
      for (let t = 0; t < 8; t++) {
        if (t === loseAt) await model.simulateDeviceLoss();
        const x = await duplex.pushAudio(frame(t));
        out.push({ text: x.textToken, codes: Array.from(x.codes), audio: x.audio && Array.from(x.audio), pcm: x.pcm && Array.from(x.pcm), backend: x.backend });
      }
      await model.dispose();
      return out;
    };
    const gpuModel = await load('auto');
    const onGpu = gpuModel.backend === 'webgpu';
    return { onGpu, wasm: await run(await load('wasm')), gpu: await run(gpuModel), lost: onGpu ? await run(await load('auto'), 5) : null };
  });
  const strip = (xs) => xs.map((x) => ({ ...x, backend: undefined }));  // the same results, whichever backend ran them
  expect(r.onGpu).toBe(gpuExpected(testInfo));
  expect(r.wasm.filter((x) => x.pcm).length).toBeGreaterThan(4);
  expect(strip(r.gpu)).toEqual(strip(r.wasm));
  if (r.onGpu) {
    expect(r.gpu.map((x) => x.backend)).toEqual(Array(8).fill('webgpu'));
    expect(r.lost.map((x) => x.backend)).toEqual([...Array(5).fill('webgpu'), ...Array(3).fill('wasm-simd')]);
    expect(strip(r.lost)).toEqual(strip(r.wasm));
  }
});

test('unsupported architecture options keep the model on WebAssembly and name the option', async ({ page }, testInfo) => {
  await openHarness(page);
  const r = await page.evaluate(async () => {
    const base = new URL('../../tests/data/lm-variants/v1_layernorm_sin_plainffn/', location.href);
    const opts = { config: new URL('config.json', base), weights: new URL('weights.safetensors', base) };
    const model = await harness.kyutai.loadModel({ ...opts, backend: 'auto' });
    const auto = { backend: model.backend, reason: model.backendReason };
    await model.dispose();
    let forced = null;
    try {
      await (await harness.kyutai.loadModel({ ...opts, backend: 'webgpu' })).dispose();
    } catch (e) {
      forced = { code: e.code, message: e.message };
    }
    const w = await harness.loadStt({ backend: 'wasm' });
    const wasm = { backend: w.backend, reason: w.backendReason };
    await w.dispose();
    let bad = null;
    try {
      await harness.loadStt({ backend: 'gpu' });
    } catch (e) {
      bad = { code: e.code, message: e.message };
    }
    return { auto, forced, wasm, bad };
  });
  expect(r.auto.backend).toBe('wasm-simd');
  expect(r.auto.reason).toMatch(gpuExpected(testInfo) ? /unsupported architecture option: norm_emb/ : /no WebGPU adapter/);
  expect(r.forced?.code).toBe('UNSUPPORTED');
  expect(r.forced.message).toMatch(gpuExpected(testInfo) ? /not usable: unsupported architecture option: norm_emb/ : /not usable: no WebGPU adapter/);
  expect(r.wasm).toEqual({ backend: 'wasm-simd', reason: "backend 'wasm' was requested" });
  expect(r.bad).toEqual({ code: 'INVALID_ARGUMENT', message: 'backend: expected one of auto, webgpu, wasm, got "gpu"' });
});
