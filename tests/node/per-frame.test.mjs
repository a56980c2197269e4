// The per-frame cost of live streams in steady state: Embind crossings (calls into the
// WebAssembly module's bound classes) and messages the Host posts to its caller, per audio
// frame, for a connected transcriber (speech-to-text through Mimi) and a connected full-duplex
// session with Mimi. Each stays at one engine call and one message per frame: the engine runs
// the whole pipeline (Mimi, LM step, sampling, words, VAD, Mimi decode) in that one call.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { read } from './data.mjs';
import { createEngine } from '../../web/src/engine.js';
import { Host } from '../../web/src/host/host.js';
import { talkative } from '../../web/demo/talkative.js';

const FRAME_SIZE = 1920;
const engine = await createEngine();
const counter = countCrossings(engine.module);

// Wraps every method of the module's bound classes with a counter (a call made from inside
// another bound call, e.g. a callback, is not counted twice: the module never calls back here).
function countCrossings(module) {
  const counter = { calls: 0, byName: new Map() };
  for (const [name, value] of Object.entries(module)) {
    const proto = typeof value === 'function' ? value.prototype : null;
    if (!proto || typeof proto.isAliasOf !== 'function') continue;  // Embind classes only
    for (const method of Object.getOwnPropertyNames(proto)) {
      const fn = proto[method];
      if (method === 'constructor' || method === 'delete' || typeof fn !== 'function') continue;
      const wrapped = function (...args) {
        counter.calls++;
        const key = `${name}.${method}`;
        counter.byName.set(key, (counter.byName.get(key) ?? 0) + 1);
        return fn.apply(this, args);
      };
      proto[method] = wrapped;
    }
  }
  return counter;
}

// A Host in this thread, called as the client would (web/src/client.js) and recording what it posts.
function inProcessHost() {
  const posted = [];
  const host = new Host((message) => posted.push(message), { engine });
  let id = 0;
  const call = async (target, method, ...args) => {
    const callId = ++id;
    await host.handle({ type: 'call', id: callId, target, method, args });
    const reply = posted.find((m) => m.id === callId && (m.type === 'result' || m.type === 'error'));
    if (reply.type === 'error') throw new Error(reply.error.message);
    return reply.value;
  };
  return { posted, call };
}

function chirp(frames) {
  const x = new Float32Array(frames * FRAME_SIZE);
  for (let i = 0; i < x.length; i++) x[i] = 0.4 * Math.sin(2 * Math.PI * (100 * (i / 24000) + 400 * (i / 24000) ** 2));
  return x;
}

// Streams `frames` frames through a connected session and measures the last `measured` of them.
async function measure(call, posted, counter, sessionId, frames, measured) {
  const { port1, port2 } = new MessageChannel();
  const { id: streamId } = await call(sessionId, 'connect', port2);
  const audio = chirp(frames);
  const results = () => posted.filter((m) => m.type === 'event' && m.target === streamId && m.name === 'result').length;
  const waitFor = async (n) => {
    while (results() < n) await new Promise((resolve) => setTimeout(resolve, 2));
  };
  const send = (f) => port1.postMessage({ type: 'frame', seq: f, samples: audio.slice(f * FRAME_SIZE, (f + 1) * FRAME_SIZE) });
  const warm = frames - measured;
  for (let f = 0; f < warm; f++) send(f);
  await waitFor(warm);
  const calls0 = counter.calls;
  counter.byName.clear();
  const messages0 = posted.length;
  for (let f = warm; f < frames; f++) {
    send(f);
    await waitFor(f + 1);  // one frame at a time: nothing dropped, steady state
  }
  const streamMessages = posted.slice(messages0).filter((m) => !(m.type === 'event' && (m.name === 'stats' || m.name === 'progress')));
  const words = streamMessages.flatMap((m) => m.data?.events ?? []).filter((e) => e.type === 'word');  // a transcriber's
  const out = { crossings: (counter.calls - calls0) / measured, messages: streamMessages.length / measured, byName: Object.fromEntries(counter.byName), words };
  await call(streamId, 'close');
  port1.close();
  return out;
}

const spec = (dir) => ({
  config: read(`${dir}/config.json`).toString(),
  weights: new Uint8Array(read(`${dir}/weights.safetensors`)),
  frameTokenizer: { type: 'mimi', config: read('mimi/config.json').toString(), weights: new Uint8Array(read('mimi/weights.safetensors')) },
  backend: 'wasm',
  cache: false,
});

test('a connected transcriber costs one engine call and one message per frame, its words decoded inside it', async () => {
  const { posted, call } = inProcessHost();
  // With the model's tokenizer (100 pieces, as the STT's text card) and words every few frames
  // (talkative: the tiny checkpoint pads like a real model): the engine decodes each word's
  // text in the frame's one call, not in a call per word.
  const model = await call(0, 'loadModel', {
    ...spec('stt'), weights: talkative(read('stt/weights.safetensors')), tokenizer: new Uint8Array(read('tts/tokenizer.model')),
  });
  const transcriber = await call(model.id, 'createTranscriber', {});
  const r = await measure(call, posted, counter, transcriber.id, 40, 34);
  assert.equal(r.crossings, 1, `crossings per frame: ${JSON.stringify(r.byName)}`);
  assert.deepEqual(Object.keys(r.byName), ['Transcriber.pushAudio']);
  assert.equal(r.messages, 1);
  assert.ok(r.words.length > 0, 'words came in the measured frames');
  for (const w of r.words) assert.equal(typeof w.text, 'string');
  await call(0, 'dispose', model.id);
});

test('a connected full-duplex session with Mimi costs one engine call and one message per frame', async () => {
  const { posted, call } = inProcessHost();
  const model = await call(0, 'loadModel', spec('lm'));
  const session = await call(model.id, 'createSession', 'duplex', {});
  const r = await measure(call, posted, counter, session.id, 16, 10);
  assert.equal(r.crossings, 1, `crossings per frame: ${JSON.stringify(r.byName)}`);
  assert.deepEqual(Object.keys(r.byName), ['DuplexPipeline.step']);
  assert.equal(r.messages, 1);
  await call(0, 'dispose', model.id);
});

test('a frame of codes into an ASR session costs one engine call: its words come in the engine result', async () => {
  const { posted, call } = inProcessHost();
  const { frameTokenizer, ...codesOnly } = spec('stt');
  assert.ok(frameTokenizer);
  const model = await call(0, 'loadModel', codesOnly);
  const session = await call(model.id, 'createSession', 'asr', {});
  const codes = new Int32Array(model.config.nQ).fill(1);
  const calls0 = counter.calls;
  counter.byName.clear();
  const messages0 = posted.length;
  const frames = 8;
  for (let f = 0; f < frames; f++) {
    const result = await call(session.id, 'pushFrame', codes);
    assert.ok(Array.isArray(result.words) && 'ended' in result, 'words and ended in each result');
  }
  assert.equal((counter.calls - calls0) / frames, 1, `crossings per frame: ${JSON.stringify(Object.fromEntries(counter.byName))}`);
  assert.deepEqual(Object.keys(Object.fromEntries(counter.byName)), ['AsrSession.pushFrame']);
  assert.equal((posted.length - messages0) / frames, 1);
  await call(0, 'dispose', model.id);
});
