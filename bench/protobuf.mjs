// Protocol buffer encoding, the little the benchmark writes by hand (no protobuf tooling is
// installed): varints, length-delimited fields, 32-bit floats (wire types 0, 2 and 5).
export function varint(n) {
  const out = [];
  let v = BigInt(n);
  do {
    let byte = Number(v & 0x7fn);
    v >>= 7n;
    if (v) byte |= 0x80;
    out.push(byte);
  } while (v);
  return out;
}

export const tag = (field, wire) => varint((field << 3) | wire);
export const intField = (field, value) => [...tag(field, 0), ...varint(value)];
export function bytesField(field, bytes) {
  const b = bytes instanceof Uint8Array ? bytes : new TextEncoder().encode(bytes);
  return concat([new Uint8Array([...tag(field, 2), ...varint(b.length)]), b]);
}
export function concat(parts) {
  const arrays = parts.map((p) => (p instanceof Uint8Array ? p : new Uint8Array(p)));
  const out = new Uint8Array(arrays.reduce((s, a) => s + a.length, 0));
  let o = 0;
  for (const a of arrays) {
    out.set(a, o);
    o += a.length;
  }
  return out;
}

// A float field (wire type 5, little-endian IEEE 754).
export function floatField(field, value) {
  const bytes = new Uint8Array(4);
  new DataView(bytes.buffer).setFloat32(0, value, true);
  return concat([new Uint8Array(tag(field, 5)), bytes]);
}
