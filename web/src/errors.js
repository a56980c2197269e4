// Errors raised by the engine. `code` is stable (INVALID_ARGUMENT, INVALID_CHECKPOINT,
// INVALID_CONFIG, LIMIT_EXCEEDED, UNSUPPORTED, INVALID_STATE, OUT_OF_MEMORY, INTERNAL, and at
// load NOT_FOUND: a file, URL or engine module that is not there; NETWORK: a request that
// failed); `message` is the engine's own text, naming what was wrong.
export class KyutaiError extends Error {
  constructor(message, code = 'INTERNAL') {
    super(message);
    this.name = 'KyutaiError';
    this.code = code;
  }
}

// A load failure with its underlying error kept as `cause`.
export function loadError(message, code, cause) {
  const error = new KyutaiError(message, code);
  if (cause !== undefined) error.cause = cause;
  return error;
}

// The WebAssembly bindings return (never throw) an Error object tagged `kyutaiError`.
export function unwrap(result) {
  if (result && typeof result === 'object' && result.kyutaiError === true) {
    throw new KyutaiError(result.message, result.code);
  }
  return result;
}

// Errors cross the worker boundary as plain data: structured cloning keeps only the
// message of an Error (Chromium drops custom names and properties such as `code`), so the
// host sends {name, code, message} and the caller rebuilds the same kind of error.
export function serializeError(error) {
  if (error instanceof Error) {
    return { name: error.name, code: error.code, message: error.message, stack: error.stack };
  }
  return { name: 'Error', message: String(error) };
}

const STANDARD_ERRORS = { TypeError, RangeError, SyntaxError, ReferenceError, EvalError, URIError };

export function deserializeError(data) {
  let error;
  if (data.name === 'KyutaiError' || data.code !== undefined) {
    error = new KyutaiError(data.message, data.code ?? 'INTERNAL');
  } else {
    const Kind = STANDARD_ERRORS[data.name] ?? Error;
    error = new Kind(data.message);
    if (error.name !== data.name) error.name = data.name;
  }
  // Keep the engine-side stack (where it failed) below the caller's own frames.
  if (data.stack) {
    const lines = data.stack.split('\n');
    if (lines[0].includes(data.message)) lines.shift();  // "Name: message" is already on top
    error.stack = `${error.stack}\n    --- in the engine ---\n${lines.join('\n')}`;
  }
  return error;
}
