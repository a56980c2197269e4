// The placeholder frame tokenizer (band energies) and the frame-tokenizer contract.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MimiFrameTokenizer, checkFrameTokenizer, FRAME_SIZE } from '../../web/src/frame-tokenizer.js';
import { BandEnergyTokenizer } from './fixtures/band-energy.mjs';
import { KyutaiError } from '../../web/src/errors.js';

const sine = (hz, amplitude = 0.5, n = FRAME_SIZE, phase = 0) => Float32Array.from({ length: n }, (_, i) => amplitude * Math.sin(phase + (2 * Math.PI * hz * i) / 24000));

test('a sine lights up the band that holds its frequency', () => {
  const t = new BandEnergyTokenizer({ codebooks: 8, card: 32 });
  for (let k = 0; k < 8; k++) {
    const codes = t.encode(sine(t.centerHz[k]));
    assert.equal(codes.indexOf(Math.max(...codes)), k, `band ${k}`);
    assert.ok(codes[k] >= 25, `a loud sine is near the top of the scale (${codes[k]})`);
  }
});

test('silence is all zeros; codes stay in [0, card); the same frame gives the same codes', () => {
  const t = new BandEnergyTokenizer({ codebooks: 32, card: 2048 });
  assert.deepEqual(Array.from(t.encode(new Float32Array(FRAME_SIZE))), new Array(32).fill(0));
  let seed = 1;
  const noise = Float32Array.from({ length: FRAME_SIZE }, () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31 - 0.5) * 2);
  const a = t.encode(noise);
  const b = new BandEnergyTokenizer({ codebooks: 32, card: 2048 }).encode(noise);
  assert.deepEqual(a, b);
  assert.ok(a.every((c) => c > 0 && c < 2048));
  // Louder is higher, by 20 dB -> (20 / 90) * 2047 codes.
  const quiet = t.encode(noise.map((x) => x * 0.1));
  for (let k = 0; k < 32; k++) assert.ok(Math.abs(a[k] - quiet[k] - (20 / 90) * 2047) < 2, `band ${k}`);
});

test('decode makes sound with the coded band energies, continuous across frames', () => {
  const t = new BandEnergyTokenizer({ codebooks: 8, card: 64 });
  const codes = Int32Array.from([0, 50, 0, 0, 40, 0, 0, 0]);
  const x = t.decode(codes);
  const y = t.decode(codes);
  assert.equal(x.length, FRAME_SIZE);
  const again = t.encode(x);
  assert.ok(Math.abs(again[1] - 50) <= 1 && Math.abs(again[4] - 40) <= 1, `re-encoded ${Array.from(again)}`);
  // The phase carries on: the jump between frames is no bigger than between two samples.
  const maxStep = Math.max(...Array.from(x.subarray(1), (v, i) => Math.abs(v - x[i])));
  assert.ok(Math.abs(y[0] - x[FRAME_SIZE - 1]) <= maxStep * 1.01);
  t.reset();
  assert.deepEqual(t.decode(codes), x, 'reset restarts the phase');
  assert.deepEqual(Array.from(t.decode(new Int32Array(3))), new Array(FRAME_SIZE).fill(0), 'fewer codes than codebooks are allowed');
});

test('wrong input is a KyutaiError naming what was expected', () => {
  const t = new BandEnergyTokenizer();
  assert.throws(() => t.encode(new Float32Array(10)), (e) => e instanceof KyutaiError && /1920 samples/.test(e.message));
  assert.throws(() => t.encode(new Float64Array(FRAME_SIZE)), /Float64Array\(1920\)/);
  assert.throws(() => t.decode(new Int32Array(9)), /at most 8 codes/);
  assert.throws(() => new BandEnergyTokenizer({ codebooks: 0 }), /codebooks/);
  assert.throws(() => new BandEnergyTokenizer({ codebooks: 2000 }), /do not fit/);
});

test('the contract: checkFrameTokenizer, and Mimi plugs in through the same interface', () => {
  assert.throws(() => checkFrameTokenizer({ frameSize: 1920, codebooks: 8 }), /encode/);
  assert.throws(() => checkFrameTokenizer({ frameSize: 0, codebooks: 8, encode() {} }), /frameSize/);
  const calls = [];
  // A stand-in with the shape engine.loadMimi returns.
  const mimi = {
    frameSize: 1920, numCodebooks: 32,
    encodeStep: (pcm) => (calls.push(['encodeStep', pcm.length]), new Int32Array(32).fill(7)),
    decodeStep: (codes) => (calls.push(['decodeStep', codes.length]), new Float32Array(1920)),
    reset: () => calls.push(['reset']), dispose: () => calls.push(['dispose']),
  };
  const t = checkFrameTokenizer(new MimiFrameTokenizer(mimi));
  assert.equal(t.codebooks, 32);
  assert.equal(t.encode(new Float32Array(1920))[0], 7);
  assert.equal(t.decode(new Int32Array(32)).length, 1920);
  t.reset();
  t.dispose();
  assert.deepEqual(calls, [['encodeStep', 1920], ['decodeStep', 32], ['reset'], ['dispose']]);
});
