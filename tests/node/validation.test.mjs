// Issue 30: hostile arguments at the JavaScript boundary. Every public method's bad arguments
// and options are refused with a KyutaiError (INVALID_ARGUMENT, naming the argument, its value
// and what is accepted) before anything reaches the engine: a session that refused any number
// of calls then yields exactly what an untouched twin yields. Also: loadModel({signal})
// (ABORTED, nothing left on the heap), a weights stream failing mid-load (NETWORK), config
// objects that cannot be JSON, and the client-side options (speak, connect, transcribe,
// createCapture, createPlayback, whenProcessed).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { read } from './data.mjs';
import { BAND_ENERGY_URL } from './fixtures/band-energy.mjs';
import { loadModel, KyutaiError, FRAME_SIZE, createCapture, createPlayback, toMono24k } from '../../web/src/index.js';
import { createEngine } from '../../web/src/engine.js';
import { Host } from '../../web/src/host/host.js';
import { PROTOCOL, SCHEMAS } from '../../web/src/protocol.js';

const path = (p) => new URL(`../data/${p}`, import.meta.url);
const lmOptions = { config: path('lm/config.json'), weights: path('lm/weights.safetensors'), frameTokenizer: { module: BAND_ENERGY_URL } };
const lm = await loadModel(lmOptions);
const stt = await loadModel({ config: path('stt/config.json'), weights: path('stt/weights.safetensors'), frameTokenizer: { module: BAND_ENERGY_URL } });

async function expectRefused(run, pattern, code = 'INVALID_ARGUMENT') {
  await assert.rejects(async () => run(), (e) => {
    assert.ok(e instanceof KyutaiError, `expected a KyutaiError, got ${e?.constructor?.name}: ${e?.message}`);
    assert.equal(e.code, code, e.message);
    if (pattern) assert.match(e.message, pattern);
    return true;
  });
}

const tone = (seed) => Float32Array.from({ length: FRAME_SIZE }, (_, i) => 0.2 * Math.sin((i + 1) * (0.01 + seed * 0.003)));
const goodFrame = (n, k) => Int32Array.from({ length: n }, (_, i) => (i * 7 + k * 3) % 32);

// The same next inputs for each kind of receiver (what the twin comparison steps on).
const NEXT = {
  tts: async (s) => [await s.pushText(5), await s.pushText(7), await s.pushText(-1)],
  duplex: async (s) => [await s.pushFrame(goodFrame(8, 1)), await s.pushAudio(tone(2)), await s.pushFrame(goodFrame(8, 3))],
  asr: async (s) => [await s.pushFrame(goodFrame(8, 1)), await s.pushFrame(goodFrame(8, 2)), await s.flush()],
  transcriber: async (t) => [await t.pushCodes(goodFrame(8, 1)), await t.pushCodes(goodFrame(8, 2)), await t.flush()],
};
const MAKE = {
  tts: () => lm.createTtsSession({ sampling: true, seed: 3 }),
  duplex: () => lm.createDuplexSession({ sampling: true, seed: 3 }),
  asr: () => stt.createAsrSession(),
  transcriber: () => stt.createTranscriber({ silenceCodes: goodFrame(8, 0) }),
};

const cyclic = {};
cyclic.self = cyclic;
const port = () => new MessageChannel().port2;

