// The AudioWorklet processors, run in a bare V8 context that offers only what
// AudioWorkletGlobalScope offers them here (no URL, fetch, TextDecoder, performance,
// importScripts): using any of those would throw. Render quanta are fed by hand.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import vm from 'node:vm';

const source = (name) => fs.readFileSync(new URL(`../../web/src/worklets/${name}`, import.meta.url), 'utf8');

class FakePort {
  constructor() {
    this.sent = [];
    this.onmessage = null;
  }
  postMessage(data, transfer = []) {
    for (const b of transfer) if (b instanceof ArrayBuffer) structuredClone(b, { transfer: [b] });  // detach, as a real transfer does
    this.sent.push(data);
  }
  close() {
    this.closed = true;
  }
  deliver(data) {
    this.onmessage?.({ data });
  }
}

// Loads a processor file; returns a factory of processor instances.
function load(file, rate) {
  let registered = null;
  const scope = {
    sampleRate: rate,
    registerProcessor: (name, cls) => (registered = { name, cls }),
    AudioWorkletProcessor: class {
      constructor() {
        this.port = new FakePort();
      }
    },
    Float32Array, Math, Object,
  };
  vm.runInNewContext(source(file), scope, { filename: file });
  return { name: registered.name, make: (processorOptions) => new registered.cls({ processorOptions }) };
}

test('worklet sources use nothing AudioWorkletGlobalScope lacks', () => {
  for (const file of ['capture-processor.js', 'playback-processor.js']) {
    const code = source(file).replace(/\/\/.*$/gm, '');
    for (const name of ['URL', 'fetch', 'TextDecoder', 'TextEncoder', 'performance', 'importScripts', 'XMLHttpRequest', 'atob', 'setTimeout']) {
      assert.ok(!new RegExp(`\\b${name}\\b`).test(code), `${file} uses ${name}`);
    }
    assert.ok(!/^\s*import\b/m.test(code), `${file} imports a module`);
  }
});

test('capture at 24 kHz: 128-sample quanta -> 1920-sample frames, exact, transferred, recycled', () => {
  const { name, make } = load('capture-processor.js', 24000);
  assert.equal(name, 'kyutai-capture');
  const p = make({ frameSize: 1920, sampleRate: 24000 });
  const sink = new FakePort();
  p.port.deliver({ type: 'connect', port: sink });
  const signal = Float32Array.from({ length: 128 * 40 }, (_, i) => Math.sin(i * 0.01));
  const out = [new Float32Array(128)];
  for (let q = 0; q < 40; q++) assert.equal(p.process([[signal.subarray(q * 128, (q + 1) * 128)]], [out]), true);
  assert.equal(sink.sent.length, 2);  // 5120 samples = 2 frames + 1280 pending
  sink.sent.forEach((m, k) => {
    assert.equal(m.type, 'frame');
    assert.equal(m.seq, k);
    assert.equal(m.samples.byteLength, 0, 'the buffer was transferred, not copied');
  });
  // A recycled buffer is reused: the frame after the one being filled is written into it.
  const spare = new Float32Array(1920);
  sink.deliver({ type: 'recycle', samples: spare });
  for (let q = 0; q < 25; q++) p.process([[new Float32Array(128).fill(0.5)]], [out]);
  assert.equal(sink.sent.length, 4);
  assert.notEqual(sink.sent[2].samples, spare);
  assert.equal(sink.sent[3].samples, spare);
  // Stop: final stats (nothing is posted after them), then no more processing.
  p.port.deliver({ type: 'stop', id: 7 });
  assert.deepEqual({ ...p.port.sent.at(-1) }, { type: 'pong', id: 7, framesPosted: 4, samplesIn: 128 * 65, sampleRate: 24000, connected: false });
  assert.equal(p.process([[new Float32Array(128)]], [out]), false);
});

