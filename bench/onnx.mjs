// A single-MatMul ONNX model (y = x W, W [K, N] as an initializer), hand-encoded: the
// benchmark needs onnxruntime-web's MatMul on the same shapes as ours, and no ONNX tooling
// is installed here. Protobuf field numbers from onnx.proto.
function varint(n) {
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

const tag = (field, wire) => varint((field << 3) | wire);
const intField = (field, value) => [...tag(field, 0), ...varint(value)];
function bytesField(field, bytes) {
  const b = bytes instanceof Uint8Array ? bytes : new TextEncoder().encode(bytes);
  return concat([new Uint8Array([...tag(field, 2), ...varint(b.length)]), b]);
}
function concat(parts) {
  const arrays = parts.map((p) => (p instanceof Uint8Array ? p : new Uint8Array(p)));
  const out = new Uint8Array(arrays.reduce((s, a) => s + a.length, 0));
  let o = 0;
  for (const a of arrays) {
    out.set(a, o);
    o += a.length;
  }
  return out;
}

const FLOAT = 1;

function valueInfo(name, dims) {
  const shape = concat(dims.map((d) => bytesField(1, new Uint8Array(intField(1, d)))));  // Dimension.dim_value
  const tensorType = concat([new Uint8Array(intField(1, FLOAT)), bytesField(2, shape)]);
  const type = bytesField(1, tensorType);  // TypeProto.tensor_type
  return concat([bytesField(1, name), bytesField(2, type)]);
}

// weights: Float32Array of K * N values, row-major [K, N].
export function matmulModel(K, N, weights) {
  const initializer = concat([
    new Uint8Array([...intField(1, K), ...intField(1, N), ...intField(2, FLOAT)]),
    bytesField(8, 'W'),
    bytesField(9, new Uint8Array(weights.buffer, weights.byteOffset, weights.byteLength)),
  ]);
  const node = concat([bytesField(1, 'x'), bytesField(1, 'W'), bytesField(2, 'y'), bytesField(4, 'MatMul')]);
  const graph = concat([
    bytesField(1, node),
    bytesField(2, 'gemv'),
    bytesField(5, initializer),
    bytesField(11, valueInfo('x', [1, K])),
    bytesField(12, valueInfo('y', [1, N])),
  ]);
  const opset = concat([bytesField(1, ''), new Uint8Array(intField(2, 17))]);
  return concat([new Uint8Array(intField(1, 8)), bytesField(2, 'kyutai-wasm-bench'), bytesField(7, graph), bytesField(8, opset)]);
}
