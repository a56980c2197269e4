// Robustness of the WebAssembly engine from JavaScript (issue 9): every Embind object is
// released, 1,000 sessions of each kind come and go without heap growth, a failed load
// (truncated weights, wrong config, bad tokenizer bytes, bad Mimi weights) leaves no
// half-made model behind, and bad frames are refused without disturbing the session.
//
// "Heap in use" is malloc's count of bytes handed out and not taken back
// (engine.heapInUse(), mallinfo().uordblks through wasm/bind_memory.cpp); "handles" is
// Embind's count of live JS values held by the C++ side (Module.count_emval_handles()).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { read } from './data.mjs';
import { createEngine } from '../../web/src/engine.js';
import { KyutaiError } from '../../web/src/errors.js';

const text = (p) => read(p).toString();

const engine = await createEngine();
const M = engine.module;
assert.equal(typeof M.heapInUse, 'function', 'dist/ predates wasm/bind_memory.cpp: rebuild it (scripts/build.sh)');

const usage = () => ({ heap: engine.heapInUse(), handles: M.count_emval_handles() });
const loadLm = (dir, options) => engine.loadLm(text(`${dir}/config.json`), read(`${dir}/weights.safetensors`), options);

// The tensor of a safetensors file whose bytes span file offset `at` (for exact messages).
function tensorAt(bytes, at) {
  const n = Number(Buffer.from(bytes).readBigUInt64LE(0));
  const header = JSON.parse(Buffer.from(bytes).subarray(8, 8 + n).toString());
  for (const [name, t] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const [b, e] = t.data_offsets;
    if (8 + n + b < at && at < 8 + n + e) return name;
  }
  return null;
}

async function expectKyutaiError(run, code, message) {
  await assert.rejects(async () => run(), (e) => {
    assert.ok(e instanceof KyutaiError, `expected a KyutaiError, got ${e?.constructor?.name}: ${e?.message}`);
    assert.equal(e.code, code, e.message);
    if (message instanceof RegExp) assert.match(e.message, message);
    else assert.equal(e.message, message);
    return true;
  });
}

test('1,000 sessions of each kind (ASR, TTS, duplex, generator) are created and disposed without heap growth', async () => {
  const moshi = await loadLm('lm');
  const stt = await loadLm('stt');
  const frame = new Int32Array(8).fill(3);
  const cycle = (i) => {
    const asr = stt.createAsrSession();
    asr.pushFrame(frame);
    asr.dispose();
    const tts = moshi.createTtsSession({ sampling: true, seed: i });
    tts.pushText(5);
    tts.dispose();
    const duplex = moshi.createDuplexSession({ sampling: true, seed: i });
    duplex.pushFrame(frame);
    duplex.dispose();
    const gen = moshi.createGenerator();
    gen.step(frame);
    gen.dispose();
  };
  cycle(0);  // warm-up: first-use allocations (sampling buffers, error formatting) happen here
  cycle(1);
  const before = usage();
  for (let i = 0; i < 1000; i++) cycle(i);
  assert.deepEqual(usage(), before, 'heap in use / handles after 1,000 sessions of each kind');
  assert.equal(moshi.sessions.size + stt.sessions.size, 0);

  // Sessions left open are freed with their model, and the model with them.
  const run = async () => {
    const m = await loadLm('stt');
    for (let i = 0; i < 50; i++) m.createAsrSession().pushFrame(frame);
    m.dispose();
  };
  await run();
  const beforeModel = usage();
  for (let i = 0; i < 3; i++) await run();
  assert.deepEqual(usage(), beforeModel, 'a disposed model with 50 open sessions leaves nothing behind');
  moshi.dispose();
  stt.dispose();
  assert.throws(() => moshi.createAsrSession(), (e) => e instanceof KyutaiError && e.code === 'INVALID_STATE');
});

