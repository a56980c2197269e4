// The TTS speaker through the engine API (model.createSpeaker): Kyutai's generations of
// tests/data/tts (frames and word timings exact), text streamed in pieces, Mimi PCM through
// speak(), and bad input refused with a KyutaiError code.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { read, vectors } from './data.mjs';
import { createEngine } from '../../web/src/engine.js';
import { KyutaiError } from '../../web/src/errors.js';

const engine = await createEngine();
const text = (p) => read(p).toString();
const loadTts = (variant = '') => engine.loadLm(text(`tts/config${variant}.json`), read(`tts/weights${variant}.safetensors`));
const voice = read('tts/voice_a.safetensors');
const tokenizer = read('tts/tokenizer.model');
const cases = vectors('tts').cases;

// Every step's frame and words until the speaker stops or waits for text.
function drain(speaker, run = { frames: [], words: [] }) {
  while (speaker.running && speaker.ready) {
    const r = speaker.step();
    if (r.frame) run.frames.push(Array.from(r.frame));
    run.words.push(...r.words);
  }
  return run;
}

function assertKyutaiGeneration(run, c) {
  const { data, shape } = c.frames;
  const [rows, n] = shape;
  assert.equal(run.frames.length, n);
  for (let i = 0; i < n; i++) {
    assert.deepEqual(run.frames[i], Array.from({ length: rows }, (_, k) => data[k * n + i]), `frame ${i}`);
  }
  assert.deepEqual(run.words.map((w) => [w.text, w.step]), c.transcript);
  for (const w of run.words) assert.equal(w.time, w.step / 12.5);
}

test('createSpeaker: the generation case gives Kyutai\'s frames and word timings', async () => {
  const model = await loadTts();
  const speaker = await model.createSpeaker({ voice, tokenizer, cfg: 2 });
  speaker.pushText(cases.generation.script[0]);
  speaker.end();
  assertKyutaiGeneration(drain(speaker), cases.generation);
  assert.equal(speaker.running, false);
  model.dispose();
});

test('createSpeaker: real CFG on the model without the cfg LUT', async () => {
  const model = await loadTts('_nocfg');
  const speaker = await model.createSpeaker({ voice, tokenizer, cfg: 2, maxGenLength: cases.generation_real_cfg.max_gen_length });
  speaker.pushText(cases.generation_real_cfg.script[0]);
  speaker.end();
  assertKyutaiGeneration(drain(speaker), cases.generation_real_cfg);
  model.dispose();
});

test('pushText word by word gives the same generation as the whole script', async () => {
  const model = await loadTts();
  const speaker = await model.createSpeaker({ voice, tokenizer, cfg: 2 });
  const run = { frames: [], words: [] };
  for (const piece of ['Hel', 'lo ', 'world, ', 'th', 'is ', 'is']) {
    speaker.pushText(piece);
    drain(speaker, run);
  }
  speaker.end();
  drain(speaker, run);
  assertKyutaiGeneration(run, cases.generation);
  model.dispose();
});

test('speak() yields Mimi PCM past the delay steps and the words', async () => {
  const model = await loadTts();
  const mimi = await engine.loadMimi(text('mimi/config.json'), read('mimi/weights.safetensors'));
  const speaker = await model.createSpeaker({ voice, tokenizer, mimi, cfg: 2 });
  let samples = 0;
  const words = [];
  for await (const chunk of speaker.speak(cases.generation.script[0])) {
    if (chunk.pcm) {
      assert.equal(chunk.pcm.length, speaker.frameSize);
      samples += chunk.pcm.length;
    }
    words.push(...chunk.words.map((w) => w.text));
  }
  assert.equal(samples, (cases.generation.num_frames - speaker.delaySteps) * speaker.frameSize);
  assert.deepEqual(words, cases.generation.transcript.map(([w]) => w));
  model.dispose();
  mimi.dispose();
});

test('bad speaker input is refused with a code', async () => {
  const model = await loadTts();
  const refuses = async (make, code) => assert.rejects(make, (e) => e instanceof KyutaiError && e.code === code);
  await refuses(() => model.createSpeaker({ tokenizer }), 'INVALID_ARGUMENT');
  await refuses(() => model.createSpeaker({ voice }), 'INVALID_ARGUMENT');
  await refuses(() => model.createSpeaker({ voice, tokenizer, cfg: 2.2 }), 'INVALID_ARGUMENT');
  await refuses(() => model.createSpeaker({ voice: new Uint8Array(10), tokenizer }), 'INVALID_CHECKPOINT');
  const speaker = await model.createSpeaker({ voice, tokenizer });
  assert.throws(() => speaker.step(), (e) => e.code === 'INVALID_STATE');
  assert.throws(() => speaker.pushText(3), (e) => e.code === 'INVALID_ARGUMENT');
  speaker.end();
  assert.throws(() => speaker.pushText('more'), (e) => e.code === 'INVALID_STATE');
  model.dispose();
});
