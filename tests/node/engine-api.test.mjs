// The documented low-level API (`kyutai-wasm/engine`, web/src/lm.js; types in
// web/types/engine.d.ts): the README's example run as written, then forward, forwardAsr and
// the stepper checked for shapes and values against Kyutai's conformance vectors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { read, vectors } from './data.mjs';
import { createEngine } from '../../web/src/engine.js';
import { KyutaiError } from '../../web/src/errors.js';

const engine = await createEngine();
const load = (dir) => engine.loadLm(read(`${dir}/config.json`).toString(), read(`${dir}/weights.safetensors`));

function assertClose(actual, expected, what, tolerance = 1e-4) {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < actual.length; i++) {
    if (expected[i] === null) assert.ok(Number.isNaN(actual[i]), `${what}[${i}] should be NaN`);
    else assert.ok(Math.abs(actual[i] - expected[i]) < tolerance, `${what}[${i}]: ${actual[i]} vs ${expected[i]}`);
  }
}

// The README's example: a teacher-forced forward pass on pre-delay codes, then the same
// frames streamed through a stepper, which takes post-delay tokens as LMModel.forward builds
// them (initial tokens first, each stream shifted by its delay).
function readmeExample(model, codes, T) {
  const { nQ, depQ, delays, textCard, card } = model.config;
  const K = 1 + nQ;                                                     // text stream first, then nQ audio codebooks
  const { textLogits, audioLogits } = model.forward(codes, [1, K, T]);  // {data: Float32Array, shape} each
  const stepper = model.createStepper();
  const tokensAt = (t) => Int32Array.from({ length: K }, (_, k) => {  // step t reads frame t - 1 - delay
    const s = t - 1 - delays[k];
    return s < 0 ? (k === 0 ? textCard : card) : codes[k * T + s];  // initial tokens before a stream starts
  });
  const steps = [];
  for (let t = 0; t < T; t++) {
    const tokens = tokensAt(t);
    const step = stepper.step(tokens);                                  // {textLogits: [textCardOut], transformerOut: [dim]}
    const audio = [];
    for (let k = 0; k < depQ; k++) audio.push(stepper.depformerStep(k, tokens[k]));  // forced inputs -> [card] logits
    steps.push({ textLogits: step.textLogits, audio });
  }
  stepper.dispose();
  return { textLogits, audioLogits, steps };
}

test('README example: shapes, and forward agrees with Kyutai and with the stepper', async () => {
  const model = await load('lm');
  const c = vectors('lm').cases.find((x) => x.name === 'basic_T12');
  const [, K, T] = c.codes.shape;
  const { textLogits, audioLogits, steps } = readmeExample(model, Int32Array.from(c.codes.data), T);
  const { textCardOut, depQ, card } = model.config;
  assert.equal(K, 1 + model.config.nQ);
  assert.deepEqual(textLogits.shape, [1, 1, T, textCardOut]);
  assert.deepEqual(audioLogits.shape, [1, depQ, T, card]);
  assert.deepEqual(audioLogits.shape, c.audio_logits.shape);
  assertClose(textLogits.data, c.text_logits.data, 'text logits');
  assertClose(audioLogits.data, c.audio_logits.data, 'audio logits');
  // Streaming the delayed tokens gives the forward pass's text logits, step by step.
  assert.equal(steps.length, T);
  for (let t = 0; t < T; t++) {
    assert.deepEqual(steps[t].textLogits.shape, [textCardOut]);
    assertClose(steps[t].textLogits.data, textLogits.data.slice(t * textCardOut, (t + 1) * textCardOut), `step ${t}`);
    assert.equal(steps[t].audio.length, depQ);
    assert.deepEqual(steps[t].audio[0].shape, [card]);
  }
  model.dispose();
});

test('the stepper reproduces Kyutai LMGen step by step with teacher forcing (text and Depformer logits)', async () => {
  const model = await load('lm');
  const g = vectors('lm').greedy_generation;
  const [, K, T] = g.model_input.shape;
  const { textCardOut, depQ, card } = model.config;
  const stepper = model.createStepper();
  for (let t = 0; t < T; t++) {
    const tokens = Int32Array.from({ length: K }, (_, k) => g.model_input.data[k * T + t]);
    const { textLogits, transformerOut } = stepper.step(tokens);
    assert.deepEqual(textLogits.shape, [textCardOut]);
    assert.deepEqual(transformerOut.shape, [model.config.dim]);
    assertClose(textLogits.data, g.text_logits.data.slice(t * textCardOut, (t + 1) * textCardOut), `text logits at ${t}`);
    for (let k = 0; k < depQ; k++) {
      const logits = stepper.depformerStep(k, g.depformer_input_tokens.data[t * depQ + k]);
      assert.deepEqual(logits.shape, [card]);
      const at = (t * depQ + k) * card;
      assertClose(logits.data, g.depformer_logits.data.slice(at, at + card), `depformer logits ${k} at ${t}`);
    }
  }
  assert.equal(stepper.position, T);
  stepper.reset();
  assert.equal(stepper.position, 0);
  assert.throws(() => stepper.depformerStep(0, 1), (e) => e instanceof KyutaiError && e.code === 'INVALID_STATE' && /step first/.test(e.message));
  stepper.step(Int32Array.from({ length: K }, (_, k) => g.model_input.data[k * T]));
  assert.throws(() => stepper.depformerStep(depQ, 0), (e) => e.code === 'INVALID_ARGUMENT' && /\[0, 7\]/.test(e.message));
  assert.throws(() => stepper.step(new Int32Array(3)), (e) => e.code === 'INVALID_ARGUMENT' && /expected 17 tokens, got 3/.test(e.message));
  model.dispose();
  assert.throws(() => stepper.step(new Int32Array(K)), (e) => e.code === 'INVALID_STATE');  // went with its model
});

