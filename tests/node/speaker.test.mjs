// Kyutai's TTS through the public API (loadModel -> model.createSpeaker, web/src/speaker.js):
// the same RPC messages as the browser's worker, to host/speaker.js and the engine's Speaker.
// The conformance generations of tests/data/tts come out frame for frame, words carry start
// and end, PCM reaches a playback port, and bad input is refused with a KyutaiError code.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { data, read, vectors } from './data.mjs';
import { loadModel, KyutaiError } from '../../web/src/index.js';
import { makeTtsHubFolder, TTS_HUB_MODEL, TTS_HUB_VOICE } from './tts-hub-fixture.mjs';

const file = (p) => new URL(p, data).pathname;
const cases = vectors('tts').cases;
const MIMI = { type: 'mimi', config: file('mimi/config.json'), weights: file('mimi/weights.safetensors') };
const VOICE = file('tts/voice_a.safetensors');

const loadTts = ({ variant = '', ...options } = {}) => loadModel({
  config: file(`tts/config${variant}.json`), weights: file(`tts/weights${variant}.safetensors`),
  tokenizer: file('tts/tokenizer.model'), frameTokenizer: MIMI, ...options,
});

// Every chunk of an iteration: frames, samples, words.
async function collect(chunks) {
  const run = { chunks: 0, frames: [], samples: 0, words: [], pcm: [] };
  for await (const chunk of chunks) {
    run.chunks++;
    if (chunk.frame) run.frames.push(Array.from(chunk.frame));
    if (chunk.pcm) {
      run.samples += chunk.pcm.length;
      run.pcm.push(chunk.pcm);
    }
    run.words.push(...chunk.words);
  }
  return run;
}

function assertFrames(frames, c) {
  const { data: flat, shape: [rows, n] } = c.frames;
  assert.equal(frames.length, n);
  for (let i = 0; i < n; i++) assert.deepEqual(frames[i], Array.from({ length: rows }, (_, k) => flat[k * n + i]), `frame ${i}`);
}

// Words {text, start, end}: Kyutai's transcript steps as seconds, each ending where the next
// starts and the last at the end of the audio.
function assertWords(words, c, audioSeconds) {
  assert.deepEqual(words.map((w) => [w.text, w.start]), c.transcript.map(([text, step]) => [text, step / 12.5]));
  words.forEach((w, i) => assert.equal(w.end, i + 1 < words.length ? words[i + 1].start : audioSeconds, w.text));
}

test('speak(): the generation case frame for frame, its words with start and end, Mimi PCM and time to first audio', async () => {
  const model = await loadTts();
  const speaker = await model.createSpeaker({ voice: VOICE, cfg: 2 });
  assert.deepEqual([speaker.delaySteps, speaker.sampleRate, speaker.frameSize, speaker.frameRate], [4, 24000, 1920, 12.5]);
  const events = [];
  speaker.addEventListener('chunk', () => events.push('chunk'));
  speaker.addEventListener('end', (e) => events.push(['end', e.detail.stats.steps]));
  const run = await collect(speaker.speak(cases.generation.script[0]));
  assertFrames(run.frames, cases.generation);
  const audioFrames = cases.generation.num_frames - speaker.delaySteps;
  assert.equal(run.samples, audioFrames * speaker.frameSize);
  assertWords(run.words, cases.generation, audioFrames / 12.5);
  assert.ok(run.pcm.every((p) => p.every(Number.isFinite)) && run.pcm.some((p) => p.some((x) => x !== 0)));
  // Stats: the caller's time to the first PCM chunk, and the engine's steps.
  const { stats } = speaker;
  assert.ok(stats.firstAudioMs > 0 && stats.firstAudioMs < 60_000, `firstAudioMs ${stats.firstAudioMs}`);
  assert.equal(stats.steps, cases.generation.num_steps);
  assert.equal(stats.audioSeconds, audioFrames / 12.5);
  assert.ok(stats.meanStepMs > 0 && stats.rtf > 0);
  assert.equal(events.filter((e) => e === 'chunk').length, run.chunks);
  assert.deepEqual(events.at(-1), ['end', cases.generation.num_steps]);
  assert.equal(speaker.finished, true);
  await model.dispose();
});