test('a failed load leaves no half-made model: exact errors, heap and handles back to baseline', async () => {
  const sttConfig = text('stt/config.json');
  const stt = read('stt/weights.safetensors');
  const lm = read('lm/weights.safetensors');
  const half = Math.floor(stt.length / 2);
  const cases = [
    ['truncated weights', () => engine.loadLm(sttConfig, stt.subarray(0, half)), 'INVALID_CHECKPOINT',
      `safetensors: stream ended after ${half} bytes, inside tensor '${tensorAt(stt, half)}' (file should have ${stt.length} bytes)`],
    ['weights of another model', () => engine.loadLm(sttConfig, lm), 'INVALID_CHECKPOINT',
      "unexpected tensor 'depformer.layers.0.gating.0.linear_in.weight' [264, 48]: this configuration has no such weight"],
    ['config that does not match the weights', () => engine.loadLm(sttConfig.replace('"text_card": 100', '"text_card": 120'), stt),
      'INVALID_CHECKPOINT', "tensor 'text_emb.weight': expected shape [121, 64], got [101, 64]"],
    ['config that is not JSON', () => engine.loadLm('<html>404</html>', stt), 'INVALID_CONFIG',
      "config.json: invalid JSON at byte 0: unexpected character '<'"],
    ['config with an absurd size', () => engine.loadLm(sttConfig.replace('"dim": 64', '"dim": 1e9'), stt), 'LIMIT_EXCEEDED',
      "config.json: 'dim' = 1e+09 exceeds the limit of 16384 (kyutai-wasm config limit for 'dim')"],
    ['weights that are not safetensors', () => engine.loadLm(sttConfig, Buffer.from('<!DOCTYPE html><html>not found</html>')),
      'LIMIT_EXCEEDED', 'safetensors: header length 5789751444030890300 bytes exceeds the limit of 104857600 bytes'],
    ['an unknown weight format', () => engine.loadLm(sttConfig, stt, { format: 'q9' }), 'INVALID_ARGUMENT',
      "weight format 'q9' is not one of auto, f32, bf16, q8, q4"],
    // Used to escape as an Embind BindingError, leaking the loader's heap and 3 handles a time.
    ['a weight format that is not a string', () => engine.loadLm(sttConfig, stt, { format: 5 }), 'INVALID_ARGUMENT',
      'weight format must be a string (auto, f32, bf16, q8, q4), got number'],
    ['tokenizer bytes that are not a SentencePiece model', () => engine.loadTokenizer(Buffer.from('{"not": "a tokenizer"}\n')),
      'INVALID_CHECKPOINT', 'protobuf: malformed ModelProto at byte 1 of 23: field 15 uses the unsupported group encoding'],
    ['an empty tokenizer', () => engine.loadTokenizer(new Uint8Array(0)), 'INVALID_CHECKPOINT',
      'tokenizer: model has no pieces (0 bytes; not a SentencePiece model?)'],
  ];
  if (typeof engine.loadMimi === 'function') {
    const mimiConfig = text('mimi/config.json');
    const mimi = read('mimi/weights.safetensors');
    const cut = Math.floor(mimi.length * 3 / 4);
    cases.push(
      ['Mimi weights of another model', () => engine.loadMimi(mimiConfig, lm), 'INVALID_CHECKPOINT',
        "unexpected tensor 'depformer.layers.0.gating.0.linear_in.weight' [264, 48]: this configuration has no such weight"],
      ['truncated Mimi weights', () => engine.loadMimi(mimiConfig, mimi.subarray(0, cut)), 'INVALID_CHECKPOINT',
        `safetensors: stream ended after ${cut} bytes, inside tensor '${tensorAt(mimi, cut)}' (file should have ${mimi.length} bytes)`],
      ['a Mimi config with an absurd size', () => engine.loadMimi(mimiConfig.replace('"bins": 32', '"bins": 1e7'), mimi),
        'LIMIT_EXCEEDED',
        "mimi config.json quantizer: 'bins' = 1e+07 exceeds the limit of 65536 (kyutai-wasm config limit for 'bins')"],
    );
  }
  const runAll = async () => {
    for (const [, run, code, message] of cases) await expectKyutaiError(run, code, message);
  };
  await runAll();  // warm-up
  const before = usage();
  for (let round = 0; round < 3; round++) await runAll();
  assert.deepEqual(usage(), before, 'heap in use / handles after failed loads');

  // Nothing is poisoned: the right bytes load and run.
  const model = await engine.loadLm(sttConfig, stt);
  const s = model.createAsrSession();
  assert.equal(typeof s.pushFrame(new Int32Array(8).fill(1)).textToken, 'number');
  model.dispose();
});

