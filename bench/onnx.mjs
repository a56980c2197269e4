// One-node ONNX models (a MatMul for the GEMV peers, Conv / ConvTranspose for Mimi's layers),
// hand-encoded: the benchmark needs onnxruntime-web on the same shapes as ours, and no ONNX
// tooling is installed here. Protobuf field numbers from onnx.proto.
import { bytesField, concat, intField } from './protobuf.mjs';

const FLOAT = 1;

function valueInfo(name, dims) {
  const shape = concat(dims.map((d) => bytesField(1, new Uint8Array(intField(1, d)))));  // Dimension.dim_value
  const tensorType = concat([new Uint8Array(intField(1, FLOAT)), bytesField(2, shape)]);
  const type = bytesField(1, tensorType);  // TypeProto.tensor_type
  return concat([bytesField(1, name), bytesField(2, type)]);
}

function floatTensor(name, dims, values) {
  return concat([
    new Uint8Array(dims.flatMap((d) => intField(1, d))),
    new Uint8Array(intField(2, FLOAT)),
    bytesField(8, name),
    bytesField(9, new Uint8Array(values.buffer, values.byteOffset, values.byteLength)),
  ]);
}

// AttributeProto: INT (type 2, field i) or INTS (type 7, repeated field ints).
const INT = 2;
const INTS = 7;
function attribute(name, value) {
  if (Array.isArray(value)) return concat([bytesField(1, name), ...value.map((v) => new Uint8Array(intField(8, v))), new Uint8Array(intField(20, INTS))]);
  return concat([bytesField(1, name), new Uint8Array(intField(3, value)), new Uint8Array(intField(20, INT))]);
}

// A one-node model: x (input) and W (initializer) -> y, opset 17.
function oneNodeModel({ op, attributes = {}, weights, weightDims, inputDims, outputDims }) {
  const node = concat([bytesField(1, 'x'), bytesField(1, 'W'), bytesField(2, 'y'), bytesField(4, op),
    ...Object.entries(attributes).map(([name, value]) => bytesField(5, attribute(name, value)))]);
  const graph = concat([
    bytesField(1, node),
    bytesField(2, op.toLowerCase()),
    bytesField(5, floatTensor('W', weightDims, weights)),
    bytesField(11, valueInfo('x', inputDims)),
    bytesField(12, valueInfo('y', outputDims)),
  ]);
  const opset = concat([bytesField(1, ''), new Uint8Array(intField(2, 17))]);
  return concat([new Uint8Array(intField(1, 8)), bytesField(2, 'kyutai-wasm-bench'), bytesField(7, graph), bytesField(8, opset)]);
}

// weights: Float32Array of K * N values, row-major [K, N].
export function matmulModel(K, N, weights) {
  return oneNodeModel({ op: 'MatMul', weights, weightDims: [K, N], inputDims: [1, K], outputDims: [1, N] });
}

// One of Mimi's streaming convolutions as a stateless ONNX Conv / ConvTranspose over the rows of
// one frame (layer: a row of the bench module's mimiLayers()). A causal Conv1d reads `context`
// rows of the previous frame besides the frame's own, unpadded: x [1, in, context + rows] ->
// y [1, out, rows / stride]. A transposed one: x [1, in, rows] -> y [1, out, (rows - 1) * stride +
// kernel], the overlap with the next frame included (the streaming layer adds it later).
// weights: PyTorch layout, [out, in / groups, kernel] (Conv) or [in, out / groups, kernel].
export function convModel(layer, weights) {
  const { op, in: cin, out: cout, kernel, stride, dilation, groups, rows, context } = layer;
  const attributes = { kernel_shape: [kernel], strides: [stride], group: groups };
  if (op === 'conv1d') {
    return oneNodeModel({
      op: 'Conv', attributes: { ...attributes, dilations: [dilation], pads: [0, 0] }, weights,
      weightDims: [cout, cin / groups, kernel], inputDims: [1, cin, context + rows], outputDims: [1, cout, rows / stride],
    });
  }
  return oneNodeModel({
    op: 'ConvTranspose', attributes, weights,
    weightDims: [cin, cout / groups, kernel], inputDims: [1, cin, rows], outputDims: [1, cout, (rows - 1) * stride + kernel],
  });
}

// The input length convModel's graph takes.
export const convInputRows = (layer) => (layer.op === 'conv1d' ? layer.context + layer.rows : layer.rows);
