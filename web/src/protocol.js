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

export const PROTOCOL = {
  host: {
    methods: ['init', 'loadModel', 'dispose', 'describe'],
    clients: {},
  },
  model: {
    methods: ['createSession', 'createTranscriber', 'describe', 'textEncode', 'textDecode', 'textDecodeWord', 'textIdToPiece',
      'backendStatus', 'simulateDeviceLoss'],
    clients: {
      KyutaiModel: { simulateDeviceLoss: 'simulateDeviceLoss' },
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
};

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
