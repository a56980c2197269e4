// Text through the engine's SentencePiece interface: engine.loadTokenizer(bytes) ->
// {vocabSize, encode, decode, decodeWord, idToPiece, dispose}. The engine here gets a test
// double of that object (a piece table), so this checks the wiring: bytes reach the engine,
// ASR words are decoded with decodeWord, TTS text is encoded, calls cross the RPC layer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { read } from './data.mjs';
import { createEngine } from '../../web/src/engine.js';
import { RpcClient, inProcessEndpoint } from '../../web/src/client.js';
import { KyutaiModel } from '../../web/src/index.js';

function pieceTable(vocabSize) {
  const pieces = Array.from({ length: vocabSize }, (_, i) => (i % 4 === 0 ? `\u2581w${i}` : `p${i}`));
  let disposed = false;
  return {
    pieces,
    get disposed() {
      return disposed;
    },
    tokenizer: {
      vocabSize,
      encode: (text) => Int32Array.from(text.split(/\s+/).filter(Boolean).map((w) => pieces.indexOf(w.startsWith('p') ? w : `\u2581${w}`))),
      decode: (ids) => Array.from(ids, (i) => pieces[i]).join('').replaceAll('\u2581', ' ').trim(),
      decodeWord: (ids) => Array.from(ids, (i) => pieces[i]).join('').replace(/^\u2581/, ''),
      idToPiece: (id) => pieces[id],
      dispose: () => (disposed = true),
    },
  };
}

// The engine decodes the words of its sessions itself, with the SentencePiece model behind the
// tokenizer's handle: the double carries a real one (tests/data/tts), so word text is that model's.
async function modelWithTokenizer(dir) {
  const engine = await createEngine();
  const table = pieceTable(100);
  const real = await engine.loadTokenizer(read('tts/tokenizer.model'));
  table.tokenizer.handle = real.handle;
  table.real = real;
  let received = null;
  engine.loadTokenizer = (bytes) => {
    received = bytes;
    return table.tokenizer;
  };
  const client = new RpcClient(inProcessEndpoint({ engine }));
  const engineInfo = await client.call(0, 'init', [{}]);
  const info = await client.call(0, 'loadModel', [{
    config: read(`${dir}/config.json`).toString(), weights: read(`${dir}/weights.safetensors`), tokenizer: new Uint8Array([9, 8, 7]),
  }]);
  return { model: new KyutaiModel(client, info, engineInfo), table, received: () => received, engineInfo };
}

test('the tokenizer bytes reach engine.loadTokenizer; its methods are reachable through the model', async () => {
  const { model, table, received, engineInfo } = await modelWithTokenizer('stt');
  assert.equal(engineInfo.textTokenizer, true);
  assert.deepEqual(Array.from(received()), [9, 8, 7]);
  assert.equal(model.textTokenizer.vocabSize, 100);
  assert.deepEqual(Array.from(await model.textTokenizer.encode('w4 p5 w8')), [4, 5, 8]);
  assert.equal(await model.textTokenizer.decode([4, 5, 8]), 'w4p5 w8');
  assert.equal(await model.textTokenizer.decodeWord(Int32Array.from([4, 5])), 'w4p5');
  assert.equal(await model.textTokenizer.idToPiece(12), '\u2581w12');
  await model.dispose();
  assert.equal(table.disposed, true, 'disposed with its model');
});

test('ASR words are decoded by the tokenizer as they become final; padding never shows', async () => {
  const { model, table } = await modelWithTokenizer('stt');
  const run = JSON.parse(read('stt/vectors.json')).asr_streaming_first_frame_twice;
  const [, Q, F] = run.audio_codes.shape;
  const session = await model.createAsrSession();
  for (let f = 0; f < F; f++) await session.pushFrame(Int32Array.from({ length: Q }, (_, q) => run.audio_codes.data[q * F + f]));
  const [word] = await session.flush();
  const tokens = run.text_token.data.slice(5, F);  // after the 6-step ASR delay
  assert.deepEqual(Array.from(word.tokens), tokens);
  assert.equal(word.text, table.real.decodeWord(Int32Array.from(tokens)), 'decoded by the engine');
  assert.ok(!word.tokens.includes(model.config.textPaddingId) && !word.tokens.includes(model.config.textEndPaddingId));
  await model.dispose();
});

test('TTS: speak(text) encodes the text and forces its tokens, one per frame', async () => {
  const { model, table } = await modelWithTokenizer('lm');
  const tts = await model.createTtsSession();
  const stream = await tts.speak('w4 p5 w12', { tailFrames: 1 });
  const steps = [];
  for await (const r of stream) steps.push(r);
  assert.deepEqual(steps.map((r) => r.textToken), [4, 5, 12, model.config.textPaddingId]);
  const end = await stream.ended;
  assert.equal(end.stats.framesProcessed, 4);
  // The forced tokens come back as text: the padding frame makes the pending tokens a word
  // (Kyutai's rule: words end at padding, not at word-initial pieces).
  const words = [...steps.flatMap((r) => r.words), ...end.words];
  assert.deepEqual(words.map((w) => w.text), [table.real.decodeWord(Int32Array.from([4, 5, 12]))]);
  assert.equal(steps[3].words.length, 1, 'final at the padding frame');
  await model.dispose();
});
