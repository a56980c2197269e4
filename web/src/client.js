// The calling side of the RPC layer (see host/host.js for the message format). An RpcClient sends
// calls to a Host, either through a Web Worker or to a Host in this same thread; it matches
// results to calls, forwards progress to the caller's callback, routes events to the objects
// that subscribed to them, and rebuilds engine errors with their name, code and message.
import { KyutaiError, deserializeError } from './errors.js';
import { Host } from './host/host.js';

export class RpcClient {
  #endpoint;
  #nextId = 1;
  #pending = new Map();
  #listeners = new Map();
  #closed = null;

  // endpoint: {postMessage(message, transfer), setReceiver(fn), close()}
  constructor(endpoint) {
    this.#endpoint = endpoint;
    endpoint.setReceiver((message) => this.#receive(message), (error) => this.#fail(error));
  }

  get inWorker() {
    return this.#endpoint.inWorker;
  }

  call(target, method, args = [], { transfer = [], onProgress } = {}) {
    if (this.#closed) return Promise.reject(this.#closed);
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject, onProgress });
      try {
        this.#endpoint.postMessage({ type: 'call', id, target, method, args }, transfer);
      } catch (e) {
        this.#pending.delete(id);
        reject(e);
      }
    });
  }

  // Events of object `target` go to listener(name, data) until unsubscribe().
  subscribe(target, listener) {
    this.#listeners.set(target, listener);
    return () => this.#listeners.delete(target);
  }

  #receive(message) {
    if (message.type === 'event') {
      this.#listeners.get(message.target)?.(message.name, message.data);
      return;
    }
    const call = this.#pending.get(message.id);
    if (!call) return;
    if (message.type === 'progress') {
      try {
        call.onProgress?.(message.data);
      } catch (e) {
        console.error('kyutai-wasm: onProgress threw', e);
      }
      return;
    }
    this.#pending.delete(message.id);
    if (message.type === 'result') call.resolve(message.value);
    else if (message.type === 'error') call.reject(deserializeError(message.error));
  }

  // The worker died (failed to load its module, ran out of memory...): every pending and
  // future call fails with the reason instead of waiting forever.
  #fail(error) {
    this.#closed = error instanceof Error ? error : new KyutaiError(String(error), 'INTERNAL');
    for (const call of this.#pending.values()) call.reject(this.#closed);
    this.#pending.clear();
    for (const listener of this.#listeners.values()) listener('error', { name: 'KyutaiError', code: this.#closed.code ?? 'INTERNAL', message: this.#closed.message });
    this.#listeners.clear();
  }

  close() {
    if (!this.#closed) this.#fail(new KyutaiError('the engine was shut down (model disposed)', 'INVALID_STATE'));
    this.#endpoint.close();
  }
}

// A module Web Worker running worker.js. The literal `new Worker(new URL(...))` form is what
// bundlers (Vite, webpack 5) recognise to ship the worker; `url` overrides it.
export function workerEndpoint(url) {
  const scriptUrl = url ?? 'the package\'s worker.js';
  const worker = url
    ? new Worker(url, { type: 'module', name: 'kyutai-engine' })
    : new Worker(new URL('./worker.js', import.meta.url), { type: 'module', name: 'kyutai-engine' });
  return {
    inWorker: true,
    postMessage: (message, transfer) => worker.postMessage(message, transfer),
    setReceiver(receive, fail) {
      worker.onmessage = (e) => receive(e.data);
      worker.onerror = (e) => {
        e.preventDefault?.();
        // A script that never ran gives an event with no message: most often a 404 or, on a
        // cross-origin isolated page, a worker script served without the COEP header.
        fail(e.message
          ? new KyutaiError(`the engine worker failed: ${e.message}`, 'INTERNAL')
          : new KyutaiError(`the engine worker could not load ${scriptUrl}: check that it is served (a bundler must emit it; ` +
            'or pass workerUrl) and, on a cross-origin isolated page, that it is served with Cross-Origin-Embedder-Policy: require-corp ' +
            '(or Cross-Origin-Resource-Policy) like the page', 'NOT_FOUND'));
      };
      worker.onmessageerror = () => fail(new KyutaiError('a message from the engine worker could not be deserialised', 'INTERNAL'));
    },
    close: () => worker.terminate(),
  };
}

// A Host in this thread. Messages are the same as with a worker but are not cloned: the host
// reads arguments synchronously and results are fresh objects, so nothing is shared that
// either side could later change. Deliveries are queued as microtasks, in order, so calls
// stay asynchronous exactly as they are through a worker.
export function inProcessEndpoint(hostOptions) {
  let receive = null;
  let closed = false;
  const host = new Host((message) => {
    if (!closed) queueMicrotask(() => receive?.(message));
  }, hostOptions);
  return {
    inWorker: false,
    host,
    postMessage: (message) => queueMicrotask(() => host.handle(message)),
    setReceiver(r) {
      receive = r;
    },
    close() {
      closed = true;
    },
  };
}
