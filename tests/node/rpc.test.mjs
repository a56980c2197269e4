// The RPC layer between the API and the engine (web/src/host.js, client.js): the message
// format both paths share, errors that keep name/code/message, calls kept in order.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { Host, collectTransfer } from '../../web/src/host/host.js';
import { RpcClient, inProcessEndpoint } from '../../web/src/client.js';
import { KyutaiError, serializeError, deserializeError } from '../../web/src/errors.js';
import { createEngine } from '../../web/src/engine.js';

const read = (p) => fs.readFileSync(new URL(`../data/${p}`, import.meta.url));
const engine = await createEngine();

// A Host whose outgoing messages are recorded.
function recordingHost() {
  const sent = [];
  const host = new Host((message, transfer) => sent.push({ message, transfer }), { engine });
  return { host, sent };
}

test('messages: result, progress and error, as documented in host.js', async () => {
  const { host, sent } = recordingHost();
  await host.handle({ type: 'call', id: 1, target: 0, method: 'loadModel', args: [{ config: read('stt/config.json').toString(), weights: read('stt/weights.safetensors') }] });
  const progress = sent.filter((s) => s.message.type === 'progress');
  assert.ok(progress.length >= 1 && progress.every((p) => p.message.id === 1));
  const result = sent.at(-1).message;
  assert.equal(result.type, 'result');
  assert.equal(result.id, 1);
  assert.equal(result.value.config.nQ, 8);
  const modelId = result.value.id;

  await host.handle({ type: 'call', id: 2, target: modelId, method: 'createSession', args: ['asr'] });
  const sessionId = sent.at(-1).message.value.id;
  await host.handle({ type: 'call', id: 3, target: sessionId, method: 'pushFrame', args: [new Int32Array(8)] });
  const step = sent.at(-1);
  assert.equal(step.message.value.step, 1);
  assert.ok(step.transfer.includes(step.message.value.vad.buffer), 'fresh result arrays are transferred, not copied');

  const errorOf = async (msg) => {
    await host.handle(msg);
    const m = sent.at(-1).message;
    assert.equal(m.type, 'error');
    assert.equal(m.id, msg.id);
    return m.error;
  };
  assert.deepEqual({ ...(await errorOf({ type: 'call', id: 4, target: sessionId, method: 'pushFrame', args: [new Int32Array(2)] })), stack: undefined },
    { name: 'KyutaiError', code: 'INVALID_ARGUMENT', message: 'expected 8 codebooks in the audio frame, got 2', stack: undefined });
  assert.equal((await errorOf({ type: 'call', id: 5, target: sessionId, method: 'dispose', args: [] })).code, 'INVALID_ARGUMENT', 'only listed methods are remote');
  assert.equal((await errorOf({ type: 'call', id: 6, target: sessionId, method: 'constructor', args: [] })).code, 'INVALID_ARGUMENT');
  assert.equal((await errorOf({ type: 'call', id: 7, target: 999, method: 'pushFrame', args: [] })).code, 'INVALID_STATE');

  await host.handle({ type: 'call', id: 8, target: 0, method: 'dispose', args: [modelId] });
  assert.equal(sent.at(-1).message.value, true);
  assert.match((await errorOf({ type: 'call', id: 9, target: sessionId, method: 'pushFrame', args: [new Int32Array(8)] })).message, /does not exist/, 'sessions go with their model');
  const before = sent.length;
  await host.handle({ type: 'not-a-call' });
  assert.equal(sent.length, before, 'other messages are ignored');
});

test('errors keep name, code and message across the boundary', () => {
  const k = deserializeError(serializeError(new KyutaiError('bad shape', 'INVALID_CONFIG')));
  assert.ok(k instanceof KyutaiError && k.name === 'KyutaiError' && k.code === 'INVALID_CONFIG' && k.message === 'bad shape');
  assert.match(k.stack, /in the engine/);
  const t = deserializeError(serializeError(new TypeError('not a stream')));
  assert.ok(t instanceof TypeError && !(t instanceof KyutaiError) && t.message === 'not a stream');
  const s = deserializeError(serializeError('plain string'));
  assert.equal(s.message, 'plain string');
  // structuredClone is what postMessage does: the serialized form survives it.
  const cloned = deserializeError(structuredClone(serializeError(new KyutaiError('m', 'OUT_OF_MEMORY'))));
  assert.equal(cloned.code, 'OUT_OF_MEMORY');
});

test('collectTransfer takes whole buffers only (never a view into something larger)', () => {
  const whole = new Float32Array(4);
  const big = new Uint8Array(16);
  const set = collectTransfer({ a: whole, b: [big.subarray(0, 4)], c: { d: new Int32Array(2) } });
  assert.equal(set.size, 2);
  assert.ok(set.has(whole.buffer));
  assert.ok(!set.has(big.buffer));
});

test('calls on one session keep their order without awaiting each', async () => {
  const client = new RpcClient(inProcessEndpoint({ engine }));
  await client.call(0, 'init', [{}]);
  const model = await client.call(0, 'loadModel', [{ config: read('stt/config.json').toString(), weights: read('stt/weights.safetensors') }]);
  const { id } = await client.call(model.id, 'createSession', ['asr']);
  const steps = await Promise.all(Array.from({ length: 20 }, () => client.call(id, 'pushFrame', [new Int32Array(8).fill(1)])));
  assert.deepEqual(steps.map((s) => s.step), Array.from({ length: 20 }, (_, i) => i + 1));
  await client.call(0, 'dispose', [model.id]);
  client.close();
  await assert.rejects(client.call(id, 'pushFrame', [new Int32Array(8)]), (e) => e.code === 'INVALID_STATE' && /shut down/.test(e.message));
});