// [receiver kind, description, call, message pattern]
const BAD_CALLS = [
  ['tts', 'pushText(1.5)', (s) => s.pushText(1.5), /pushText\(token\): expected an integer >= -1 and <= 2147483647, got 1.5/],
  ['tts', 'pushText(NaN)', (s) => s.pushText(NaN), /got NaN/],
  ['tts', 'pushText(undefined)', (s) => s.pushText(undefined), /got undefined/],
  ['tts', 'pushText(null)', (s) => s.pushText(null), /got null/],
  ['tts', "pushText('5')", (s) => s.pushText('5'), /got "5"/],
  ['tts', 'pushText(true)', (s) => s.pushText(true), /got true/],
  ['tts', 'pushText({})', (s) => s.pushText({}), /got Object/],
  ['tts', 'pushText(2**32+5)', (s) => s.pushText(2 ** 32 + 5), /got 4294967301/],
  ['tts', 'pushText(5n)', (s) => s.pushText(5n), /got 5n/],
  ['tts', 'pushText(5, 6)', (s) => s.pushText(5, 6), /pushText: expected at most 1 argument/],
  ['tts', 'speak([5, 1.5])', (s) => s.speak([5, 1.5]), /speak\(tokens\)\[1\]: expected an integer/],
  ['tts', 'speak(null)', (s) => s.speak(null), /speak\(input\): expected text, an Int32Array or an array of token ids, got null/],
  ['tts', 'speak([5], {tailFrames: NaN})', (s) => s.speak([5], { tailFrames: NaN }), /speak\(options\)\.tailFrames: expected an integer >= 0 and <= 100000, got NaN/],
  ['tts', 'speak([5], {tailFrames: -1})', (s) => s.speak([5], { tailFrames: -1 }), /tailFrames/],
  ['tts', 'speak([5], 7)', (s) => s.speak([5], 7), /speak\(options\): expected an options object, got 7/],
  ['tts', 'speak([5], {playback: 3})', (s) => s.speak([5], { playback: 3 }), /playback/],
  ['duplex', "pushFrame(['1', ...])", (s) => s.pushFrame(['1', 2, 3, 4, 5, 6, 7, 8]), /pushFrame\(codes\)\[0\]: expected an integer >= -1 and <= 31, got "1"/],
  ['duplex', 'pushFrame([1.5, ...])', (s) => s.pushFrame([1.5, 2, 3, 4, 5, 6, 7, 8]), /\[0\]: expected an integer/],
  ['duplex', 'pushFrame(code 32 = card)', (s) => s.pushFrame([32, 2, 3, 4, 5, 6, 7, 8]), /<= 31, got 32/],
  ['duplex', 'pushFrame(Float32Array)', (s) => s.pushFrame(new Float32Array(8)), /expected an Int32Array or an array of integers/],
  ['duplex', 'pushFrame(null)', (s) => s.pushFrame(null), /got null/],
  ['duplex', 'pushAudio(NaN sample)', (s) => s.pushAudio(Object.assign(tone(1), { 5: NaN })), /audio sample 5 is NaN; samples must be finite/],
  ['duplex', 'pushAudio(infinite sample)', (s) => s.pushAudio(Object.assign(tone(1), { 9: Infinity })), /audio sample 9 is infinite/],
  ['duplex', 'pushAudio(number[])', (s) => s.pushAudio(Array.from(tone(1))), /expected a Float32Array of samples, got Array/],
  ['duplex', 'connect(port, {maxQueuedFrames: 0})', (s) => s.connect(port(), { maxQueuedFrames: 0 }), /connect\(options\)\.maxQueuedFrames: expected an integer >= 1, or Infinity, got 0/],
  ['duplex', 'connect(port, {maxQueuedFrames: 2.5})', (s) => s.connect(port(), { maxQueuedFrames: 2.5 }), /got 2.5/],
  ['duplex', 'connect(port, null options object)', (s) => s.connect(port(), 'fast'), /connect\(options\): expected an options object/],
  ['asr', 'pushFrame(BigInt64Array)', (s) => s.pushFrame(new BigInt64Array(8)), /expected an Int32Array/],
  ['asr', 'pushFrame({length: 8})', (s) => s.pushFrame({ length: 8 }), /expected an Int32Array/],
  ['asr', 'pushFrame(-2 code)', (s) => s.pushFrame([-2, 0, 0, 0, 0, 0, 0, 0]), /got -2/],
  ['transcriber', 'pushCodes([1.5...])', (t) => t.pushCodes([1.5, 0, 0, 0, 0, 0, 0, 0]), /pushCodes\(codes\)\[0\]: expected an integer/],
  ['transcriber', 'pushAudio(NaN)', (t) => t.pushAudio(Object.assign(tone(1), { 3: NaN })), /sample 3 is NaN/],
  ['transcriber', 'pushAudio(string)', (t) => t.pushAudio('abc'), /expected a Float32Array/],
  ['transcriber', 'connect(capture, {maxQueuedFrames: -1})', (t) => t.connect({ attach() {} }, { maxQueuedFrames: -1 }), /maxQueuedFrames/],
];

test('every bad call of a session or transcriber is refused and changes nothing: it yields what its untouched twin yields', async () => {
  for (const kind of Object.keys(MAKE)) {
    const target = await MAKE[kind]();
    const twin = await MAKE[kind]();
    // A step first, so the refused calls land mid-stream.
    await NEXT[kind](target);
    await NEXT[kind](twin);
    for (const [k, what, call, pattern] of BAD_CALLS) {
      if (k !== kind) continue;
      await expectRefused(() => call(target), pattern).catch((e) => assert.fail(`${kind} ${what}: ${e.message}`));
    }
    assert.deepEqual(await NEXT[kind](target), await NEXT[kind](twin), `${kind}: the refused calls changed the session`);
    await target.dispose();
    await twin.dispose();
  }
});

