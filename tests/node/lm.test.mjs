// The built WebAssembly module under Node, through the package's engine layer, against the
// same conformance vectors the C++ tests use.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { read, vectors } from './data.mjs';
import { createEngine } from '../../web/src/engine.js';
import { KyutaiError } from '../../web/src/errors.js';

const engine = await createEngine();

async function load(dir, options) {
  return engine.loadLm(read(`${dir}/config.json`).toString(), read(`${dir}/weights.safetensors`), options);
}

function maxAbsDiff(actual, expected) {
  assert.equal(actual.length, expected.length, 'length');
  let m = 0;
  for (let i = 0; i < actual.length; i++) {
    const e = expected[i];
    if (e === null) {
      assert.ok(Number.isNaN(actual[i]), `index ${i} should be NaN`);
      continue;
    }
    m = Math.max(m, Math.abs(actual[i] - e));
  }
  return m;
}

// [1, K, T] codes -> {text, audio}
function streams(tensor) {
  const [, K, T] = tensor.shape;
  const row = (k) => Int32Array.from(tensor.data.slice(k * T, (k + 1) * T));
  return { text: row(0), audio: Array.from({ length: K - 1 }, (_, k) => row(k + 1)) };
}

const checkpoints = ['lm', 'lm-variants/v1_layernorm_sin_plainffn', 'lm-variants/v2_rmsnorm_sinrope_schedule_lowrank_demux',
  'lm-variants/v3_layernormf32_ropeconcat_textcardout'];

test('embedding sum matches Kyutai (conformance, every case)', async () => {
  for (const dir of checkpoints) {
    const model = await load(dir);
    for (const c of vectors(dir).cases) {
      const r = model.embeddingSum(streams(c.model_input));
      assert.deepEqual(r.shape, c.embedding_sum.shape);
      assert.ok(maxAbsDiff(r.values, c.embedding_sum.data) < 1e-5, `${dir} ${c.name}`);
    }
    model.dispose();
  }
});

test('forward matches Kyutai: text logits, audio logits, LMOutput with NaN and mask', async () => {
  for (const dir of checkpoints) {
    const model = await load(dir);
    for (const c of vectors(dir).cases) {
      const r = model.forward(Int32Array.from(c.codes.data), c.codes.shape);
      for (const [name, expected] of [['transformerOut', c.transformer_out], ['textLogits', c.text_logits],
        ['audioLogits', c.audio_logits], ['logits', c.lm_forward.logits], ['mask', c.lm_forward.mask], ['textMask', c.lm_forward.text_mask]]) {
        assert.deepEqual(r[name].shape, expected.shape, `${dir} ${c.name} ${name} shape`);
      }
      assert.ok(maxAbsDiff(r.transformerOut.data, c.transformer_out.data) < 1e-4);
      assert.ok(maxAbsDiff(r.textLogits.data, c.text_logits.data) < 1e-4);
      assert.ok(maxAbsDiff(r.audioLogits.data, c.audio_logits.data) < 1e-4);
      assert.ok(maxAbsDiff(r.logits.data, c.lm_forward.logits.data) < 1e-4);
      assert.deepEqual(Array.from(r.mask.data, Boolean), c.lm_forward.mask.data);
    }
    model.dispose();
  }
});

test('greedy generation reproduces Kyutai token for token', async () => {
  for (const dir of checkpoints) {
    const model = await load(dir);
    const g = vectors(dir).greedy_generation;
    const [, U, T] = g.user_codes.shape;
    const gen = model.createGenerator();
    for (let t = 0; t < T; t++) {
      const user = Int32Array.from({ length: U }, (_, u) => g.user_codes.data[u * T + t]);
      const s = gen.step(user);
      assert.equal(s.textToken, g.sampled_text.data[t], `${dir} text at ${t}`);
      const Q = model.config.depQ;
      for (let k = 0; k < Q; k++) assert.equal(s.audioTokens[k], g.sampled_audio.data[k * T + t], `${dir} audio ${k} at ${t}`);
    }
    model.dispose();
  }
});

test('ASR session follows Kyutai Rust alignment on the STT checkpoint', async () => {
  const model = await load('stt');
  const run = vectors('stt').asr_streaming_first_frame_twice;
  const [, Q, F] = run.audio_codes.shape;
  const session = model.createAsrSession();
  for (let f = 0; f <= F; f++) {
    const frame = Int32Array.from({ length: Q }, (_, q) => (f < F ? run.audio_codes.data[q * F + f] : 0));
    const s = session.pushFrame(frame);
    assert.equal(s.textToken, run.text_token.data[f], `call ${f}`);
    assert.ok(maxAbsDiff(s.vad, run.extra_heads_probs.data.slice(f * 24, (f + 1) * 24)) < 1e-4);
  }
  model.dispose();
});

test('errors are KyutaiError with the engine message, and the model stays usable', async () => {
  const model = await load('lm');
  assert.throws(() => model.embeddingSum({ text: new Float32Array([1, 2]) }),
    (e) => e instanceof KyutaiError && e.code === 'INVALID_ARGUMENT' && /expected an Int32Array/.test(e.message));
  assert.throws(() => model.embeddingSum({ audio: Array.from({ length: 16 }, () => new Int32Array([40])) }),
    /audio codebook 0: token 40 at batch 0, position 0 is out of range: expected -1 or 0\.\.32/);
  assert.throws(() => model.embeddingSum({ audio: [new Int32Array([1])] }), /expected 16 audio codebooks \(or none\), got 1/);
  assert.throws(() => model.embeddingSum({}), /neither text nor audio tokens were given/);
  const session = model.createDuplexSession();
  assert.throws(() => session.pushFrame(new Int32Array(7)), /expected 8 codebooks/);
  const ok = model.embeddingSum({ text: new Int32Array([1, 2, 3]) });
  assert.deepEqual(ok.shape, [1, 3, 64]);
  assert.equal(session.pushFrame(new Int32Array(8)).step, 1);
  model.dispose();
  assert.throws(() => model.embeddingSum({ text: new Int32Array([1]) }), /disposed/);
});

test('a failed load throws and leaves nothing behind', async () => {
  const broken = read('lm/weights.safetensors').subarray(0, 5000);
  await assert.rejects(load('lm', undefined).then(() => engine.loadLm(read('lm/config.json').toString(), broken)),
    (e) => e instanceof KyutaiError && /stream ended|inside tensor/.test(e.message));
});
