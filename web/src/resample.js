// Sample-rate conversion of mono audio in plain JS, for whole clips handed to transcribe()
// (Kyutai's models take 24 kHz). In browsers an AudioBuffer is resampled by the browser
// itself (OfflineAudioContext, see transcriber.js); this is for Float32Arrays and for Node.
//
// Method: band-limited interpolation with a Blackman-windowed sinc. Each output sample is a
// weighted sum of the input samples within `halfTaps` zero crossings of the kernel on either
// side of its position. When downsampling the kernel is stretched so that its cutoff sits
// below the new Nyquist frequency (anti-aliasing); when upsampling it sits below the old
// one. The cutoff is 0.95 of that Nyquist frequency (the last 5% is the transition band).
// For integer rates with a modest ratio (16000 -> 24000 is 3/2, 44100 -> 24000 is 80/147)
// the weights of every phase are computed once (polyphase table); other rates compute them
// per sample. Samples outside the clip count as silence. Output length: round(n * to / from).
// Stopband rejection is about 58 dB (Blackman): fine for speech recognition, not a mastering tool.

const CUTOFF = 0.95;
const MAX_TABLE_PHASES = 4096;

function gcd(a, b) {
  while (b) [a, b] = [b, a % b];
  return a;
}

function blackman(u) {  // u in [-1, 1]
  return 0.42 + 0.5 * Math.cos(Math.PI * u) + 0.08 * Math.cos(2 * Math.PI * u);
}

function checkRate(rate, what) {
  if (typeof rate !== 'number' || !Number.isFinite(rate) || rate <= 0) {
    throw new RangeError(`${what} must be a positive number of samples per second, got ${rate}`);
  }
}

// input: Float32Array (or array of numbers) at `fromRate` -> Float32Array at `toRate`.
export function resample(input, fromRate, toRate = 24000, { halfTaps = 16 } = {}) {
  checkRate(fromRate, 'fromRate');
  checkRate(toRate, 'toRate');
  if (!Number.isInteger(halfTaps) || halfTaps < 1 || halfTaps > 256) throw new RangeError(`halfTaps must be an integer in 1..256, got ${halfTaps}`);
  const x = input instanceof Float32Array ? input : Float32Array.from(input);
  if (fromRate === toRate) return x.slice();
  const ratio = toRate / fromRate;             // output samples per input sample
  const scale = Math.min(1, ratio) * CUTOFF;   // cutoff, as a fraction of the input's Nyquist
  const width = Math.ceil(halfTaps / scale);   // kernel half-width in input samples
  const taps = 2 * width;
  const outLength = Math.round(x.length * ratio);
  const out = new Float32Array(outLength);

  // Weights of the taps k = base - width + 1 .. base + width for a position `frac` past base.
  const weightsAt = (frac, w) => {
    let sum = 0;
    for (let j = 0; j < taps; j++) {
      const d = frac + width - 1 - j;  // distance from tap j to the output position
      const u = d / width;
      let v = 0;
      if (Math.abs(u) < 1) {
        const a = Math.PI * scale * d;
        v = (a === 0 ? 1 : Math.sin(a) / a) * blackman(u);
      }
      w[j] = v;
      sum += v;
    }
    for (let j = 0; j < taps; j++) w[j] /= sum;  // unit gain at DC for every phase
    return w;
  };

  // Integer rates: output i sits at input position i * M / L, so only L phases exist.
  let table = null;
  let L = 0;
  let M = 0;
  if (Number.isInteger(fromRate) && Number.isInteger(toRate)) {
    const g = gcd(fromRate, toRate);
    L = toRate / g;
    M = fromRate / g;
    if (L <= MAX_TABLE_PHASES) {
      table = new Float32Array(L * taps);
      for (let p = 0; p < L; p++) weightsAt(p / L, table.subarray(p * taps, (p + 1) * taps));
    }
  }
  const scratch = new Float32Array(taps);
  const n = x.length;
  for (let i = 0; i < outLength; i++) {
    let base;
    let w;
    if (table) {
      const num = i * M;  // an exact integer (far below 2^53 for any clip)
      base = Math.floor(num / L);
      const p = num - base * L;
      w = table.subarray(p * taps, (p + 1) * taps);
    } else {
      const t = i / ratio;
      base = Math.floor(t);
      w = weightsAt(t - base, scratch);
    }
    const first = base - width + 1;
    const lo = Math.max(0, -first);
    const hi = Math.min(taps, n - first);
    let acc = 0;
    for (let j = lo; j < hi; j++) acc += w[j] * x[first + j];
    out[i] = acc;
  }
  return out;
}
