// The RPC layer between the API and the engine (web/src/host/host.js, client.js, protocol.js): the message
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

test('messages: result, progress and error, as documented in host/host.js', async () => {
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

test('protocol.js: the servants have every listed method, and the client proxies forward to listed methods only', async () => {
  const { PROTOCOL, CALL, defineProxies, isRemoteMethod } = await import('../../web/src/protocol.js');
  const { ModelServant } = await import('../../web/src/host/model.js');
  const { SessionServant } = await import('../../web/src/host/sessions.js');
  const { TranscriberServant } = await import('../../web/src/host/transcriber.js');
  const { AudioStreamServant, SpeechServant } = await import('../../web/src/host/streams.js');
  const { SpeakerServant } = await import('../../web/src/host/speaker.js');
  const servants = { host: Host, model: ModelServant, session: SessionServant, transcriber: TranscriberServant, audioStream: AudioStreamServant, speech: SpeechServant, speaker: SpeakerServant };
  assert.deepEqual(Object.keys(servants).sort(), Object.keys(PROTOCOL).sort());
  for (const [concept, Servant] of Object.entries(servants)) {
    assert.equal(Servant.protocol, concept);
    for (const m of PROTOCOL[concept].methods) assert.equal(typeof Servant.prototype[m], 'function', `${Servant.name}.${m}`);
  }
  assert.equal(isRemoteMethod('session', 'dispose'), false);
  assert.equal(isRemoteMethod('nothing', 'reset'), false);

  // The generated methods of the public classes, per kind of session.
  const { AsrSession, TtsSession, DuplexSession, TextTokenizer, KyutaiModel } = await import('../../web/src/index.js');
  for (const [Class, has, lacks] of [[AsrSession, ['pushFrame', 'pushAudio', 'reset', 'flush'], ['pushText']],
    [DuplexSession, ['pushFrame', 'pushAudio'], ['pushText', 'speak']], [TtsSession, ['pushText', 'speak', 'reset'], ['pushFrame', 'pushAudio']],
    [TextTokenizer, ['encode', 'decode', 'decodeWord', 'idToPiece'], ['textEncode']], [KyutaiModel, ['simulateDeviceLoss'], ['textEncode', 'describe']]]) {
    for (const m of has) assert.equal(typeof Class.prototype[m], 'function', `${Class.name}.${m}`);
    for (const m of lacks) assert.equal(Class.prototype[m], undefined, `${Class.name} has no ${m}`);
  }

  // A proxy sends (remote name, arguments) through [CALL]; the protocol refuses what it does not list.
  class Probe {
    sent = [];
    [CALL](method, args) {
      this.sent.push([method, args]);
      return 'sent';
    }
  }
  defineProxies('model', { TextTokenizer: Probe });
  const probe = new Probe();
  assert.equal(probe.decodeWord([1, 2]), 'sent');
  assert.equal(Probe.prototype.decodeWord.name, 'decodeWord');
  assert.deepEqual(probe.sent, [['textDecodeWord', [[1, 2]]]]);
  assert.throws(() => defineProxies('model', { Nobody: class {} }), (e) => e.code === 'INTERNAL' && /model has no client Nobody/.test(e.message));
  class HandWritten {
    encode() {}
  }
  assert.throws(() => defineProxies('model', { TextTokenizer: HandWritten }), /TextTokenizer\.encode is hand-written/);
});
