// Errors of the engine (web/src/errors.js).

/** Stable error codes of the engine. */
export type KyutaiErrorCode =
  | 'INVALID_ARGUMENT' | 'INVALID_CHECKPOINT' | 'INVALID_CONFIG' | 'LIMIT_EXCEEDED'
  | 'UNSUPPORTED' | 'INVALID_STATE' | 'OUT_OF_MEMORY' | 'INTERNAL'
  /** At load: a file, URL or engine module that is not there (HTTP 404, no such path). */
  | 'NOT_FOUND'
  /** At load: a request that failed (unreachable server, CORS, an HTTP error other than 404), or a source that failed mid-read. */
  | 'NETWORK'
  /** loadModel's `signal` was aborted. */
  | 'ABORTED';

/** Every error of the engine, also when it crossed from the worker: the engine's message and a stable code. */
export class KyutaiError extends Error {
  constructor(message: string, code?: KyutaiErrorCode);
  readonly name: 'KyutaiError';
  readonly code: KyutaiErrorCode;
}
