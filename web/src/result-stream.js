// Results of a live stream (a session's connect() or speak(), a transcriber's connect()):
// events ('result', 'stats', 'error', 'end'; the data is in event.detail) and an async
// iterator of results.
import { KyutaiError } from './errors.js';
import { int } from './validate.js';

export class ResultStream extends EventTarget {
  #client;
  #unsubscribe;
  #buffer = [];
  #waiters = [];
  #iterating = false;
  #watchers = [];

  #held = [];

  constructor(client, id) {
    super();
    this.#client = client;
    this.id = id;
    this.stats = null;
    this.results = 0;
    this.error = null;
    this.closed = false;
    this.ended = new Promise((resolve) => {
      this.#unsubscribe = client.subscribe(id, (name, data) => {
        if (this.#held) this.#held.push([name, data, resolve]);
        else this.#event(name, data, resolve);
      });
    });
    // Events that arrive before the caller got this object (audio may start flowing while
    // connect() is still finishing) are held until the task after it was handed over, so
    // listeners added right after `await session.connect()` miss nothing.
    this.ready = new Promise((resolve) => setTimeout(() => {
      const held = this.#held;
      this.#held = null;
      for (const args of held) this.#event(...args);
      resolve();
    }, 0));
  }

  #event(name, data, resolveEnd) {
    if (name === 'result') {
      this.results++;
      this.stats = data.stats ?? this.stats;
    } else if (name === 'stats') {
      this.stats = data;
    } else if (name === 'error') {
      data = this.error = deserializeStreamError(data);
    } else if (name === 'end') {
      this.stats = data.stats;
    }
    this.dispatchEvent(new CustomEvent(name, { detail: data }));
    if (this.#iterating && (name === 'result' || name === 'error' || name === 'end')) this.#offer({ name, data });
    this.#checkWatchers();
    if (name === 'end' || name === 'error') {
      this.closed = true;
      if (name === 'end') resolveEnd(data);
      else resolveEnd({ stats: this.stats, words: [], error: data });
      this.#unsubscribe();
      this.#checkWatchers(true);
    }
  }

  #offer(item) {
    const waiter = this.#waiters.shift();
    if (waiter) waiter(item);
    else this.#buffer.push(item);
  }

  #checkWatchers(final = false) {
    const s = this.stats;
    this.#watchers = this.#watchers.filter(({ n, resolve, reject }) => {
      if (s && s.framesProcessed + s.dropped >= n) {
        resolve(s);
        return false;
      }
      if (final) {
        if (this.error) reject(this.error);
        else resolve(s);
        return false;
      }
      return true;
    });
  }

  // Resolves with the stats once `n` frames were processed or dropped (or the stream ended).
  whenProcessed(n) {
    return new Promise((resolve, reject) => {
      int(0, Number.MAX_SAFE_INTEGER)(n, 'whenProcessed(n)');  // thrown here: the promise rejects
      this.#watchers.push({ n, resolve, reject });
      this.#checkWatchers(this.closed);
    });
  }

  async *[Symbol.asyncIterator]() {
    this.#iterating = true;
    for (;;) {
      const item = this.#buffer.length ? this.#buffer.shift() : await new Promise((r) => this.#waiters.push(r));
      if (item.name === 'result') yield item.data;
      else if (item.name === 'error') throw item.data;
      else return;
    }
  }

  // Stops the stream; resolves with {stats, words} (the words still pending are flushed).
  async close() {
    if (!this.closed) {
      try {
        await this.#client.call(this.id, 'close');
      } catch (e) {
        if (e.code !== 'INVALID_STATE') throw e;  // already ended on the engine side
      }
    }
    return this.ended;
  }
}

function deserializeStreamError(data) {
  const e = new KyutaiError(data.message, data.code ?? 'INTERNAL');
  if (data.name && data.name !== 'KyutaiError') e.name = data.name;
  return e;
}
