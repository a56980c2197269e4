// Voices through the engine API: MimiCodec.encodeToLatent gives Kyutai's un-quantized latent
// (tests/data/mimi) and, with `seconds`, a voice as Kyutai's voice script makes one; a latent
// drives model.createSpeaker as its voiceFile bytes do; the speaker shares a loaded Tokenizer;
// bad input is refused with a KyutaiError code.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { read, vectors } from './data.mjs';
import { createEngine } from '../../web/src/engine.js';
import { KyutaiError } from '../../web/src/errors.js';

const engine = await createEngine();
const text = (p) => read(p).toString();
const mimi = await engine.loadMimi(text('mimi/config.json'), read('mimi/weights.safetensors'));
const loadTts = () => engine.loadLm(text('tts/config.json'), read('tts/weights.safetensors'));
const tokenizerBytes = read('tts/tokenizer.model');
const voiceA = new Uint8Array(read('tts/voice_a.safetensors'));
const M = vectors('mimi');
const wav = Float32Array.from(M.input_wav.data);  // 0.5 s
const kyutaiLatent = M.intermediates.latent_12_5hz;  // [1, 32, 7]

function maxAbsDiff(a, b) {
  assert.equal(a.length, b.length, 'length');
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

// The recording padded with silence to `samples`.
function recording(samples) {
  const pcm = new Float32Array(samples);
  pcm.set(wav);
  return pcm;
}

const refuses = (call, code) => assert.throws(call, (e) => e instanceof KyutaiError && e.code === code);

// Every frame and word of a speaker saying `script`.
function speakAll(speaker, script) {
  speaker.pushText(script);
  speaker.end();
  const frames = [];
  const words = [];
  while (speaker.running) {
    const r = speaker.step();
    if (r.frame) frames.push(Array.from(r.frame));
    words.push(...r.words.map((w) => w.text));
  }
  return { frames, words };
}

test('encodeToLatent gives Kyutai\'s latent before quantization, [1, C, T]', () => {
  const latent = mimi.encodeToLatent(wav);
  assert.deepEqual(latent.shape, kyutaiLatent.shape);
  assert.ok(latent.data instanceof Float32Array);
  assert.ok(maxAbsDiff(latent.data, kyutaiLatent.data) < 1e-4);
  assert.deepEqual(mimi.encodeToLatent(wav, { sampleRate: 24000 }).data, latent.data);
});

test('with seconds, the recording is cut or zero-padded first, as Kyutai\'s voice script', () => {
  const voice = mimi.encodeToLatent(recording(24000), { seconds: 10 });
  assert.deepEqual(voice.shape, [1, 32, 125]);
  assert.deepEqual(voice.data, mimi.encodeToLatent(recording(240000)).data);
  const cut = recording(48000);
  cut[30000] = 0.5;  // past one second: dropped
  assert.deepEqual(mimi.encodeToLatent(cut, { seconds: 1 }).data, mimi.encodeToLatent(recording(24000)).data);
});

test('a latent drives createSpeaker as its voiceFile bytes do', async () => {
  const model = await loadTts();
  const latent = mimi.encodeToLatent(recording(48000), { seconds: 10 });
  const file = mimi.voiceFile(latent);
  assert.ok(file instanceof Uint8Array);
  const fromLatent = speakAll(await model.createSpeaker({ voice: latent, tokenizer: tokenizerBytes, cfg: 2 }), 'Hello world');
  const fromFile = speakAll(await model.createSpeaker({ voice: file, tokenizer: tokenizerBytes, cfg: 2 }), 'Hello world');
  assert.ok(fromLatent.frames.length > 0);
  assert.deepEqual(fromLatent.words, ['Hello', 'world']);
  assert.deepEqual(fromFile, fromLatent);
  model.dispose();
});

test('voiceFile writes Kyutai\'s layout: voice_a\'s latent gives voice_a\'s file', () => {
  const headerBytes = voiceA.length - 32 * 10 * 4;  // before the f32 data
  const latent = new Float32Array(voiceA.buffer.slice(voiceA.byteOffset + headerBytes, voiceA.byteOffset + voiceA.length));
  assert.deepEqual(mimi.voiceFile({ data: latent, shape: [1, 32, 10] }), voiceA);
});

test('the speaker shares a loaded Tokenizer instead of loading its own', async () => {
  const model = await loadTts();
  const tokenizer = await engine.loadTokenizer(tokenizerBytes);
  const loadTokenizer = engine.loadTokenizer;
  engine.loadTokenizer = () => assert.fail('createSpeaker loaded a tokenizer of its own');
  let speaker;
  try {
    speaker = await model.createSpeaker({ voice: voiceA, tokenizer, cfg: 2 });
  } finally {
    engine.loadTokenizer = loadTokenizer;
  }
  tokenizer.dispose();  // the speaker keeps the model alive
  const c = vectors('tts').cases.generation;
  const run = speakAll(speaker, c.script[0]);
  assert.deepEqual(run.words, c.transcript.map(([w]) => w));
  assert.equal(run.frames.length, c.num_frames);
  await assert.rejects(model.createSpeaker({ voice: voiceA, tokenizer }), (e) => e.code === 'INVALID_STATE');
  model.dispose();
});

test('bad recordings, latents and voices are refused with a code', async () => {
  refuses(() => mimi.encodeToLatent(wav, { sampleRate: 48000 }), 'INVALID_ARGUMENT');
  refuses(() => mimi.encodeToLatent(new Float32Array(0)), 'INVALID_ARGUMENT');
  refuses(() => mimi.encodeToLatent(new Int32Array(100)), 'INVALID_ARGUMENT');
  refuses(() => mimi.encodeToLatent(wav, { seconds: 10 }), 'INVALID_ARGUMENT');  // 0.5 s: under 1 s
  refuses(() => mimi.encodeToLatent(recording(24000), { seconds: 0.5 }), 'INVALID_ARGUMENT');
  refuses(() => mimi.encodeToLatent(recording(24000), { seconds: 'ten' }), 'INVALID_ARGUMENT');
  const nan = recording(24000);
  nan[5] = NaN;
  refuses(() => mimi.encodeToLatent(nan), 'INVALID_ARGUMENT');
  refuses(() => mimi.encodeToLatent(nan, { seconds: 1 }), 'INVALID_ARGUMENT');
  refuses(() => mimi.voiceFile({ data: new Float32Array(5), shape: [1, 2, 3] }), 'INVALID_ARGUMENT');
  refuses(() => mimi.voiceFile({ data: new Float32Array(6), shape: [2, 1, 3] }), 'INVALID_ARGUMENT');
  refuses(() => mimi.voiceFile({ data: [1, 2], shape: [1, 1, 2] }), 'INVALID_ARGUMENT');
  refuses(() => mimi.voiceFile({ data: new Float32Array([1, Infinity]), shape: [1, 1, 2] }), 'INVALID_ARGUMENT');

  const model = await loadTts();
  const wrongDim = { data: new Float32Array(16 * 10), shape: [1, 16, 10] };  // the model's voices are 32-dim
  await assert.rejects(model.createSpeaker({ voice: wrongDim, tokenizer: tokenizerBytes }), (e) => e.code === 'INVALID_ARGUMENT');
  await assert.rejects(model.createSpeaker({ voice: { data: new Float32Array(3), shape: [1, 32] }, tokenizer: tokenizerBytes }),
    (e) => e.code === 'INVALID_ARGUMENT');
  assert.equal(model.sessions.size, 0, 'refused speakers leave nothing behind');
  model.dispose();
});
