// (e) of the report: Mimi per 80 ms frame against its compute floor, and its convolutions
// layer by layer against onnxruntime-web.
//
// Floor = the frame's multiply-adds (codec/mimi_cost.h, counted from the config: SEANet,
// transformers, down/up-sampling, RVQ) / the best multiply-add rate of one thread: the
// convolutions' own 4 x 8 register tile over L1-resident operands (bench/mac_rate.h: f32x4.mul
// + f32x4.add, what the f32 kernels run in every build), measured in the same engine as the
// frame. With two threads the floor is halved (both cores at that rate). The peer: each convolution of the frame (same shape, the
// same rows per frame, plus the left context a stateless graph needs) as a one-node ONNX graph
// in onnxruntime-web, one thread, Node; ours through the same layer class Mimi runs.
import { timeOrtConvLayers } from './mimi-peer.mjs';

const macsMillions = (n) => (n / 1e6).toFixed(1);
// ms for `macs` at `gmacs` GMAC/s on `threads` threads.
const floorMs = (macs, gmacs, threads) => (gmacs > 0 ? macs / (gmacs * 1e6 * threads) : null);

// The roofline floor: each layer at its slower limit, its multiply-adds at the rate or its
// weight bytes at the read rate `gbs` (the transformers, the RVQ codebooks and the widest
// convolutions read more than they compute).
function rooflineMs(layers, gmacs, gbs, threads) {
  if (!(gmacs > 0 && gbs > 0)) return null;
  return layers.reduce((s, [macs, bytes]) => s + Math.max(floorMs(macs, gmacs, threads), bytes / (gbs * 1e6)), 0);
}

function floorRow({ where, threads, rate, r, bw }, fmt) {
  const cells = [];
  for (const part of ['encode', 'decode']) {
    const ms = r[`${part}_ms_per_frame`];
    const floor = floorMs(r[`${part}_macs`], rate.simd128_gmacs, threads);
    const roof = rooflineMs(r[`${part}_layers`], rate.simd128_gmacs, bw?.gb_per_s, threads);
    cells.push(fmt(ms), fmt(floor), fmt(ms / floor), fmt(roof), fmt(ms / roof));
  }
  return [where, threads, fmt(rate.simd128_gmacs, 1), fmt(bw?.gb_per_s, 1), ...cells];
}

// Sums of a part's layers: ours, the peer's, and the peer's time / ours.
function sums(layers, peer, part) {
  const ours = layers.filter((l) => l.part === part);
  const oursMs = ours.reduce((s, l) => s + l.ms, 0);
  const peerMs = ours.reduce((s, l) => s + peer.get(l.name), 0);
  return { part, layers: ours.length, macs: ours.reduce((s, l) => s + l.macs, 0), oursMs, peerMs, vsPeer: peerMs / oursMs };
}

