// The relaxed-SIMD build (dist/kyutai-relaxed.*): picked only where the JavaScript engine
// validates relaxed SIMD, and giving exactly the plain build's results. Node 20 runs relaxed
// SIMD only behind --experimental-wasm-relaxed-simd, so the comparison runs in a child process
// with that flag (the C++ kernel itself is tested by the relaxed twin of the GoogleTest suite).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createEngine, relaxedSimdAvailable } from '../../web/src/engine.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

test('the default engine is the relaxed-SIMD build exactly where relaxed SIMD validates', async () => {
  const engine = await createEngine();
  assert.equal(engine.relaxedSimd, relaxedSimdAvailable());
  const plain = await createEngine({ relaxedSimd: false });
  assert.equal(plain.relaxedSimd, false);
});

test('with relaxed SIMD enabled, q4 and q8 models give the plain build\'s ASR tokens', () => {
  const script = `
    import fs from 'node:fs';
    import { loadModel } from './web/src/index.js';
    import { relaxedSimdAvailable } from './web/src/engine.js';
    const run = JSON.parse(fs.readFileSync('tests/data/stt/vectors.json')).asr_streaming_first_frame_twice;
    const [, Q, F] = run.audio_codes.shape;
    const frames = [];
    for (let f = 0; f <= F; f++) frames.push(Int32Array.from({ length: Q }, (_, q) => (f < F ? run.audio_codes.data[q * F + f] : 0)));
    const out = { available: relaxedSimdAvailable() };
    for (const format of ['q4', 'q8'])
      for (const relaxedSimd of [true, false]) {
        const model = await loadModel({ config: 'tests/data/stt/config.json', weights: 'tests/data/stt/weights.safetensors', format, relaxedSimd });
        const session = await model.createAsrSession();
        const tokens = [];
        for (const frame of frames) tokens.push((await session.pushFrame(frame)).textToken);
        out[format + (relaxedSimd ? '-relaxed' : '-plain')] = { relaxed: model.engine.relaxedSimd, tokens };
        await session.dispose();
        await model.dispose();
      }
    console.log(JSON.stringify(out));`;
  const stdout = execFileSync(process.execPath, ['--experimental-wasm-relaxed-simd', '--no-experimental-fetch', '--input-type=module', '-e', script],
    { cwd: root, encoding: 'utf8' });
  const out = JSON.parse(stdout.trim().split('\n').pop());
  assert.equal(out.available, true);
  for (const format of ['q4', 'q8']) {
    const relaxed = out[`${format}-relaxed`], plain = out[`${format}-plain`];
    assert.equal(relaxed.relaxed, true, `${format}: the relaxed build ran`);
    assert.equal(plain.relaxed, false, `${format}: the plain build ran`);
    assert.ok(relaxed.tokens.length > 10);
    assert.deepEqual(relaxed.tokens, plain.tokens, `${format}: same tokens`);
  }
});