// [description, call, message pattern]
const BAD_OPTIONS = [
  ['createTranscriber({vadHead: 1.5})', () => stt.createTranscriber({ vadHead: 1.5 }), /createTranscriber\(options\)\.vadHead: expected an integer >= 0 and <= 255, got 1.5/],
  ['createTranscriber({endOfTurnThreshold: 2})', () => stt.createTranscriber({ endOfTurnThreshold: 2 }), /endOfTurnThreshold: expected a finite number >= 0 and <= 1, got 2/],
  ['createTranscriber({silenceCodes: [99 ...]})', () => stt.createTranscriber({ silenceCodes: [99, 0, 0, 0, 0, 0, 0, 0] }), /silenceCodes\[0\]: expected an integer >= -1 and <= 31, got 99/],
  ['createTranscriber({temperature: -1})', () => stt.createTranscriber({ temperature: -1 }), /temperature: expected a finite number >= 0 and <= 1000, got -1/],
  ['createTranscriber(5)', () => stt.createTranscriber(5), /createTranscriber\(options\): expected an options object, got 5/],
  ['createTtsSession({seed: -1})', () => lm.createTtsSession({ sampling: true, seed: -1 }), /createSession\(options\)\.seed: expected an integer >= 0 and <= 9007199254740991, got -1/],
  ['createTtsSession({seed: NaN})', () => lm.createTtsSession({ sampling: true, seed: NaN }), /seed.*got NaN/],
  ['createTtsSession({seed: 1e30})', () => lm.createTtsSession({ sampling: true, seed: 1e30 }), /seed.*got 1e\+30/],
  ['createTtsSession({seed: 0.5})', () => lm.createTtsSession({ sampling: true, seed: 0.5 }), /seed.*got 0.5/],
  ['createDuplexSession({topK: 1e20})', () => lm.createDuplexSession({ topK: 1e20 }), /topK: expected an integer >= 0 and <= 2147483647, got 100000000000000000000/],
  ['createDuplexSession({textTopK: -3})', () => lm.createDuplexSession({ textTopK: -3 }), /textTopK/],
  ['createDuplexSession({temperature: -1})', () => lm.createDuplexSession({ temperature: -1 }), /temperature: expected a finite number >= 0/],
  ['createDuplexSession({textTemperature: Infinity})', () => lm.createDuplexSession({ textTemperature: Infinity }), /textTemperature.*got Infinity/],
  ["createTtsSession({sampling: 'yes'})", () => lm.createTtsSession({ sampling: 'yes' }), /sampling: expected true or false, got "yes"/],
  ['createAsrSession({mirror: 1})', () => stt.createAsrSession({ mirror: 1 }), /mirror: expected true or false, got 1/],
  ['createAsrSession([])', () => stt.createAsrSession([]), /expected an options object, got Array\(0\)/],
  ['transcribe(audio, {chunkSeconds: 0})', () => stt.transcribe(tone(1), { chunkSeconds: 0 }), /transcribe\(options\)\.chunkSeconds: expected a finite number >= 0.08/],
  ['transcribe(audio, {sampleRate: NaN})', () => stt.transcribe(tone(1), { sampleRate: NaN }), /sampleRate/],
  ["transcribe(audio, {onProgress: 'x'})", () => stt.transcribe(tone(1), { onProgress: 'x' }), /onProgress: expected a function/],
  ['toMono24k(audio, {sampleRate: -5})', () => toMono24k(tone(1), { sampleRate: -5 }), /toMono24k\(options\)\.sampleRate/],
  ['model call textEncode(5)', () => lm.call('textEncode', [5]), /textEncode\(text\): expected a string, got 5/],
  ['model call textIdToPiece(-1)', () => lm.call('textIdToPiece', [-1]), /textIdToPiece\(id\): expected an integer >= 0/],
  ['model call textDecode([0.5])', () => lm.call('textDecode', [[0.5]]), /textDecode\(ids\)\[0\]/],
  ["model call createSession('robot')", () => lm.call('createSession', ['robot', {}]), /createSession\(kind\): expected one of "asr", "tts", "duplex", got "robot"/],
  ['host dispose(1.5)', () => lm.client.call(0, 'dispose', [1.5]), /dispose\(id\): expected an integer/],
  ['loadModel({cache: 2})', () => loadModel({ ...lmOptions, cache: 2 }), /loadModel\(options\)\.cache: expected true, false, 'off', 'use' or 'reload', got 2/],
  ['loadModel({maxBytes: -1})', () => loadModel({ ...lmOptions, maxBytes: -1 }), /maxBytes/],
  ['loadModel({signal: {}})', () => loadModel({ ...lmOptions, signal: {} }), /loadModel\(options\)\.signal: expected an AbortSignal/],
  ['createCapture(ctx, {frameSize: 0})', () => createCapture({}, { frameSize: 0 }), /createCapture\(options\)\.frameSize: expected an integer >= 1/],
  ['createPlayback(ctx, {prebufferFrames: 1.5})', () => createPlayback({}, { prebufferFrames: 1.5 }), /createPlayback\(options\)\.prebufferFrames/],
];