test('bad frames from JavaScript are refused and the session continues as if they never came', async () => {
  const stt = await loadLm('stt');
  const moshi = await loadLm('lm');
  const asr = stt.createAsrSession();
  const twin = stt.createAsrSession();
  const duplex = moshi.createDuplexSession({ sampling: true, seed: 9 });
  const duplexTwin = moshi.createDuplexSession({ sampling: true, seed: 9 });
  const tts = moshi.createTtsSession();
  const ok = new Int32Array(8).fill(2);
  const arg = 'INVALID_ARGUMENT';
  const before = usage();
  for (let round = 0; round < 2; round++) {
    await expectKyutaiError(() => asr.pushFrame(new Float32Array(8)), arg,
      'audio frame: expected an Int32Array of token ids, got Float32Array (token dtype must be an integer type)');
    await expectKyutaiError(() => asr.pushFrame(null), arg,
      'audio frame: expected an Int32Array of token ids, got nothing (token dtype must be an integer type)');
    await expectKyutaiError(() => asr.pushFrame([1.5, 0, 0, 0, 0, 0, 0, 0]), arg, 'audio frame: element 0 (1.5) is not a 32-bit integer');
    await expectKyutaiError(() => asr.pushFrame([0, 'x', 0, 0, 0, 0, 0, 0]), arg, 'audio frame: element 1 (nan) is not a 32-bit integer');
    await expectKyutaiError(() => asr.pushFrame([0, 0, 2 ** 40, 0, 0, 0, 0, 0]), arg,
      'audio frame: element 2 (1.09951e+12) is not a 32-bit integer');
    await expectKyutaiError(() => asr.pushFrame(new Int32Array(7)), arg, 'expected 8 codebooks in the audio frame, got 7');
    await expectKyutaiError(() => asr.pushFrame(Int32Array.of(0, 0, 0, 32, 0, 0, 0, 0)), arg,
      'audio codebook 3: token 32 is out of range (expected -1 or 0..31)');
    await expectKyutaiError(() => duplex.pushFrame(new Int32Array(16)), arg, 'expected 8 codebooks in the user frame, got 16');
    await expectKyutaiError(() => duplex.pushFrame(Int32Array.of(-2, 0, 0, 0, 0, 0, 0, 0)), arg,
      'user codebook 0: token -2 is out of range (expected -1 or 0..31)');
    await expectKyutaiError(() => tts.pushText(101), arg, 'text token 101 is out of range (expected -1 or 0..100)');
    // 65536 x 65536 tokens claimed, none given: the 32-bit size product wraps to 0.
    await expectKyutaiError(() => stt.forwardAsr({ text: { data: new Int32Array(0), shape: [65536, 65536] } }), arg,
      'text tokens: shape [65536, 65536] does not match 0 values');
  }
  assert.deepEqual(usage(), before, 'refused frames allocate nothing that stays');
  for (let i = 0; i < 20; i++) {
    const frame = Int32Array.from({ length: 8 }, (_, k) => (i * 7 + k) % 33 - 1);
    const a = asr.pushFrame(frame);
    const b = twin.pushFrame(frame);
    assert.equal(a.textToken, b.textToken);
    assert.deepEqual(a.vad, b.vad);
    const c = duplex.pushFrame(frame);
    const d = duplexTwin.pushFrame(frame);
    assert.deepEqual(c, d);
  }
  if (typeof engine.loadMimi === 'function') {
    const codec = await engine.loadMimi(text('mimi/config.json'), read('mimi/weights.safetensors'));
    const stream = codec.createStream();
    const streamTwin = codec.createStream();
    const pcm = Float32Array.from({ length: codec.frameSize }, (_, i) => 0.3 * Math.sin(i / 50));
    const nan = pcm.slice();
    nan[7] = NaN;
    await expectKyutaiError(() => stream.encodeStep(nan), arg, 'Mimi: audio sample 7 is NaN; samples must be finite');
    nan[7] = Infinity;
    await expectKyutaiError(() => stream.encodeStep(nan), arg, 'Mimi: audio sample 7 is infinite; samples must be finite');
    for (let i = 0; i < 4; i++) assert.deepEqual(stream.encodeStep(pcm), streamTwin.encodeStep(pcm));
    codec.dispose();
  }
  ok.fill(1);
  assert.equal(typeof asr.pushFrame(ok).textToken, 'number');
  stt.dispose();
  moshi.dispose();
  assert.ok(asr.disposed && duplex.disposed && tts.disposed);
});

