// Live streams of results (web/src/result-stream.js).
import type { Listener } from './dom.js';
import type { KyutaiError } from './errors.js';
import type { StreamStats, Word } from './sessions.js';

export interface StreamEnd {
  stats: StreamStats;
  /** Words flushed at the end. */
  words: Word[];
  error?: KyutaiError;
}

export interface ResultStreamEventMap<T> {
  result: CustomEvent<T>;
  stats: CustomEvent<StreamStats>;
  error: CustomEvent<KyutaiError>;
  end: CustomEvent<StreamEnd>;
}

/** Results of a live stream, as events and as an async iterator. */
export class ResultStream<T> extends EventTarget implements AsyncIterable<T> {
  readonly id: number;
  readonly stats: StreamStats | null;
  readonly results: number;
  readonly error: KyutaiError | null;
  readonly closed: boolean;
  /** Resolves when the stream ends (closed, input finished, or failed). */
  readonly ended: Promise<StreamEnd>;
  addEventListener<K extends keyof ResultStreamEventMap<T>>(type: K, listener: (event: ResultStreamEventMap<T>[K]) => void, options?: boolean | AddEventListenerOptions): void;
  addEventListener(type: string, listener: Listener | null, options?: boolean | AddEventListenerOptions): void;
  /** Resolves once `n` frames were processed or dropped (or the stream ended). */
  whenProcessed(n: number): Promise<StreamStats>;
  close(): Promise<StreamEnd>;
  [Symbol.asyncIterator](): AsyncIterator<T>;
}
