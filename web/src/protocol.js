// The RPC protocol between the public API (index.js, transcriber.js) and the engine side
// (host/): for each concept, the methods a caller may invoke on its objects, and which client
// classes expose which of them as plain forwarding methods. Both sides import this module:
// the Host refuses any method not listed for the receiver's concept, and the client proxies
// are generated from `clients` (client method name -> remote method name). Methods listed but
// not proxied have hand-written client methods (transfer lists, events, result streams) or
// are used internally by the API.
//
// Message format: see host/host.js.
import { KyutaiError } from './errors.js';
import {
  invalid, args, options, optional, either, int, codes, number, bool, string, oneOf, intArray, samples, port,
  SEED, TEMPERATURE, TOP_K, TOKEN, MAX_QUEUED_FRAMES,
} from './validate.js';

export const PROTOCOL = {
  host: {
    methods: ['init', 'loadModel', 'dispose', 'describe'],
    clients: {},
  },
  model: {
    methods: ['createSession', 'createTranscriber', 'createSpeaker', 'createVoice', 'describe', 'textEncode', 'textDecode', 'textDecodeWord', 'textIdToPiece',
      'backendStatus', 'simulateDeviceLoss'],
    clients: {
      KyutaiModel: { simulateDeviceLoss: 'simulateDeviceLoss', createVoice: 'createVoice' },
      TextTokenizer: { encode: 'textEncode', decode: 'textDecode', decodeWord: 'textDecodeWord', idToPiece: 'textIdToPiece' },
    },
  },
  session: {
    methods: ['pushFrame', 'pushAudio', 'pushText', 'flush', 'reset', 'connect', 'speak'],
    clients: {
      Session: { reset: 'reset', flush: 'flush' },
      AsrSession: { pushFrame: 'pushFrame', pushAudio: 'pushAudio' },
      DuplexSession: { pushFrame: 'pushFrame', pushAudio: 'pushAudio' },
      TtsSession: { pushText: 'pushText' },
    },
  },
  transcriber: {
    methods: ['pushAudio', 'pushCodes', 'flush', 'reset', 'connect'],
    clients: { Transcriber: { reset: 'reset' } },
  },
  audioStream: {
    methods: ['stats', 'close'],
    clients: {},
  },
  speech: {
    methods: ['close'],
    clients: {},
  },
  // Kyutai's TTS (host/speaker.js). The caller's methods are hand-written (speaker.js): they
  // keep the time of the first text for stats.firstAudioMs.
  speaker: {
    methods: ['pushText', 'end', 'connect'],
    clients: {},
  },
};

// loadModel's options that cross to the Host unchanged, by who reads them; the one list of
// their names. `engine`: the WebAssembly module (createEngine, Host.init); `loader`: the
// weights loader (engine.loadLm, whose binding checks them); `host`: the Host's own choices.
// index.js copies them from the caller's options (a name not listed never crosses) and
// every layer hands a group on as one object.
export const LOAD_OPTIONS = {
  engine: ['threads', 'moduleUrl', 'assetBase', 'relaxedSimd'],
  loader: ['format', 'threads', 'kvCache', 'allowNonFinite', 'maxBytes'],
  host: ['backend', 'cache'],
};

// The options of `group` that `options` sets (undefined ones left out).
export function pickOptions(group, options = {}) {
  const out = {};
  for (const name of LOAD_OPTIONS[group]) if (options?.[name] !== undefined) out[name] = options[name];
  return out;
}

// One schema per remote method (web/src/validate.js): the Host checks a call's arguments
// against it before the receiver runs, so a refused call never reaches the engine. Every
// method listed in PROTOCOL has one (the rpc test checks).
const GENERATION = options({
  sampling: optional(bool()), temperature: TEMPERATURE, textTemperature: TEMPERATURE,
  topK: TOP_K, textTopK: TOP_K, seed: SEED, mirror: optional(bool()),
});
// createSpeaker: `voice` as the caller's side made it (inputs.js bytesSource: a URL, bytes, a
// Blob or a stream; the engine reads and checks it), or a voice latent {data, shape} (Mimi's
// encode_to_latent: the hook for a recorded voice). cfg's accepted values depend on the model
// (its cfg LUT, or (0, 100] for real CFG): the engine checks them.
const SPEAKER_OPTIONS = options({
  voice: (value, name) => {
    if (value === undefined || value === null) throw invalid(name, value, 'a voice: the URL or bytes of a kyutai/tts-voices file');
  },
  cfg: optional(number()), nQ: optional(int(0, 1024)), sampling: optional(bool()), temperature: TEMPERATURE, seed: SEED,
  maxGenLength: optional(int(1)),
});
const FLOAT_OR_INFINITY = either('a number >= 0 (Infinity: no limit)', number(0), oneOf(Infinity));

