// Errors raised by the engine. `code` is stable (INVALID_ARGUMENT, INVALID_CHECKPOINT,
// INVALID_CONFIG, LIMIT_EXCEEDED, UNSUPPORTED, INVALID_STATE, OUT_OF_MEMORY, INTERNAL);
// `message` is the engine's own text, naming what was wrong.
export class KyutaiError extends Error {
  constructor(message, code = 'INTERNAL') {
    super(message);
    this.name = 'KyutaiError';
    this.code = code;
  }
}

// The WebAssembly bindings return (never throw) an Error object tagged `kyutaiError`.
export function unwrap(result) {
  if (result && typeof result === 'object' && result.kyutaiError === true) {
    throw new KyutaiError(result.message, result.code);
  }
  return result;
}
