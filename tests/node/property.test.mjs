// Issue 30, item 4: a property-based test of the public API (fast-check). Random arguments
// and option objects, hostile and valid mixed, go to every public method of sessions,
// transcribers and models. Each call either succeeds or throws a KyutaiError with a code;
// afterwards the session yields exactly what a twin yields for the same next input, the
// twin having received only the calls that succeeded. Bounded (a few hundred runs), with a
// fixed seed (FC_SEED=n overrides it); a failure prints the seed and the shrunk call list.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { BAND_ENERGY_URL } from './fixtures/band-energy.mjs';
import { loadModel, KyutaiError, FRAME_SIZE } from '../../web/src/index.js';

const SEED = Number(process.env.FC_SEED ?? 30);
const path = (p) => new URL(`../data/${p}`, import.meta.url);
const frameTokenizer = { module: BAND_ENERGY_URL };
const lmOptions = { config: path('lm/config.json'), weights: path('lm/weights.safetensors'), frameTokenizer };
const lm = await loadModel(lmOptions);
const stt = await loadModel({ config: path('stt/config.json'), weights: path('stt/weights.safetensors'), frameTokenizer });

const tone = (k) => Float32Array.from({ length: FRAME_SIZE }, (_, i) => 0.2 * Math.sin((i + 1) * (0.01 + k * 0.003)));

// ---- arbitraries: values a hostile (or careless) caller passes ----
const scalar = fc.oneof(
  fc.integer({ min: -3, max: 40 }),
  fc.integer(),
  fc.double(),
  fc.constantFrom(NaN, Infinity, -Infinity, 2 ** 32 + 5, -0, 1e30, 0.5, 1.5, -1, null, undefined, true, false, '5', '', 'auto', 'bf16'),
  fc.bigInt({ min: -10n, max: 10n }),
  fc.string({ maxLength: 6 }),
);
const code = fc.oneof(fc.integer({ min: -2, max: 33 }), fc.constantFrom(0.5, NaN, '1', null));
// Audio frames and code frames are made when called (typed arrays are fresh per call).
const frameMaker = fc.oneof(
  fc.integer({ min: 0, max: 5 }).map((k) => () => tone(k)),
  fc.integer({ min: 0, max: FRAME_SIZE - 1 }).map((i) => () => Object.assign(tone(1), { [i]: NaN })),
  fc.integer({ min: 0, max: 3000 }).map((n) => () => new Float32Array(n)),
  fc.array(fc.integer({ min: -1, max: 31 }), { minLength: 8, maxLength: 8 }).map((a) => () => Int32Array.from(a)),
  fc.array(code, { maxLength: 17 }).map((a) => () => a.slice()),
  fc.array(fc.integer({ min: -2, max: 120 }), { maxLength: 4 }).map((a) => () => Int32Array.from(a)),
  fc.constant(() => new MessageChannel().port2),
);
const optionKeys = ['seed', 'temperature', 'textTemperature', 'topK', 'textTopK', 'sampling', 'mirror', 'vadHead', 'endOfTurnThreshold',
  'silenceCodes', 'tailFrames', 'maxQueuedFrames', 'playback', 'sampleRate', 'chunkSeconds'];
const optionsArb = fc.oneof(
  fc.dictionary(fc.constantFrom(...optionKeys), fc.oneof(scalar, fc.array(code, { maxLength: 9 })), { maxKeys: 4 }),
  scalar,
);
// One argument: a value, an options object, or a fresh frame/array/port made at call time.
const argument = fc.oneof(
  scalar.map((v) => () => v),
  optionsArb.map((o) => () => (o && typeof o === 'object' ? { ...o } : o)),
  frameMaker,
);
const callArb = (methods) => fc.record({ method: fc.constantFrom(...methods), args: fc.array(argument, { maxLength: 3 }) });

// ---- receivers ----
const KINDS = {
  tts: { make: () => lm.createTtsSession({ sampling: true, seed: 1 }), methods: ['pushText', 'speak', 'flush', 'reset'] },
  duplex: { make: () => lm.createDuplexSession({ sampling: true, seed: 1 }), methods: ['pushFrame', 'pushAudio', 'connect', 'flush', 'reset'] },
  asr: { make: () => stt.createAsrSession(), methods: ['pushFrame', 'pushAudio', 'connect', 'flush', 'reset'] },
  transcriber: { make: () => stt.createTranscriber(), methods: ['pushCodes', 'pushAudio', 'flush', 'reset'] },
};
// The next input both receivers get: the same few steps.
const NEXT = {
  tts: async (s) => [await s.pushText(5), await s.pushText(-1)],
  duplex: async (s) => [await s.pushAudio(tone(2)), await s.pushFrame(Int32Array.of(1, 2, 3, 4, 5, 6, 7, 8))],
  asr: async (s) => [await s.pushAudio(tone(2)), await s.pushFrame(Int32Array.of(1, 2, 3, 4, 5, 6, 7, 8))],
  transcriber: async (t) => [await t.pushAudio(tone(3)), await t.pushCodes(Int32Array.of(1, 2, 3, 4, 5, 6, 7, 8)), await t.flush()],
};

