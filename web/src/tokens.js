// Token tensors at the API boundary: an Int32Array (one batch item, T steps) or
// { data: Int32Array, shape: [B, T] }. Everything is normalised to the latter for the engine.
export function toTokenTensor(value, what) {
  if (value === null || value === undefined) return null;
  if (ArrayBuffer.isView(value) || Array.isArray(value)) {
    return { data: value, shape: [1, value.length] };
  }
  if (typeof value === 'object' && 'data' in value) {
    const shape = value.shape ?? [1, value.data.length];
    return { data: value.data, shape: [shape[0], shape[1]] };
  }
  throw new TypeError(`${what}: expected an Int32Array or {data, shape}, got ${typeof value}`);
}

// { text?, audio?: Array<tokens | null> } -> the engine's normalised input.
export function toMultistream(input) {
  if (!input || typeof input !== 'object') throw new TypeError('expected an object {text, audio}');
  return {
    text: toTokenTensor(input.text, 'text tokens'),
    audio: (input.audio ?? []).map((a, i) => toTokenTensor(a, `audio codebook ${i}`)),
  };
}
