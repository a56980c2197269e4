// Frame tokenizers: 24 kHz audio frames <-> the audio codes a Kyutai model reads and writes.
//
// The interface every pipeline stage depends on (and nothing more):
//   frameSize   samples per frame (Kyutai: 1920 = 80 ms at 24 kHz, 12.5 frames per second)
//   codebooks   codes per frame returned by encode()
//   encode(Float32Array frameSize samples) -> Int32Array codes (length codebooks; length 0
//               while a streaming codec is still warming up). Must not keep the input array:
//               the pipeline recycles its buffer right after the call.
//   decode(Int32Array codes) -> Float32Array frameSize samples   (optional)
//   reset()     forget the streaming state (optional)
//   dispose()   free what it holds (optional)
//
// Kyutai's own tokenizer is the Mimi codec (C++, in the engine). MimiFrameTokenizer adapts
// the engine's Mimi object to this interface. Until it is available, BandEnergyTokenizer is
// a deterministic placeholder so that the whole audio path (microphone, worklet, worker,
// session, playback) can be built and tested. Its codes carry no meaning for a real model.
import { KyutaiError } from './errors.js';

export const SAMPLE_RATE = 24000;
export const FRAME_SIZE = 1920;
export const FRAME_RATE = SAMPLE_RATE / FRAME_SIZE;  // 12.5 Hz

// Throws a KyutaiError naming what is wrong with a would-be frame tokenizer.
export function checkFrameTokenizer(t, what = 'frame tokenizer') {
  const bad = (m) => new KyutaiError(`${what}: ${m}`, 'INVALID_ARGUMENT');
  if (!t || typeof t !== 'object') throw bad('expected an object {frameSize, codebooks, encode}');
  if (!Number.isInteger(t.frameSize) || t.frameSize <= 0) throw bad(`frameSize must be a positive integer, got ${t.frameSize}`);
  if (!Number.isInteger(t.codebooks) || t.codebooks <= 0) throw bad(`codebooks must be a positive integer, got ${t.codebooks}`);
  if (typeof t.encode !== 'function') throw bad('encode(Float32Array) -> Int32Array is missing');
  if (t.decode !== undefined && typeof t.decode !== 'function') throw bad('decode must be a function when given');
  return t;
}

// ---------------------------------------------------------------------------------------
// Placeholder: per-codebook quantization of log band energies.
//
// encode: Hann window over the frame, zero-padded 2048-point FFT, the spectrum split into
// `codebooks` log-spaced bands between 50 Hz and 12 kHz (each at least one FFT bin), band
// energy E = sum of the bins' power normalised so a full-scale sine of amplitude A gives
// about 1.5 A^2, and code = round((10 log10 E - minDb) / (maxDb - minDb) * (card - 1))
// clamped to [0, card - 1]. Codebook k is band k (low to high frequency). Pure float64
// arithmetic in a fixed order: the same samples give the same codes on every run.
// decode: one sine per band at the band's centre frequency, amplitude sqrt(E / 1.5) (code 0
// is silence), phase carried across frames so consecutive frames join without clicks. A
// crude vocoder, good enough to hear that codes came back as sound.
export class BandEnergyTokenizer {
  static FFT_SIZE = 2048;

  constructor({ codebooks = 8, card = 2048, frameSize = FRAME_SIZE, sampleRate = SAMPLE_RATE,
    minDb = -90, maxDb = 0, lowHz = 50, highHz = 12000 } = {}) {
    if (!Number.isInteger(codebooks) || codebooks <= 0) throw new KyutaiError(`band-energy tokenizer: codebooks must be a positive integer, got ${codebooks}`, 'INVALID_ARGUMENT');
    if (!Number.isInteger(card) || card < 2) throw new KyutaiError(`band-energy tokenizer: card must be an integer >= 2, got ${card}`, 'INVALID_ARGUMENT');
    const N = BandEnergyTokenizer.FFT_SIZE;
    if (frameSize > N) throw new KyutaiError(`band-energy tokenizer: frameSize ${frameSize} exceeds ${N}`, 'INVALID_ARGUMENT');
    this.kind = 'band-energy';
    this.frameSize = frameSize;
    this.codebooks = codebooks;
    this.card = card;
    this.sampleRate = sampleRate;
    this.minDb = minDb;
    this.maxDb = maxDb;

    this.window = new Float64Array(frameSize);
    let windowSum = 0;
    for (let i = 0; i < frameSize; i++) {
      this.window[i] = 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / frameSize);
      windowSum += this.window[i];
    }
    // |X[peak]| of a sine of amplitude A is A * windowSum / 2: normalise that to A^2 power.
    this.powerScale = 1 / ((windowSum / 2) ** 2);

    // Band edges in FFT bins, log-spaced, strictly increasing (no empty band even when many
    // codebooks squeeze the low bands below the bin spacing).
    const binHz = sampleRate / N;
    const maxBin = Math.min(N / 2, Math.floor(highHz / binHz));
    this.edges = new Int32Array(codebooks + 1);
    for (let k = 0; k <= codebooks; k++) {
      const hz = lowHz * (highHz / lowHz) ** (k / codebooks);
      this.edges[k] = Math.max(Math.round(hz / binHz), k === 0 ? 1 : this.edges[k - 1] + 1);
    }
    if (this.edges[codebooks] > maxBin + 1) {
      throw new KyutaiError(`band-energy tokenizer: ${codebooks} bands do not fit below ${highHz} Hz`, 'INVALID_ARGUMENT');
    }
    this.centerHz = Float64Array.from({ length: codebooks }, (_, k) => Math.sqrt(this.edges[k] * this.edges[k + 1]) * binHz);