// A call's outcome: the value, or the KyutaiError (anything else fails the property).
async function attempt(receiver, method, args) {
  try {
    let value = await receiver[method](...args);
    // A live stream: let it run to its end (speak) or close it (connect) so nothing steps later.
    if (method === 'speak') await value.ended;
    if (method === 'connect') await value.close();
    if (method === 'speak' || method === 'connect') value = 'stream';
    return { ok: true, value };
  } catch (e) {
    if (!(e instanceof KyutaiError) || typeof e.code !== 'string') {
      throw new Error(`${method}(${args.map(describe).join(', ')}) threw ${e?.constructor?.name}: ${e?.message} (not a KyutaiError)`, { cause: e });
    }
    return { ok: false, error: e };
  }
}

function describe(v) {
  if (ArrayBuffer.isView(v)) return `${v.constructor.name}(${v.length})`;
  try {
    return JSON.stringify(v, (k, x) => (typeof x === 'bigint' ? `${x}n` : x)) ?? String(v);
  } catch {
    return String(v);
  }
}

const report = (e) => `${e.message}\n(fast-check seed ${SEED}; rerun with FC_SEED=${SEED})`;

test('random calls on sessions and transcribers: each succeeds or throws a KyutaiError, and refused ones change nothing', async () => {
  const property = fc.asyncProperty(
    fc.constantFrom(...Object.keys(KINDS)).chain((kind) => fc.tuple(fc.constant(kind), fc.array(callArb(KINDS[kind].methods), { minLength: 1, maxLength: 4 }))),
    async ([kind, calls]) => {
      const target = await KINDS[kind].make();
      const twin = await KINDS[kind].make();
      try {
        for (const { method, args } of calls) {
          const made = args.map((make) => make());
          const outcome = await attempt(target, method, made);
          // The twin gets what succeeded, with equal (fresh) arguments.
          if (outcome.ok) {
            const again = await attempt(twin, method, args.map((make) => make()));
            assert.ok(again.ok, `${method} succeeded on one session and failed on its twin: ${again.error?.message}`);
            assert.deepEqual(again.value, outcome.value, `${method}: twin results differ`);
          }
        }
        assert.deepEqual(await NEXT[kind](target), await NEXT[kind](twin), `${kind}: the session differs from its twin`);
      } finally {
        await target.dispose();
        await twin.dispose();
      }
    },
  );
  await fc.assert(property, { seed: SEED, numRuns: 400 }).catch((e) => assert.fail(report(e)));
});

// Creating methods with random option objects: a usable object (disposed) or a KyutaiError.
const CREATORS = {
  createTtsSession: (o) => lm.createTtsSession(o),
  createDuplexSession: (o) => lm.createDuplexSession(o),
  createAsrSession: (o) => stt.createAsrSession(o),
  createTranscriber: (o) => stt.createTranscriber(o),
  transcribe: (o) => stt.transcribe(tone(1), o),
  textEncode: (o) => lm.call('textEncode', [o]),
  textIdToPiece: (o) => lm.call('textIdToPiece', [o]),
  loadModel: (o) => loadModel({ ...lmOptions, ...(o && typeof o === 'object' ? o : {}), ...(o && typeof o === 'object' ? {} : { format: o }) }),
};

test('random options to every creating method: a working object or a KyutaiError with a code', async () => {
  const property = fc.asyncProperty(fc.constantFrom(...Object.keys(CREATORS)), optionsArb, async (name, options) => {
    let made;
    try {
      made = await CREATORS[name](options && typeof options === 'object' ? { ...options } : options);
    } catch (e) {
      if (!(e instanceof KyutaiError) || typeof e.code !== 'string') {
        throw new Error(`${name}(${describe(options)}) threw ${e?.constructor?.name}: ${e?.message} (not a KyutaiError)`, { cause: e });
      }
      return;
    }
    if (typeof made?.pushText === 'function') await made.pushText(5);
    else if (typeof made?.pushFrame === 'function') await made.pushFrame(Int32Array.of(1, 2, 3, 4, 5, 6, 7, 8));
    else if (typeof made?.pushCodes === 'function') await made.pushCodes(Int32Array.of(1, 2, 3, 4, 5, 6, 7, 8));
    await made?.dispose?.();
  });
  await fc.assert(property, { seed: SEED, numRuns: 200 }).catch((e) => assert.fail(report(e)));
});