test('bad options of every creating or loading method are refused with INVALID_ARGUMENT naming the option, value and range', async () => {
  for (const [what, call, pattern] of BAD_OPTIONS) {
    await expectRefused(call, pattern).catch((e) => assert.fail(`${what}: ${e.message}`));
  }
  // The documented forms still work (and the refused ones made no objects).
  const t = await stt.createTranscriber({ vadHead: 1, endOfTurnThreshold: 0.3, temperature: 0, seed: 7, silenceCodes: goodFrame(8, 0) });
  assert.equal(t.vadHead, 1);
  const events = await t.pushCodes(goodFrame(8, 1));
  for (const e of events.filter((x) => x.type === 'vad')) assert.equal(typeof e.pause, 'number');
  await t.dispose();
});

test('every remote method has a schema, and every schema a remote method', () => {
  for (const [concept, { methods }] of Object.entries(PROTOCOL)) {
    assert.deepEqual(Object.keys(SCHEMAS[concept]).sort(), [...methods].sort(), concept);
  }
});

test('config objects that cannot be JSON (cycle, BigInt) are refused with INVALID_CONFIG', async () => {
  const config = JSON.parse(read('lm/config.json').toString());
  await expectRefused(() => loadModel({ ...lmOptions, config: { ...config, self: cyclic } }), /config: the object cannot be written as JSON/, 'INVALID_CONFIG');
  await expectRefused(() => loadModel({ ...lmOptions, config: { ...config, dim: 64n } }), /BigInt/, 'INVALID_CONFIG');
});

// The first `n` bytes of `bytes`, then the stream stalls (never answers) or errors.
function stream(bytes, n, end) {
  let sent = false;
  return new ReadableStream({
    pull(controller) {
      if (!sent) {
        sent = true;
        controller.enqueue(bytes.subarray(0, n));
        return undefined;
      }
      if (end === 'error') controller.error(new Error('connection reset'));
      return new Promise(() => {});  // stalls
    },
  });
}

test('a weights stream that errors mid-load gives KyutaiError NETWORK', async () => {
  const bytes = new Uint8Array(read('lm/weights.safetensors'));
  await expectRefused(() => loadModel({ ...lmOptions, weights: stream(bytes, 4096, 'error') }), /weights: reading failed after 4096 bytes: connection reset/, 'NETWORK');
});

test('loadModel({signal}) aborts a stalled load with ABORTED and leaves nothing on the heap', async () => {
  const bytes = new Uint8Array(read('lm/weights.safetensors'));
  // Public API: an already aborted signal, and one aborted while the weights stall.
  await expectRefused(() => loadModel({ ...lmOptions, signal: AbortSignal.abort() }), /loadModel: loading was aborted/, 'ABORTED');
  const controller = new AbortController();
  const load = loadModel({ ...lmOptions, weights: stream(bytes, 4096, 'stall'), signal: controller.signal, onProgress: () => controller.abort() });
  await expectRefused(() => load, /weights: loading was aborted/, 'ABORTED');

  // The engine side, with its heap in view: nothing of the half-read model stays.
  const engine = await createEngine();
  const replies = [];
  const host = new Host((m) => replies.push(m), { engine });
  const config = read('lm/config.json').toString();
  const before = engine.heapInUse();
  for (let i = 0; i < 3; i++) {
    const { port1, port2 } = new MessageChannel();
    const call = host.handle({ type: 'call', id: i, target: 0, method: 'loadModel', args: [{ config, weights: stream(bytes, 200000, 'stall'), abort: port2 }] });
    await new Promise((r) => setTimeout(r, 20));
    port1.postMessage('abort');
    await call;
    port1.close();
    const reply = replies.find((m) => m.id === i && m.type !== 'progress');
    assert.equal(reply.type, 'error');
    assert.equal(reply.error.code, 'ABORTED', reply.error.message);
  }
  assert.equal(engine.heapInUse(), before, 'an aborted load left heap in use');
});

test('whenProcessed(n) refuses a count that is not a whole number', async () => {
  const { ResultStream } = await import('../../web/src/result-stream.js');
  const rs = Object.create(ResultStream.prototype);
  await expectRefused(() => rs.whenProcessed(-1), /whenProcessed\(n\): expected an integer >= 0/);
  await expectRefused(() => rs.whenProcessed('3'), /got "3"/);
});

test('weights from a source that is not bytes are refused with INVALID_ARGUMENT, not a TypeError', async () => {
  const text = fs.readFileSync(path('lm/config.json'), 'utf8');
  const engine = await createEngine();
  await expectRefused(() => engine.loadLm(text, 42), /cannot read model bytes from \[object Number\]/);
});
