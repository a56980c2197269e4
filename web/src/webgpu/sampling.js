// Token sampling of the JS session loops, a port of src/lm/sampling.cpp (Kyutai's
// sample_token): argmax when sampling is off or the temperature is <= 0, else softmax of
// logits / temperature, optional top-k, and an exponential race (Gumbel-max) drawn from
// xoshiro256** seeded through splitmix64, the same generator and the same draws as the
// engine, so a session keeps its random state when it moves from WebGPU to WebAssembly.
const MASK = (1n << 64n) - 1n;
const rotl = (x, k) => ((x << BigInt(k)) | (x >> BigInt(64 - k))) & MASK;

export class Random {
  constructor(seed = 0) {
    this.reseed(seed);
  }

  reseed(seed) {
    let s = BigInt.asUintN(64, BigInt(Math.trunc(Number(seed))));
    this.s = [];
    for (let i = 0; i < 4; i++) {
      s = (s + 0x9e3779b97f4a7c15n) & MASK;
      let z = s;
      z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK;
      z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & MASK;
      this.s.push(z ^ (z >> 31n));
    }
  }

  next() {
    const s = this.s;
    const result = (rotl((s[1] * 5n) & MASK, 7) * 9n) & MASK;
    const t = (s[1] << 17n) & MASK;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
  }

  // In (0, 1), as Random::uniform.
  uniform() {
    return (Number(this.next() >> 11n) + 0.5) * (1.0 / 9007199254740992.0);
  }

  save() {
    return [...this.s];
  }

  restore(state) {
    this.s = [...state];
  }
}

// First index of the maximum; NaN never wins (torch.argmax on finite logits).
export function argmax(logits, n = logits.length) {
  let best = 0;
  for (let i = 1; i < n; i++) {
    if (logits[i] > logits[best] || (Number.isNaN(logits[best]) && !Number.isNaN(logits[i]))) best = i;
  }
  return best;
}

const f = Math.fround;

// params: {useSampling, temperature, topK}
export function sampleToken(logits, n, params, rng) {
  if (!params.useSampling || !(params.temperature > 0)) return argmax(logits, n);
  const temp = f(params.temperature);
  const probs = new Float32Array(n);
  let m = -Infinity;
  for (let i = 0; i < n; i++) {
    probs[i] = f(logits[i] / temp);
    if (probs[i] > m) m = probs[i];
  }
  let sum = 0;
  for (let i = 0; i < n; i++) {
    probs[i] = f(Math.exp(f(probs[i] - m)));
    sum += probs[i];
  }
  for (let i = 0; i < n; i++) probs[i] = f(probs[i] / sum);
  const k = params.topK > 0 && params.topK < n ? params.topK : n;
  let order = Array.from({ length: n }, (_, i) => i);
  if (k < n) order = order.sort((a, b) => (probs[b] - probs[a]) || (a - b)).slice(0, k);
  let best = order[0];
  let bestScore = -1;
  for (let i = 0; i < k; i++) {
    const e = -Math.log(rng.uniform());
    const score = probs[order[i]] / e;
    if (score > bestScore) {
      bestScore = score;
      best = order[i];
    }
  }
  return best;
}
