// The Mimi codec through the built WebAssembly module and the package: engine.loadMimi against
// Kyutai's conformance vectors (tests/data/mimi), errors, streams sharing one model's
// weights, and Mimi as the frame tokenizer of ASR, TTS and full-duplex sessions.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { data, read } from './data.mjs';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { createEngine } from '../../web/src/engine.js';
import { KyutaiError } from '../../web/src/errors.js';
import { loadModel, FRAME_SIZE } from '../../web/src/index.js';

const path = (p) => new URL(p, data).pathname;
const V = JSON.parse(read('mimi/vectors.json'));
const CONFIG = read('mimi/config.json').toString();
const WEIGHTS = read('mimi/weights.safetensors');
const F = V.codes.shape[2];  // 7 frames
const K = V.codes.shape[1];  // 8 codebooks

const engine = await createEngine();
const loadMimi = (options) => engine.loadMimi(CONFIG, WEIGHTS, options);

function maxAbsDiff(a, b) {
  assert.equal(a.length, b.length, 'length');
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

const padded = Float32Array.from(V.input_wav_padded.data);
const frameOf = (pcm, t) => pcm.slice(t * FRAME_SIZE, (t + 1) * FRAME_SIZE);
// Codes of frame t from a codebook-major [K][F] array.
const column = (codes, t, k = K, frames = F) => Int32Array.from({ length: k }, (_, q) => codes[q * frames + t]);

// One stream over the recorded clip, as Kyutai's streaming(1) run: encode frame t, and decode
// the whole clip's codes of frame t (what vectors.json recorded as streaming.decoded_wav).
function runStream(stream, { before } = {}) {
  const k = stream.numCodebooks;
  const codes = new Int32Array(k * F);
  const pcm = new Float32Array(F * FRAME_SIZE);
  for (let t = 0; t < F; t++) {
    before?.(t);
    const c = stream.encodeStep(frameOf(padded, t));
    assert.equal(c.length, k);
    for (let q = 0; q < k; q++) codes[q * F + t] = c[q];
    pcm.set(stream.decodeStep(column(V.codes.data, t, k)), t * FRAME_SIZE);
  }
  return { codes, pcm };
}

test('loadMimi: sizes from the config, streamed load with progress', async () => {
  const progress = [];
  // Small chunks: the safetensors header and tensors arrive split at arbitrary places.
  const chunks = (function* () {
    for (let o = 0; o < WEIGHTS.length; o += 1000) yield WEIGHTS.subarray(o, o + 1000);
  })();
  const mimi = await engine.loadMimi(JSON.parse(CONFIG), chunks, { onProgress: (p) => progress.push(p) });
  assert.equal(mimi.frameSize, V.frame_size);
  assert.equal(mimi.numCodebooks, V.num_codebooks);
  assert.equal(mimi.semanticCodebooks, 1);
  assert.equal(mimi.cardinality, 32);
  assert.equal(mimi.sampleRate, 24000);
  assert.equal(mimi.frameRate, 12.5);
  assert.equal(mimi.threads, 1);
  assert.ok(progress.length > 10);
  assert.equal(progress.at(-1).bytes, WEIGHTS.length);
  assert.equal(progress.at(-1).totalBytes, WEIGHTS.length);
  // The chunked load gives the same codec as a one-buffer load.
  assert.deepEqual(mimi.encode(padded).codes, Int32Array.from(V.codes.data));
  mimi.dispose();
});

test('whole clips match Kyutai: codes exactly, decoded audio within 1e-4', async () => {
  const mimi = await loadMimi();
  const enc = mimi.encode(Float32Array.from(V.input_wav.data));  // 12000 samples, padded to 7 frames
  assert.equal(enc.frames, F);
  assert.equal(enc.codebooks, K);
  assert.ok(enc.codes instanceof Int32Array);
  assert.deepEqual(Array.from(enc.codes), V.codes.data);
  const pcm = mimi.decode(Int32Array.from(V.codes.data), F);
  assert.ok(pcm instanceof Float32Array);
  assert.equal(pcm.length, V.decoded_wav.data.length);
  assert.ok(maxAbsDiff(pcm, V.decoded_wav.data) < 1e-4);
  // Fewer codebooks: a prefix of the residual levels.
  assert.deepEqual(Array.from(mimi.encode(padded, 3).codes), V.codes.data.slice(0, 3 * F));
  assert.equal(mimi.decode(Int32Array.from(V.codes.data.slice(0, 3 * F)), F).length, F * FRAME_SIZE);
  assert.equal(mimi.encode(new Float32Array(0)).frames, 0);
  assert.equal(mimi.decode(new Int32Array(0), 0).length, 0);
  mimi.dispose();
});

test('streaming matches Kyutai streaming (including its divergence past the context)', async () => {
  const mimi = await loadMimi();
  const r = runStream(mimi.createStream(8));
  assert.deepEqual(Array.from(r.codes), V.streaming.codes.data);
  assert.ok(maxAbsDiff(r.pcm, V.streaming.decoded_wav.data) < 1e-4);
  assert.equal(V.streaming.codes_equal_full, false);
  assert.notDeepEqual(Array.from(r.codes), V.codes.data);  // the ring KV cache shows, as in Kyutai's

  // The codec's own streaming methods use a default stream of all codebooks.
  const own = runStream(mimi);
  assert.deepEqual(own.codes, r.codes);
  mimi.reset();
  assert.deepEqual(runStream(mimi).codes, r.codes, 'reset restarts the default stream');

  // A stream of 4 codebooks codes the first 4 levels.
  const four = runStream(mimi.createStream(4));
  assert.deepEqual(Array.from(four.codes), V.streaming.codes.data.slice(0, 4 * F));
  mimi.dispose();
});

test('errors are KyutaiError with the engine message; the stream goes on as if they never happened', async () => {
  const mimi = await loadMimi();
  const stream = mimi.createStream(8);
  const isArg = (re) => (e) => e instanceof KyutaiError && e.code === 'INVALID_ARGUMENT' && re.test(e.message);
  const nan = new Float32Array(FRAME_SIZE).fill(0.1);
  nan[17] = NaN;
  const bad = new Int32Array(8).fill(5);
  bad[7] = 32;
  const r = runStream(stream, {
    before: (t) => {
      if (t !== 3 && t !== 6) return;
      assert.throws(() => stream.encodeStep(new Float32Array(1000)), isArg(/expected a frame of 1920 samples, got 1000/));
      assert.throws(() => stream.encodeStep(nan), isArg(/sample 17 is NaN/));
      assert.throws(() => stream.encodeStep(new Int32Array(FRAME_SIZE)), isArg(/expected a Float32Array, got Int32Array/));
      assert.throws(() => stream.decodeStep(bad), isArg(/code 32 \(codebook 7, frame 0\) is out of range: codes are 0\.\.31/));
      assert.throws(() => stream.decodeStep(new Int32Array(7)), isArg(/decodes 8 codes per frame, got 7/));
    },
  });
  assert.deepEqual(Array.from(r.codes), V.streaming.codes.data);
  assert.ok(maxAbsDiff(r.pcm, V.streaming.decoded_wav.data) < 1e-4);

  // Whole clips and stream creation.
  const clip = padded.slice();
  clip[5000] = Infinity;
  assert.throws(() => mimi.encode(clip), isArg(/sample 5000 is infinite/));
  assert.throws(() => mimi.encode(padded, 9), isArg(/between 1 \(the semantic ones\) and 8/));
  assert.throws(() => mimi.decode(new Int32Array(10), 3), isArg(/10 codes do not split into 3 frames/));
  assert.throws(() => mimi.decode(Int32Array.from(V.codes.data).map((c) => c - 1), F), isArg(/code -1/));
  assert.throws(() => mimi.createStream(0), isArg(/number of codebooks must be between 1/));
  assert.throws(() => mimi.createStream(9), isArg(/got 9/));
  assert.deepEqual(Array.from(mimi.encode(padded).codes), V.codes.data, 'the model is unharmed');

  // Disposed objects say so.
  stream.dispose();
  assert.throws(() => stream.encodeStep(frameOf(padded, 0)), (e) => e.code === 'INVALID_STATE' && /disposed/.test(e.message));
  const other = mimi.createStream(8);
  mimi.dispose();
  assert.equal(other.disposed, true, 'streams go with their model');
  assert.throws(() => mimi.encode(padded), (e) => e.code === 'INVALID_STATE');
  assert.throws(() => mimi.createStream(8), (e) => e.code === 'INVALID_STATE');
});

test('a bad load fails with a KyutaiError and leaves nothing behind', async () => {
  await assert.rejects(engine.loadMimi(CONFIG, WEIGHTS.subarray(0, 3000)),
    (e) => e instanceof KyutaiError && /stream ended|inside tensor|missing/.test(e.message));
  const broken = JSON.parse(CONFIG);
  broken.seanet.activation = 'ReLU';
  await assert.rejects(engine.loadMimi(broken, WEIGHTS), (e) => e.code === 'UNSUPPORTED' && /activation/.test(e.message));
  broken.seanet.activation = 'ELU';
  broken.quantizer.bins = 64;  // the weights hold 32 entries per codebook
  await assert.rejects(engine.loadMimi(broken, WEIGHTS), (e) => e instanceof KyutaiError && e.code === 'INVALID_CHECKPOINT' && /cluster_usage.: expected shape \[64\], got \[32\]/.test(e.message));
  const heap = engine.heapBytes();
  for (let i = 0; i < 3; i++) await assert.rejects(engine.loadMimi(CONFIG, WEIGHTS.subarray(0, 3000)));
  assert.equal(engine.heapBytes(), heap, 'failed loads do not grow the heap');
});

test('streams of one model are independent: interleaved, each gives what it gives alone', async () => {
  const mimi = await loadMimi();
  // A second signal: the clip reversed and quieter.
  const other = padded.slice().reverse().map((x) => x * 0.5);
  const solo = mimi.createStream(8);
  const expectedOther = [];
  for (let t = 0; t < F; t++) expectedOther.push(Array.from(solo.encodeStep(frameOf(other, t))));
  solo.dispose();

  const a = mimi.createStream(8);
  const b = mimi.createStream(8);
  const codesA = new Int32Array(K * F);
  const pcmB = [];
  for (let t = 0; t < F; t++) {
    // b steps twice as often as a: its encoder on `other`, its decoder on a's codes.
    const cb = b.encodeStep(frameOf(other, t));
    assert.deepEqual(Array.from(cb), expectedOther[t], `b frame ${t}`);
    const ca = a.encodeStep(frameOf(padded, t));
    for (let q = 0; q < K; q++) codesA[q * F + t] = ca[q];
    pcmB.push(b.decodeStep(column(V.codes.data, t)));
    // The default stream runs too, and disturbs neither.
    mimi.encodeStep(frameOf(other, F - 1 - t));
  }
  assert.deepEqual(Array.from(codesA), V.streaming.codes.data);
  const decoded = new Float32Array(F * FRAME_SIZE);
  pcmB.forEach((p, t) => decoded.set(p, t * FRAME_SIZE));
  assert.ok(maxAbsDiff(decoded, V.streaming.decoded_wav.data) < 1e-4, 'b decodes as a fresh stream would');
  // A stream outlives nothing: disposing one leaves the other running.
  a.dispose();
  b.reset();
  assert.deepEqual(Array.from(b.encodeStep(frameOf(other, 0))), expectedOther[0]);
  mimi.dispose();
});

// ---- Mimi as the frame tokenizer of the package's sessions (in-process in Node) ----

const mimiSpec = { type: 'mimi', config: path('mimi/config.json'), weights: path('mimi/weights.safetensors') };
const loadWith = (dir) => loadModel({ config: path(`${dir}/config.json`), weights: path(`${dir}/weights.safetensors`), frameTokenizer: mimiSpec });

// A speech-like test signal: a chirp with a slow amplitude envelope.
function chirp(frames, phase = 0) {
  const x = new Float32Array(frames * FRAME_SIZE);
  for (let i = 0; i < x.length; i++) {
    const t = i / 24000;
    x[i] = 0.4 * Math.sin(phase + 2 * Math.PI * (100 * t + 400 * t * t)) * (0.55 + 0.45 * Math.sin(2 * Math.PI * 0.7 * t));
  }
  return x;
}

test('ASR: audio -> Mimi codes (n_q of them) -> LM; sessions share the codec, each with its own stream', async () => {
  const model = await loadWith('stt');
  assert.deepEqual(model.frameTokenizer, { kind: 'mimi', frameSize: 1920, codebooks: 8, canDecode: true, cardinality: 32, threads: 1, source: 'local' });
  assert.equal(model.engine.mimi, true);
  const frames = 12;
  const audioA = chirp(frames);
  const audioB = chirp(frames, 1.3).map((x) => -0.7 * x);

  // What each session must see: Mimi streaming codes of its own audio (a fresh stream), and
  // the LM's answer to those codes.
  const mimi = await loadMimi();
  const reference = async (audio) => {
    const s = mimi.createStream(8);
    const codes = [];
    for (let t = 0; t < frames; t++) codes.push(s.encodeStep(frameOf(audio, t)));
    s.dispose();
    const asr = await model.createAsrSession();
    const tokens = [];
    for (const c of codes) tokens.push((await asr.pushFrame(c)).textToken);
    await asr.dispose();
    return { codes: codes.map((c) => Array.from(c)), tokens };
  };
  const refA = await reference(audioA);
  const refB = await reference(audioB);
  assert.notDeepEqual(refA.codes, refB.codes);

  const a = await model.createAsrSession();
  const b = await model.createAsrSession();  // at the same time: no lease, a stream each
  const got = { a: { codes: [], tokens: [], steps: [] }, b: { codes: [], tokens: [], steps: [] } };
  for (let t = 0; t < frames; t++) {
    for (const [name, session, audio] of [['a', a, audioA], ['b', b, audioB]]) {
      const r = await session.pushAudio(frameOf(audio, t));
      got[name].codes.push(Array.from(r.codes));
      got[name].tokens.push(r.textToken);
      got[name].steps.push(r.step);
    }
  }
  assert.deepEqual(got.a.codes, refA.codes);
  assert.deepEqual(got.b.codes, refB.codes);
  assert.deepEqual(got.a.tokens, refA.tokens);
  assert.deepEqual(got.b.tokens, refB.tokens);
  assert.deepEqual(got.a.steps, Array.from({ length: frames }, (_, i) => i + 1));
  // reset restarts the session's codec stream too.
  await a.reset();
  assert.deepEqual(Array.from((await a.pushAudio(frameOf(audioA, 0))).codes), refA.codes[0]);
  await assert.rejects(a.pushAudio(new Float32Array(100)), (e) => e instanceof KyutaiError && /1920 samples/.test(e.message));
  const nan = frameOf(audioA, 1);
  nan[3] = NaN;
  await assert.rejects(a.pushAudio(nan), (e) => e.code === 'INVALID_ARGUMENT' && /sample 3 is NaN/.test(e.message));
  assert.deepEqual(Array.from((await a.pushAudio(frameOf(audioA, 1))).codes), refA.codes[1], 'the stream is unharmed');
  mimi.dispose();
  await model.dispose();
  assert.equal(b.disposed, true);
});

test('TTS and full duplex: generated codes -> Mimi decode; the user audio -> Mimi encode', async () => {
  const model = await loadWith('lm');  // Moshi-like: n_q 16, dep_q 8, card 32
  assert.equal(model.frameTokenizer.kind, 'mimi');
  const mimi = await loadMimi();

  const tts = await model.createTtsSession();
  const decoder = mimi.createStream(8);
  let frames = 0;
  for (const token of [5, 9, 3, 3, 12, 3, 3, 3]) {
    const r = await tts.pushText(token);
    if (!r.audio) {
      assert.equal(r.pcm, null);
      continue;
    }
    frames++;
    assert.equal(r.audio.length, 8);
    assert.ok(r.audio.every((c) => c >= 0 && c < 32));
    assert.ok(r.pcm instanceof Float32Array && r.pcm.length === FRAME_SIZE);
    assert.deepEqual(r.pcm, decoder.decodeStep(r.audio), 'the session decodes with a fresh Mimi stream of its own');
  }
  assert.ok(frames >= 6, `${frames} frames of audio`);

  const duplex = await model.createDuplexSession();
  const encoder = mimi.createStream(8);
  const dec = mimi.createStream(8);
  const user = chirp(6);
  for (let t = 0; t < 6; t++) {
    const r = await duplex.pushAudio(frameOf(user, t));
    assert.deepEqual(r.codes, encoder.encodeStep(frameOf(user, t)));
    if (r.audio) assert.deepEqual(r.pcm, dec.decodeStep(r.audio));
  }
  mimi.dispose();
  await model.dispose();
});

// The test Mimi cut down to its first `codebooks` levels: a safetensors file without the
// later rvq_rest layers, and a config with that n_q.
function smallerMimi(codebooks) {
  const headerSize = Number(WEIGHTS.readBigUInt64LE(0));
  const header = JSON.parse(WEIGHTS.subarray(8, 8 + headerSize).toString());
  const base = 8 + headerSize;
  const keep = Object.keys(header).filter((name) => {
    const m = /^quantizer\.rvq_rest\.vq\.layers\.(\d+)\./.exec(name);
    return name !== '__metadata__' && (!m || Number(m[1]) < codebooks - 1);
  });
  const parts = [];
  const out = {};
  let offset = 0;
  for (const name of keep) {
    const [begin, end] = header[name].data_offsets;
    parts.push(WEIGHTS.subarray(base + begin, base + end));
    out[name] = { ...header[name], data_offsets: [offset, offset + end - begin] };
    offset += end - begin;
  }
  const json = Buffer.from(JSON.stringify(out));
  const size = Buffer.alloc(8);
  size.writeBigUInt64LE(BigInt(json.length));
  const config = JSON.parse(CONFIG);
  config.quantizer.n_q = codebooks;
  return { type: 'mimi', config, weights: Buffer.concat([size, json, ...parts]) };
}

test('a Mimi that does not fit the model is refused with the reason', async () => {
  const four = smallerMimi(4);
  const mimi = await engine.loadMimi(four.config, four.weights);
  assert.equal(mimi.numCodebooks, 4);
  assert.deepEqual(Array.from(mimi.encode(padded).codes), V.codes.data.slice(0, 4 * F), 'the same first levels');
  mimi.dispose();

  // The STT model reads 8 codebooks per frame; this Mimi gives 4.
  const stt = await loadModel({ config: path('stt/config.json'), weights: path('stt/weights.safetensors'), frameTokenizer: four });
  const asr = await stt.createAsrSession();
  await assert.rejects(asr.pushAudio(new Float32Array(FRAME_SIZE)),
    (e) => e instanceof KyutaiError && e.code === 'INVALID_ARGUMENT' && /mimi frame tokenizer gives 4 codebooks per frame, the model reads 8/.test(e.message));
  assert.equal((await asr.pushFrame(new Int32Array(8))).step, 1, 'the session still takes codes');
  // The Moshi-like model writes 8 codebooks per frame: this Mimi cannot decode them.
  const lm = await loadModel({ config: path('lm/config.json'), weights: path('lm/weights.safetensors'), frameTokenizer: four });
  const tts = await lm.createTtsSession();
  await assert.rejects(tts.pushText(5), (e) => e.code === 'INVALID_ARGUMENT' && /writes 8 audio codebooks per frame, Mimi decodes at most 4/.test(e.message));
  await stt.dispose();
  await lm.dispose();
});

test('the TypeScript declarations of Mimi compile under --strict and reject misuse', async () => {
  const tsc = fileURLToPath(new URL('../../node_modules/typescript/bin/tsc', import.meta.url));
  const project = fileURLToPath(new URL('./types/tsconfig.mimi.json', import.meta.url));
  try {
    await promisify(execFile)(process.execPath, [tsc, '-p', project]);
  } catch (e) {
    assert.fail(`tsc reported errors:\n${e.stdout}${e.stderr}`);
  }
});
