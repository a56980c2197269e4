// Helpers every part of the engine-side RPC layer (web/src/host/) uses.
import { KyutaiError } from '../errors.js';

export const now = () => performance.now();

// Buffers of the typed arrays in a result, for the transfer list.
export function collectTransfer(value, out = new Set(), depth = 0) {
  if (!value || typeof value !== 'object' || depth > 4) return out;
  if (ArrayBuffer.isView(value)) {
    if (value.buffer instanceof ArrayBuffer && value.byteLength === value.buffer.byteLength) out.add(value.buffer);
    return out;
  }
  for (const v of Array.isArray(value) ? value : Object.values(value)) collectTransfer(v, out, depth + 1);
  return out;
}

// then(value) now for a value, after it for a promise (sessions on WebGPU are asynchronous;
// the engine's own sessions stay synchronous).
export function later(value, then) {
  return typeof value?.then === 'function' ? value.then(then) : then(value);
}

export function needEngineMethod(engine, name, what) {
  if (typeof engine[name] !== 'function') {
    throw new KyutaiError(`${what} is not available in this build of the engine (engine.${name} is missing)`, 'UNSUPPORTED');
  }
}