// loadModel with a Mimi frame tokenizer: Mimi's weights stream in after the LM's. When Mimi's
// load fails, or loadModel is aborted while Mimi's bytes stream in, the LM is freed too, and the
// abort stops the stream at once instead of after the last byte.
test('loadModel: a Mimi load that fails or is aborted mid-stream leaves no model behind', { skip: typeof engine.loadMimi !== 'function' }, async () => {
  const { RpcClient, inProcessEndpoint } = await import('../../web/src/client.js');
  const sttConfig = text('stt/config.json');
  const stt = read('stt/weights.safetensors');
  const mimiConfig = text('mimi/config.json');
  const mimi = read('mimi/weights.safetensors');
  let mimiChunks = 0;
  // Chunks of 4 KiB, each after a macrotask, as a network stream delivers them; `onChunk` runs
  // before each.
  const chunked = (bytes, onChunk = () => {}) => (async function* () {
    for (let at = 0; at < bytes.length; at += 4096) {
      await new Promise((resolve) => setTimeout(resolve, 0));
      onChunk();
      yield bytes.subarray(at, at + 4096);
    }
  })();
  const load = (mimiWeights, abort = null) => {
    const client = new RpcClient(inProcessEndpoint({ engine }));
    return client.call(0, 'loadModel', [{
      config: sttConfig, weights: stt, abort,
      frameTokenizer: { type: 'mimi', config: mimiConfig, weights: mimiWeights },
    }]).finally(() => client.close());
  };
  const before = usage();
  const cut = Math.floor(mimi.length / 2);
  await expectKyutaiError(() => load(chunked(mimi.subarray(0, cut))), 'INVALID_CHECKPOINT',
    `safetensors: stream ended after ${cut} bytes, inside tensor '${tensorAt(mimi, cut)}' (file should have ${mimi.length} bytes)`);
  const channel = new MessageChannel();
  const chunks = Math.ceil(mimi.length / 4096);
  await expectKyutaiError(() => load(chunked(mimi, () => {
    if (++mimiChunks === 3) channel.port1.postMessage('abort');
  }), channel.port2), 'ABORTED', /: loading was aborted$/);
  channel.port1.close();
  assert.ok(mimiChunks < chunks / 2, `the abort stopped Mimi's stream (${mimiChunks} of ${chunks} chunks read)`);
  assert.deepEqual(usage(), before, 'heap in use / handles after the failed and the aborted load');
});

// A safetensors file of `total` bytes whose header declares `tensors` ({name: {dtype, shape, data_offsets}}).
function declaring(tensors, total) {
  const json = Buffer.from(JSON.stringify(tensors));
  const out = Buffer.alloc(Math.max(total, 8 + json.length + 1));
  out.writeBigUInt64LE(BigInt(json.length), 0);
  json.copy(out, 8);
  return new Uint8Array(out);
}

test('a 160-byte file declaring a 2 GiB tensor is refused before the heap grows', async () => {
  const sttConfig = text('stt/config.json');
  const huge = { dtype: 'F32', shape: [2 ** 29], data_offsets: [0, 2 ** 31] };
  const before = engine.heapBytes();
  await expectKyutaiError(() => engine.loadLm(sttConfig, declaring({ huge }, 160)), 'INVALID_CHECKPOINT',
    "unexpected tensor 'huge' [536870912]: this configuration has no such weight");
  await expectKyutaiError(() => engine.loadLm(sttConfig, declaring({ 'text_emb.weight': huge }, 160)), 'INVALID_CHECKPOINT',
    "tensor 'text_emb.weight' [536870912] has 2147483648 bytes; this configuration's weight of that name takes at most 25856");
  assert.ok(engine.heapBytes() - before < 64 << 20, `the heap grew from ${before} to ${engine.heapBytes()} bytes`);
});

test('NaN or infinite weights are refused at load with the tensor name, unless allowNonFinite', async () => {
  const sttConfig = text('stt/config.json');
  const stt = Buffer.from(read('stt/weights.safetensors'));
  const n = Number(stt.readBigUInt64LE(0));
  const alpha = JSON.parse(stt.subarray(8, 8 + n).toString())['out_norm.alpha'];
  for (const bad of [NaN, Infinity, -Infinity]) {
    const poisoned = Buffer.from(stt);
    poisoned.writeFloatLE(bad, 8 + n + alpha.data_offsets[0] + 4 * 5);
    await expectKyutaiError(() => engine.loadLm(sttConfig, poisoned), 'INVALID_CHECKPOINT',
      "tensor 'out_norm.alpha' [1, 1, 64]: element 5 is NaN or infinite (load with allowNonFinite to accept such weights)");
    const model = await engine.loadLm(sttConfig, poisoned, { allowNonFinite: true });
    model.dispose();
  }
});