    // FFT tables.
    this.re = new Float64Array(N);
    this.im = new Float64Array(N);
    this.cos = Float64Array.from({ length: N / 2 }, (_, i) => Math.cos((2 * Math.PI * i) / N));
    this.sin = Float64Array.from({ length: N / 2 }, (_, i) => -Math.sin((2 * Math.PI * i) / N));
    this.bitrev = new Uint32Array(N);
    const bits = Math.log2(N);
    for (let i = 0; i < N; i++) {
      let r = 0;
      for (let b = 0; b < bits; b++) r |= ((i >> b) & 1) << (bits - 1 - b);
      this.bitrev[i] = r;
    }
    this.phase = new Float64Array(codebooks);
  }

  // Band energies in dB of one frame (exposed for tests and visualisation).
  bandDb(frame) {
    if (!(frame instanceof Float32Array) || frame.length !== this.frameSize) {
      throw new KyutaiError(`band-energy tokenizer: expected a Float32Array of ${this.frameSize} samples, got ${describe(frame)}`, 'INVALID_ARGUMENT');
    }
    const { re, im, bitrev } = this;
    const N = re.length;
    re.fill(0);
    im.fill(0);
    for (let i = 0; i < this.frameSize; i++) re[bitrev[i]] = frame[i] * this.window[i];
    for (let size = 2; size <= N; size *= 2) {
      const half = size / 2;
      const step = N / size;
      for (let start = 0; start < N; start += size) {
        for (let j = 0; j < half; j++) {
          const a = start + j;
          const b = a + half;
          const c = this.cos[j * step];
          const s = this.sin[j * step];
          const tr = re[b] * c - im[b] * s;
          const ti = re[b] * s + im[b] * c;
          re[b] = re[a] - tr;
          im[b] = im[a] - ti;
          re[a] += tr;
          im[a] += ti;
        }
      }
    }
    const db = new Float64Array(this.codebooks);
    for (let k = 0; k < this.codebooks; k++) {
      let e = 0;
      for (let i = this.edges[k]; i < this.edges[k + 1]; i++) e += re[i] * re[i] + im[i] * im[i];
      db[k] = 10 * Math.log10(e * this.powerScale + 1e-30);
    }
    return db;
  }

  encode(frame) {
    const db = this.bandDb(frame);
    const codes = new Int32Array(this.codebooks);
    const span = this.maxDb - this.minDb;
    for (let k = 0; k < this.codebooks; k++) {
      const q = Math.round(((db[k] - this.minDb) / span) * (this.card - 1));
      codes[k] = Math.min(this.card - 1, Math.max(0, q));
    }
    return codes;
  }

  // Accepts up to `codebooks` codes (a generating model may write fewer codebooks than it
  // reads); missing bands are silent.
  decode(codes) {
    if (!ArrayBuffer.isView(codes) || codes.length > this.codebooks) {
      throw new KyutaiError(`band-energy tokenizer: expected at most ${this.codebooks} codes, got ${describe(codes)}`, 'INVALID_ARGUMENT');
    }
    const out = new Float32Array(this.frameSize);
    const span = this.maxDb - this.minDb;
    for (let k = 0; k < codes.length; k++) {
      const code = codes[k];
      if (code <= 0) continue;  // 0: silence; -1: missing
      const db = this.minDb + (Math.min(code, this.card - 1) / (this.card - 1)) * span;
      const amplitude = Math.sqrt(10 ** (db / 10) / 1.5);
      const w = (2 * Math.PI * this.centerHz[k]) / this.sampleRate;
      let p = this.phase[k];
      for (let i = 0; i < this.frameSize; i++) out[i] += amplitude * Math.sin(p + w * i);
      this.phase[k] = (p + w * this.frameSize) % (2 * Math.PI);
    }
    return out;
  }

  reset() {
    this.phase.fill(0);
  }

  dispose() {}
}

// ---------------------------------------------------------------------------------------
// Kyutai's Mimi codec from the engine: engine.loadMimi(configText, weights) returns
// {frameSize, numCodebooks, encodeStep, decodeStep, encode, decode, reset, dispose,
// createStream(codebooks)}; a stream has the same streaming half. Streaming steps map one
// to one onto the frame interface. Mimi is causal: every frame gives its codes at once.
// A stream codes a fixed number of codebooks; a session whose model writes a different
// number than it reads (decode) passes a second stream as `decoder`.
export class MimiFrameTokenizer {
  constructor(mimi, { decoder = null } = {}) {
    this.kind = 'mimi';
    this.mimi = mimi;
    this.decoder = decoder;
    this.frameSize = mimi.frameSize;
    this.codebooks = mimi.numCodebooks;
  }
  encode(frame) {
    return this.mimi.encodeStep(frame);
  }
  decode(codes) {
    return (this.decoder ?? this.mimi).decodeStep(codes);
  }
  reset() {
    this.mimi.reset();
    this.decoder?.reset();
  }
  dispose() {
    this.mimi.dispose();
    this.decoder?.dispose();
  }
}

function describe(v) {
  if (v === null || v === undefined) return String(v);
  const name = v.constructor?.name ?? typeof v;
  return v.length !== undefined ? `${name}(${v.length})` : name;
}