test('capture contents: frames are the input samples in order; an ended input continues as silence', () => {
  const { make } = load('capture-processor.js', 24000);
  const p = make({ frameSize: 1920, sampleRate: 24000 });  // unconnected: frames go to the node's port
  const frames = [];
  p.port.postMessage = (m) => m.type === 'frame' && frames.push(Float32Array.from(m.samples));
  const out = [new Float32Array(128)];
  assert.equal(p.process([[]], [out]), true, 'nothing before the source starts');
  const signal = Float32Array.from({ length: 1920 + 1000 }, (_, i) => (i % 97) / 97);
  for (let i = 0; i < signal.length; i += 128) {
    const block = new Float32Array(128);
    block.set(signal.subarray(i, i + 128));
    p.process([[block]], [out]);
  }
  for (let q = 0; q < 8; q++) p.process([[]], [out]);  // the source ended: silence completes the frame
  assert.equal(frames.length, 2);
  const expected = new Float32Array(2 * 1920);
  expected.set(signal);
  assert.deepEqual(Float32Array.from([...frames[0], ...frames[1]]), expected);
});

test('capture at 48 kHz resamples to 24 kHz (linear interpolation, continuous across quanta)', () => {
  const { make } = load('capture-processor.js', 48000);
  const p = make({ frameSize: 1920, sampleRate: 24000 });
  const got = [];
  p.port.postMessage = (m) => m.type === 'frame' && got.push(Float32Array.from(m.samples));
  const f = 440;
  const x = (i) => Math.sin((2 * Math.PI * f * i) / 48000);
  const out = [new Float32Array(128)];
  for (let q = 0; q < 60; q++) p.process([[Float32Array.from({ length: 128 }, (_, j) => x(q * 128 + j))]], [out]);
  assert.equal(got.length, 2);  // 7680 input samples -> 3840 output samples
  const y = Float32Array.from([...got[0], ...got[1]]);
  for (let i = 0; i < y.length; i++) assert.ok(Math.abs(y[i] - x(2 * i)) < 1e-6, `sample ${i}`);
});

test('playback: frames back to back after the prebuffer; underruns counted, not after end', () => {
  const { name, make } = load('playback-processor.js', 24000);
  assert.equal(name, 'kyutai-playback');
  const p = make({ prebufferFrames: 2 });
  const frame = (v) => new Float32Array(1920).fill(v);
  const render = (quanta) => {
    const out = [];
    for (let q = 0; q < quanta; q++) {
      const o = [new Float32Array(128).fill(9)];
      p.process([], [o]);
      out.push(...o[0]);
    }
    return out;
  };
  p.port.deliver({ type: 'frame', samples: frame(1) });
  assert.ok(render(2).every((v) => v === 0), 'silent until the prebuffer is full');
  const engine = new FakePort();
  p.port.deliver({ type: 'connect', port: engine });
  engine.deliver({ type: 'frame', samples: frame(2) });  // frames also come straight from the engine
  const played = render(30);  // 3840 samples = both frames exactly
  assert.deepEqual([...new Set(played.slice(0, 1920))], [1]);
  assert.deepEqual([...new Set(played.slice(1920, 3840))], [2]);
  assert.equal(p.underruns, 0);
  render(1);  // dry while more is expected
  assert.equal(p.underruns, 1);
  assert.equal(p.port.sent.at(-1).type, 'underrun');
  p.port.deliver({ type: 'frame', samples: frame(3) });
  p.port.deliver({ type: 'frame', samples: frame(4) });
  p.port.deliver({ type: 'end' });
  render(40);
  assert.equal(p.underruns, 1, 'running dry after end is not an underrun');
  p.port.deliver({ type: 'ping', id: 1 });
  assert.deepEqual({ ...p.port.sent.at(-1) }, { type: 'pong', id: 1, received: 4, framesPlayed: 4, samplesPlayed: 4 * 1920, underruns: 1, silentSamples: 128, queued: 0, playing: false });
});