test('pushText in pieces (text streamed from an LLM) gives the same speech; chunks come as they are made', async () => {
  const model = await loadTts();
  const speaker = await model.createSpeaker({ voice: VOICE });
  const done = collect(speaker);  // iterates until the speech ends
  let beforeEnd = 0;
  speaker.addEventListener('chunk', () => beforeEnd++, { once: true });
  for (const piece of ['Hel', 'lo ', 'world, ', 'th', 'is ', 'is']) await speaker.pushText(piece);
  // The text so far lets the speaker run ahead (the state machine reads two words ahead).
  await new Promise((resolve) => setTimeout(resolve, 200));
  assert.equal(beforeEnd, 1);
  await speaker.end();
  const run = await done;
  assertFrames(run.frames, cases.generation);
  assertWords(run.words, cases.generation, speaker.stats.audioSeconds);
  await model.dispose();
});

test('real CFG on the model without the cfg LUT', async () => {
  const c = cases.generation_real_cfg;
  const model = await loadTts({ variant: '_nocfg' });
  const speaker = await model.createSpeaker({ voice: read('tts/voice_a.safetensors'), cfg: 2, maxGenLength: c.max_gen_length });
  const run = await collect(speaker.speak(c.script[0]));
  assertFrames(run.frames, c);
  assert.deepEqual(run.words.map((w) => w.text), c.transcript.map(([text]) => text));
  await model.dispose();
});

test('connect(playback): every PCM chunk also reaches the playback port, then its end', async () => {
  const model = await loadTts();
  const speaker = await model.createSpeaker({ voice: VOICE });
  const received = [];
  let ended;
  const ending = new Promise((resolve) => (ended = resolve));
  const playback = {
    channel() {
      const { port1, port2 } = new MessageChannel();
      port1.onmessage = ({ data: msg }) => (msg.type === 'end' ? (ended(), port1.close()) : received.push(msg.samples));
      return port2;
    },
  };
  await speaker.connect(playback);
  const run = await collect(speaker.speak(cases.generation.script[0]));
  await ending;
  assert.equal(received.length, run.pcm.length);
  received.forEach((samples, i) => assert.deepEqual(samples, run.pcm[i], `frame ${i}`));
  await model.dispose();
});