export const SCHEMAS = {
  host: {
    init: args(['options', options({ threads: optional(int(1, 1024)), relaxedSimd: optional(bool()) })]),
    loadModel: args(['options', options({
      // LOAD_OPTIONS.loader but maxBytes, and backend: checked by the engine / host before loading.
      config: string(),
      cache: optional(either('true, false, \'off\', \'use\' or \'reload\'', bool(), oneOf('off', 'use', 'reload'))),
      maxBytes: optional(FLOAT_OR_INFINITY),
      weightsSize: optional(number(0)),
      abort: optional(port()),  // loadModel({signal}): see index.js
    })]),
    dispose: args(['id', int(0, Number.MAX_SAFE_INTEGER)]),
    describe: args(),
  },
  model: {
    createSession: args(['kind', oneOf('asr', 'tts', 'duplex')], ['options', GENERATION]),
    createTranscriber: args(['options', options({
      vadHead: optional(int(0, 255)), endOfTurnThreshold: optional(number(0, 1)),
      temperature: TEMPERATURE, seed: SEED, silenceCodes: optional(codes((model) => model)),
    })]),
    createSpeaker: args(['options', SPEAKER_OPTIONS]),
    // The engine checks the recording's length against the voice recipe (src/session/tts_voice.h).
    createVoice: args(['samples', samples()], ['options', options({ seconds: optional(number()) })]),
    describe: args(),
    textEncode: args(['text', string()]),
    textDecode: args(['ids', intArray(0)]),
    textDecodeWord: args(['ids', intArray(0)]),
    textIdToPiece: args(['id', int(0)]),
    backendStatus: args(),
    simulateDeviceLoss: args(),
  },
  session: {
    pushFrame: args(['codes', codes((session) => session.model)]),
    pushAudio: args(['samples', samples()]),
    pushText: args(['token', TOKEN]),
    flush: args(),
    reset: args(),
    connect: args(['port', port()], ['options', options({ maxQueuedFrames: MAX_QUEUED_FRAMES, playback: optional(port()) })]),
    speak: args(['tokens', intArray(-1, undefined, { maxLength: 1 << 20 })],
      ['options', options({ tailFrames: optional(int(0, 100000)), playback: optional(port()) })]),
  },
  transcriber: {
    pushAudio: args(['samples', samples()]),
    pushCodes: args(['codes', codes((transcriber) => transcriber.model)]),
    flush: args(),
    reset: args(),
    connect: args(['port', port()], ['options', options({ maxQueuedFrames: MAX_QUEUED_FRAMES })]),
  },
  audioStream: { stats: args(), close: args() },
  speech: { close: args() },
  speaker: {
    pushText: args(['text', string()]),
    end: args(),
    connect: args(['playback', port()]),
  },
};

// Host side: throws KyutaiError('INVALID_ARGUMENT') unless `values` fit the method's schema.
// `receiver` (the servant called) gives the model for model-dependent ranges.
export function checkArgs(concept, method, values, receiver) {
  const schema = SCHEMAS[concept]?.[method];
  if (!schema) throw new KyutaiError(`protocol: ${concept}.${method} has no schema`, 'INTERNAL');
  if (!Array.isArray(values)) throw new KyutaiError(`${method}: arguments must be an array`, 'INVALID_ARGUMENT');
  schema(values, method, receiver);
}

// Client objects send a call through this method: (remoteMethod, args, options) -> Promise.
export const CALL = Symbol('kyutai.call');

// Host side: may `method` be called on an object of `concept`?
export function isRemoteMethod(concept, method) {
  return PROTOCOL[concept]?.methods.includes(method) ?? false;
}

// Client side: for each client class given by name ({KyutaiModel, TextTokenizer}: names that
// survive minification), adds to its prototype one forwarding method per entry of the
// concept's `clients[name]`, each calling this[CALL](remoteMethod, args). A client or method
// the protocol does not list, or a method the class already defines by hand, is a bug.
export function defineProxies(concept, classes) {
  for (const [client, Class] of Object.entries(classes)) {
    const names = PROTOCOL[concept]?.clients[client];
    if (!names) throw new KyutaiError(`protocol: ${concept} has no client ${client}`, 'INTERNAL');
    for (const [name, remote] of Object.entries(names)) {
      if (!isRemoteMethod(concept, remote)) throw new KyutaiError(`protocol: ${concept} has no method ${remote}`, 'INTERNAL');
      if (Object.hasOwn(Class.prototype, name)) throw new KyutaiError(`protocol: ${client}.${name} is hand-written`, 'INTERNAL');
      Object.defineProperty(Class.prototype, name, {
        value: { [name](...args) { return this[CALL](remote, args); } }[name],
        writable: true,
        configurable: true,
      });
    }
  }
}
