// The demo bundle's tiny STT checkpoint has random weights and almost never predicts a
// padding token, so its whole transcript would be one long word that only ends at flush: no
// live words, no end of turn. A real STT model pads most frames and words come one at a time,
// each closed by padding. This makes the tiny checkpoint talk like one, for the demo (when
// bundle.js says `talkative: true`) and for the tests of the word / end-of-turn plumbing
// (tests/node/stt.test.mjs, e2e/stt.spec.mjs): in a copy of the safetensors bytes, the text
// head's rows of the padding id (3) and the end-of-padding id (0) become twice the rows of two
// of the model's frequent tokens (92 and 91), so the model pads, or ends padding, whenever it
// leans towards those. On test signals this gives about 20 words in 6 s, some ended by
// end-of-padding and some left unended by padding (as Kyutai's stream allows), and ends of
// turn at the default threshold. Never use it on a real model.
export function talkative(bytes, { padding = 3, endPadding = 0, rows = [92, 91], scale = 2 } = {}) {
  const copy = new Uint8Array(bytes instanceof ArrayBuffer ? bytes : bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength)).slice();
  const view = new DataView(copy.buffer);
  const headerLength = Number(view.getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(copy.subarray(8, 8 + headerLength)));
  const t = header['text_linear.weight'];
  if (!t || t.dtype !== 'F32') throw new Error('talkative: expected an F32 text_linear.weight');
  const [, dim] = t.shape;
  const base = 8 + headerLength + t.data_offsets[0];
  const row = (id) => base + id * dim * 4;
  for (const [target, source] of [[padding, rows[0]], [endPadding, rows[1]]]) {
    for (let i = 0; i < dim; i++) view.setFloat32(row(target) + 4 * i, scale * view.getFloat32(row(source) + 4 * i, true), true);
  }
  return copy;
}