test('a voice by name: a model loaded by name finds <name>.<sig>@<epoch>.safetensors in kyutai/tts-voices', async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'kyutai-voices-'));
  try {
    makeTtsHubFolder(root);
    const model = await loadModel(TTS_HUB_MODEL, { hub: `${root}/{repo}/{file}` });
    const speaker = await model.createSpeaker({ voice: TTS_HUB_VOICE, cfg: 2 });
    assertFrames((await collect(speaker.speak(cases.generation.script[0]))).frames, cases.generation);
    await assert.rejects(model.createSpeaker({ voice: 'tiny/nobody' }), (e) => e instanceof KyutaiError && e.code === 'NOT_FOUND');
    await model.dispose();
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test('bad input is refused with a KyutaiError code, before anything changes', async () => {
  const model = await loadTts();
  const refuses = (promise, code, message) => assert.rejects(promise, (e) => e instanceof KyutaiError && e.code === code && (!message || message.test(e.message)));
  await refuses(model.createSpeaker({}), 'INVALID_ARGUMENT', /voice/);
  await refuses(model.createSpeaker({ voice: new Uint8Array(16) }), 'INVALID_CHECKPOINT', /voice/);
  await refuses(model.createSpeaker({ voice: read('tts/tokenizer.model') }), 'LIMIT_EXCEEDED', /voice/);
  await refuses(model.createSpeaker({ voice: VOICE, cfg: 2.2 }), 'INVALID_ARGUMENT', /1\.0, 1\.5, 2\.0/);
  await refuses(model.createSpeaker({ voice: VOICE, cfg: '2' }), 'INVALID_ARGUMENT', /cfg/);
  await refuses(model.createSpeaker({ voice: VOICE, temperature: -1 }), 'INVALID_ARGUMENT', /temperature/);
  await refuses(model.createSpeaker({ voice: VOICE, nQ: 9 }), 'INVALID_ARGUMENT', /n_q/);
  await refuses(model.createSpeaker('voice'), 'INVALID_ARGUMENT', /options/);

  const speaker = await model.createSpeaker({ voice: VOICE });
  await refuses(speaker.pushText(3), 'INVALID_ARGUMENT', /string/);
  await assert.rejects(collect(speaker.speak(null)), (e) => e.code === 'INVALID_ARGUMENT');
  await refuses(speaker.connect({}), 'INVALID_ARGUMENT', /AudioPlayback/);
  await speaker.end();
  await refuses(speaker.pushText('more'), 'INVALID_STATE', /after end/);
  await speaker.dispose();
  await refuses(speaker.pushText('after'), 'INVALID_STATE', /disposed/);
  const after = await speaker[Symbol.asyncIterator]().next();
  assert.equal(after.done, true);

  // Disposing the model ends the iterations of its speakers.
  const other = await model.createSpeaker({ voice: VOICE });
  const pending = collect(other);
  await model.dispose();
  assert.equal((await pending).chunks, 0);
  await refuses(other.end(), 'INVALID_STATE');
});

test('a model without a tokenizer, or not a TTS model, cannot speak', async () => {
  const noTokenizer = await loadTts({ tokenizer: undefined });
  await assert.rejects(noTokenizer.createSpeaker({ voice: VOICE }), (e) => e.code === 'INVALID_STATE' && /tokenizer/.test(e.message));
  await noTokenizer.dispose();
  const stt = await loadModel({ config: file('stt/config.json'), weights: file('stt/weights.safetensors'), tokenizer: file('tts/tokenizer.model') });
  await assert.rejects(stt.createSpeaker({ voice: VOICE }), (e) => e.code === 'UNSUPPORTED' && /TTS model/.test(e.message));
  await stt.dispose();
});

// A recording of 1.5 s (the Mimi test clip, repeated): the voice Kyutai's script would make of it.
function recordingOf(seconds) {
  const clip = Float32Array.from(vectors('mimi').input_wav.data);
  const pcm = new Float32Array(Math.round(seconds * 24000));
  for (let i = 0; i < pcm.length; i++) pcm[i] = clip[i % clip.length];
  return pcm;
}

test('createVoice(): a recording becomes Kyutai\'s 10 s voice latent, which createSpeaker speaks with as it does with that voice\'s file', async () => {
  const model = await loadTts();
  const pcm = recordingOf(1.5);
  const voice = await model.createVoice(pcm);
  assert.deepEqual(voice.shape, [1, 32, 125]);  // 10 s at 12.5 frames/s, the recording zero-padded
  assert.ok(voice.data instanceof Float32Array && voice.data.every(Number.isFinite));
  const short = await model.createVoice(pcm, { seconds: 2 });
  assert.deepEqual(short.shape, [1, 32, 25]);
  // The engine API's latent of the same recording, saved as a voice file: the same speech.
  const { createEngine } = await import('../../web/src/engine.js');
  const engine = await createEngine();
  const mimi = await engine.loadMimi(read('mimi/config.json').toString(), read('mimi/weights.safetensors'));
  const local = mimi.encodeToLatent(pcm, { seconds: 10 });
  assert.deepEqual(voice.data, local.data);
  const fromLatent = await collect((await model.createSpeaker({ voice, cfg: 2 })).speak('Hello world'));
  const fromFile = await collect((await model.createSpeaker({ voice: mimi.voiceFile(local), cfg: 2 })).speak('Hello world'));
  assert.ok(fromLatent.frames.length > 0);
  assert.deepEqual(fromLatent.frames, fromFile.frames);
  mimi.dispose();
  await model.dispose();
});

test('createVoice() refuses what is not a voice recording, with a code, and needs the model\'s Mimi', async () => {
  const model = await loadTts();
  const refused = (p, code) => assert.rejects(p, (e) => e instanceof KyutaiError && e.code === code);
  await refused(model.createVoice(recordingOf(0.5)), 'INVALID_ARGUMENT');  // under 1 s
  await refused(model.createVoice(recordingOf(2), { seconds: 0.2 }), 'INVALID_ARGUMENT');
  await refused(model.createVoice(new Float32Array(48000).fill(NaN)), 'INVALID_ARGUMENT');
  await refused(model.createVoice([0.1, 0.2]), 'INVALID_ARGUMENT');
  assert.deepEqual((await model.createVoice(recordingOf(1.5), { seconds: 1 })).shape, [1, 32, 13]);  // still usable
  await model.dispose();
  const noMimi = await loadTts({ frameTokenizer: undefined });
  await refused(noMimi.createVoice(recordingOf(1.5)), 'INVALID_STATE');
  await noMimi.dispose();
});