export async function runMimiBench({ quick, frames, chromiumRuns, log, table, fmt, withFreshInstance }) {
  const layerFrames = quick ? 5 : 15;
  // Node: the relaxed-SIMD module (Chromium's default build): the frame, the rate (after the
  // frame, once the engine has finished compiling its optimized code), each convolution alone.
  const node = await withFreshInstance((instance) => {
    const frame = log({ ...JSON.parse(instance.mimiFrame(1, frames)), where: 'node' });
    const rate = log({ ...JSON.parse(instance.macRate(200)), where: 'node' });
    const bw = log({ ...JSON.parse(instance.readBandwidth(512, 1)), where: 'node' });
    const layers = log({ ...JSON.parse(instance.mimiLayers(1, layerFrames)), where: 'node' });
    return { rate, bw, frame, layers };
  }, true);
  const peerRows = await timeOrtConvLayers(node.layers.layers, layerFrames);
  for (const p of peerRows) log({ kind: 'mimi_layer_peer', impl: 'onnxruntime-web', ...p });
  const peer = new Map(peerRows.map((p) => [p.name, p.ms]));

  const runs = [{ where: 'Node, relaxed module', threads: 1, rate: node.rate, bw: node.bw, r: node.frame }, ...chromiumRuns];
  const f = node.frame;
  table(`(e) Mimi at the released shape (synthetic weights), one streaming 80 ms frame against its compute floor: multiply-adds of the frame counted from the config (codec/mimi_cost.h: encode ${macsMillions(f.encode_macs)} M, decode ${macsMillions(f.decode_macs)} M); rate = GMAC/s of one thread in the convolutions' 4x8 register tile (SIMD128 mul + add, L1-resident operands), measured in the same engine; floor = MACs / rate (/ threads); roofline = each layer at its slower limit, MACs / rate or the bytes of its weights (f32; the RVQ search reads half: encode ${(f.encode_weight_bytes / 1e6).toFixed(0)} MB, decode ${(f.decode_weight_bytes / 1e6).toFixed(0)} MB per frame) / the read rate measured after the frame in the same engine and thread count; ${frames} frames, median; target: encode and decode each within 1.5x of the floor on one thread in Chromium`,
    ['where', 'threads', 'GMAC/s', 'read GB/s', 'encode ms', 'enc floor ms', 'enc x floor', 'enc roofline ms', 'enc x roofline', 'decode ms', 'dec floor ms', 'dec x floor', 'dec roofline ms', 'dec x roofline'],
    runs.map((x) => floorRow(x, fmt)));

  const layers = node.layers.layers;
  const totals = ['encode', 'decode'].map((part) => sums(layers, peer, part));
  if (!quick) {
    table(`Mimi's convolutions one by one (Node, one thread, ${layerFrames} frames, median ms per frame's rows): ours (the layer class Mimi runs, relaxed module) vs onnxruntime-web ${peerRows[0]?.version ?? ''} (a one-node ONNX Conv / ConvTranspose); vs ORT = its time / ours`,
      ['part', 'layer', 'op', 'in->out', 'k/s/d/g', 'rows', 'MMAC', 'ours ms', 'GMAC/s', 'ORT ms', 'vs ORT'],
      layers.map((l) => [l.part, l.name, l.op, `${l.in}->${l.out}`, `${l.kernel}/${l.stride}/${l.dilation}/${l.groups}`, l.rows, macsMillions(l.macs),
        fmt(l.ms, 3), fmt(l.macs / (l.ms * 1e6), 1), fmt(peer.get(l.name), 3), fmt(peer.get(l.name) / l.ms)]));
  }
  table(`Mimi's convolutions summed per frame (Node, one thread): ours vs onnxruntime-web on the same shapes; target: ours at least 1.2x faster`,
    ['part', 'conv layers', 'MMAC', 'ours ms', 'ORT ms', 'vs ORT'],
    totals.map((t) => [t.part, t.layers, macsMillions(t.macs), fmt(t.oursMs), fmt(t.peerMs), fmt(t.vsPeer)]));
  for (const t of totals) log({ kind: 'mimi_conv_sum', ...t });
  return { runs, totals };
}

// Headline rows: Mimi encode / decode on one thread in Chromium (else Node) against the floors
// and the convolution peer.
export function mimiHeadline({ runs, totals }, fmt) {
  const run = runs.find((x) => x.where.startsWith('Chromium') && x.threads === 1) ?? runs[0];
  return ['encode', 'decode'].map((part) => {
    const ms = run.r[`${part}_ms_per_frame`];
    const macs = run.r[`${part}_macs`];
    const floor = floorMs(macs, run.rate.simd128_gmacs, 1);
    const roof = rooflineMs(run.r[`${part}_layers`], run.rate.simd128_gmacs, run.bw?.gb_per_s, 1);
    const t = totals.find((x) => x.part === part);
    return [`Mimi ${part}, 1 thread (${run.where})`, `${fmt(ms)} ms`, `${fmt(ms / floor)}x its compute floor (${fmt(floor)} ms; target 1.5x)`,
      `${fmt(ms / roof)}x its roofline (${fmt(roof)} ms); convs ${fmt(t.vsPeer)}x faster than ORT (${fmt(t.oursMs)} vs ${fmt(t.peerMs)} ms, Node)`];
  });
}