test('forwardAsr: post-delay streams, any absent, with shapes; matches Kyutai ASR steps and extra heads', async () => {
  const model = await load('stt');
  const run = vectors('stt').asr_streaming;
  const [K, T] = run.model_input.shape;
  const stream = (k) => Int32Array.from(run.model_input.data.slice(k * T, (k + 1) * T));
  const { dim, textCardOut, extraHeads, extraHeadsDim } = model.config;
  const r = model.forwardAsr({ text: stream(0), audio: Array.from({ length: K - 1 }, (_, k) => stream(k + 1)) });
  assert.deepEqual(r.textLogits.shape, [1, 1, T, textCardOut]);
  assert.deepEqual(r.transformerOut.shape, [1, T, dim]);
  assert.deepEqual(r.embeddingSum.shape, [1, T, dim]);
  assert.deepEqual(r.extraHeads.shape, [extraHeads, 1, T, extraHeadsDim]);
  // The streaming run attends over a window of `context` steps: the whole-sequence forward
  // equals it while t < context.
  const n = Math.min(T, model.config.context);
  assertClose(r.textLogits.data.slice(0, n * textCardOut), run.text_logits.data.slice(0, n * textCardOut), 'text logits');
  assertClose(r.transformerOut.data.slice(0, n * dim), run.transformer_out.data.slice(0, n * dim), 'transformer out');
  for (let h = 0; h < extraHeads; h++) {
    for (let t = 0; t < n; t++) {
      const got = r.extraHeads.data.slice((h * T + t) * extraHeadsDim, (h * T + t + 1) * extraHeadsDim);
      const want = run.extra_heads_probs.data.slice((t * extraHeads + h) * extraHeadsDim, (t * extraHeads + h + 1) * extraHeadsDim);
      assertClose(got, want, `head ${h} at ${t}`);
    }
  }
  // Absent streams (Kyutai's None): text only, or audio with some codebooks missing.
  const textOnly = model.forwardAsr({ text: stream(0) });
  assert.deepEqual(textOnly.textLogits.shape, [1, 1, T, textCardOut]);
  const partial = model.forwardAsr({ audio: [stream(1), null, ...Array.from({ length: K - 3 }, (_, k) => stream(k + 3))] });
  assert.deepEqual(partial.transformerOut.shape, [1, T, dim]);
  assert.notDeepEqual(partial.textLogits.data, r.textLogits.data);
  const sum = model.embeddingSum({ text: stream(0) });
  assert.deepEqual(sum.shape, [1, T, dim]);
  assert.equal(sum.data, sum.values);
  model.dispose();
});

test('forward refuses codes whose shape is not [B, 1 + nQ, T] with a clear error', async () => {
  const model = await load('lm');
  const bad = (e) => e instanceof KyutaiError && e.code === 'INVALID_ARGUMENT' && /shape must be \[B >= 1, 17 \(text \+ 16 audio codebooks\), T\]/.test(e.message);
  assert.throws(() => model.forward(new Int32Array(16 * 4), [1, 16, 4]), bad);
  assert.throws(() => model.forward(new Int32Array(17 * 4), [1, 17, 5]), bad);
  assert.throws(() => model.forward(new Int32Array(17 * 4)), bad);
  assert.throws(() => model.forward(new Float32Array(17), [1, 17, 1]), (e) => e.code === 'INVALID_ARGUMENT' && /Int32Array/.test(e.message));
  // Two batch items: each gives what it gives alone.
  const c = vectors('lm').cases[0];
  const [, K, T] = c.codes.shape;
  const one = Int32Array.from(c.codes.data);
  const two = new Int32Array(2 * K * T);
  two.set(one, 0);
  two.set(one, K * T);
  const r = model.forward(two, [2, K, T]);
  assert.deepEqual(r.textLogits.shape, [2, 1, T, model.config.textCardOut]);
  const half = r.textLogits.data.length / 2;
  assertClose(r.textLogits.data.slice(half), c.text_logits.data, 'second batch item');
  model.dispose();
});
