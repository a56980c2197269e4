// Argument and option checks at the API boundary. A schema is a validator function
// (value, name) -> void that throws KyutaiError('INVALID_ARGUMENT') naming the argument, the
// value it got and what it accepts. protocol.js holds one schema per remote method, checked
// by the Host before the call reaches an object, so a refused call changes nothing (worker
// and in-process alike). Limits that depend on the model (token ids < the text card, codes
// per frame = nQ, VAD heads) stay with the engine, which checks them before it steps.
import { KyutaiError } from './errors.js';

const INT32_MAX = 2 ** 31 - 1;

// A short, safe description of any value (never throws: BigInt, cyclic, proxies, symbols).
export function show(value) {
  try {
    if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value);
    if (typeof value === 'bigint') return `${value}n`;
    if (typeof value === 'number' || typeof value === 'boolean' || value == null) return String(value);
    if (typeof value === 'symbol' || typeof value === 'function') return typeof value;
    if (Array.isArray(value)) return `Array(${value.length})`;
    return `${value.constructor?.name ?? 'Object'}`;
  } catch {
    return typeof value;
  }
}

export function invalid(name, value, expected) {
  return new KyutaiError(`${name}: expected ${expected}, got ${show(value)}`, 'INVALID_ARGUMENT');
}

const range = (min, max) => `${min === -Infinity ? '' : `>= ${min}`}${min !== -Infinity && max !== Infinity ? ' and ' : ''}${max === Infinity ? '' : `<= ${max}`}`;

// ---- validators ----

export function int(min = -INT32_MAX - 1, max = INT32_MAX) {
  const expected = `an integer ${range(min, max)}`;
  return (value, name) => {
    if (!Number.isInteger(value) || value < min || value > max) throw invalid(name, value, expected);
  };
}

export function number(min = -Infinity, max = Infinity) {
  const expected = `a finite number${min === -Infinity && max === Infinity ? '' : ` ${range(min, max)}`}`;
  return (value, name) => {
    if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) throw invalid(name, value, expected);
  };
}

export const bool = () => (value, name) => {
  if (typeof value !== 'boolean') throw invalid(name, value, 'true or false');
};

export const string = () => (value, name) => {
  if (typeof value !== 'string') throw invalid(name, value, 'a string');
};

export function oneOf(...choices) {
  return (value, name) => {
    if (!choices.includes(value)) throw invalid(name, value, `one of ${choices.map((c) => JSON.stringify(c)).join(', ')}`);
  };
}

// undefined (or null, when `nullable`) is accepted; anything else must pass `check`.
export function optional(check, { nullable = true } = {}) {
  return (value, name, receiver) => {
    if (value === undefined || (nullable && value === null)) return;
    check(value, name, receiver);
  };
}

export function either(expected, ...checks) {
  return (value, name, receiver) => {
    for (const check of checks) {
      try {
        check(value, name, receiver);
        return;
      } catch {
        // try the next form
      }
    }
    throw invalid(name, value, expected);
  };
}

// An Int32Array, or an array of integers in [min, max] (never strings, booleans or null).
export function intArray(min = -INT32_MAX - 1, max = INT32_MAX, { maxLength = 1 << 24 } = {}) {
  const element = int(min, max);
  return (value, name) => {
    const ok = value instanceof Int32Array || Array.isArray(value);
    if (!ok) throw invalid(name, value, `an Int32Array or an array of integers ${range(min, max)}`);
    if (value.length > maxLength) throw invalid(`${name}.length`, value.length, `at most ${maxLength} elements`);
    for (let i = 0; i < value.length; i++) element(value[i], `${name}[${i}]`);
  };
}

// One frame of audio codes of the receiver's model: -1 (absent) or 0..card-1 each; how
// many the frame needs is the engine's check. `modelOf(receiver)` gives the model servant.
export function codes(modelOf) {
  return (value, name, receiver) => intArray(-1, modelOf(receiver).lm.config.card - 1, { maxLength: 64 })(value, name);
}

// A Float32Array of finite samples (NaN / infinite audio would become silent codes).
export function samples() {
  return (value, name) => {
    if (!(value instanceof Float32Array)) throw invalid(name, value, 'a Float32Array of samples');
    for (let i = 0; i < value.length; i++) {
      if (!Number.isFinite(value[i])) {
        const what = Number.isNaN(value[i]) ? 'NaN' : 'infinite';
        throw new KyutaiError(`${name}: audio sample ${i} is ${what}; samples must be finite`, 'INVALID_ARGUMENT');
      }
    }
  };
}

export const func = () => (value, name) => {
  if (typeof value !== 'function') throw invalid(name, value, 'a function');
};

// An object with method `method` (an AudioPlayback has channel(), a capture attach()).
export const withMethod = (method, expected) => (value, name) => {
  if (!value || typeof value[method] !== 'function') throw invalid(name, value, expected);
};

// A MessagePort-like object (a worker's port, or a port given in-process).
export const port = () => (value, name) => {
  if (!value || typeof value !== 'object' || typeof value.postMessage !== 'function') throw invalid(name, value, 'a MessagePort');
};

// An options object: undefined/null, or a plain object whose listed keys pass their checks.
// Keys not listed are left alone (callers pass shared option objects).
export function options(shape) {
  return (value, name, receiver) => {
    if (value === undefined || value === null) return;
    if (typeof value !== 'object' || Array.isArray(value)) throw invalid(name, value, 'an options object');
    for (const [key, check] of Object.entries(shape)) {
      let v;
      try {
        v = value[key];
      } catch (e) {
        throw new KyutaiError(`${name}.${key}: reading it failed (${e?.message ?? e})`, 'INVALID_ARGUMENT');
      }
      check(v, `${name}.${key}`, receiver);
    }
  };
}

// Positional arguments: one validator per argument, named for errors. Extra arguments are
// refused (they would be silently ignored).
export function args(...named) {
  return (values, method, receiver) => {
    if (values.length > named.length) {
      throw new KyutaiError(`${method}: expected at most ${named.length} argument(s), got ${values.length}`, 'INVALID_ARGUMENT');
    }
    named.forEach(([name, check], i) => check(values[i], `${method}(${name})`, receiver));
  };
}

// A sample rate in Hz (what resample.js and the worklets accept).
export const SAMPLE_RATE_HZ = optional(number(1000, 768000));

// Shared option shapes (one copy, used by several methods).
export const SEED = optional(int(0, Number.MAX_SAFE_INTEGER));
export const TEMPERATURE = optional(number(0, 1000));
export const TOP_K = optional(int(0, INT32_MAX));
export const TOKEN = int(-1, INT32_MAX);
// Infinity: never drop (offline runs, where every frame must be processed).
export const MAX_QUEUED_FRAMES = optional(either('an integer >= 1, or Infinity', int(1, Number.MAX_SAFE_INTEGER), (v, name) => {
  if (v !== Infinity) throw invalid(name, v, 'Infinity');
}));
