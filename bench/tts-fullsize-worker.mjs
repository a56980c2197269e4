// Worker side of bench/tts-fullsize.mjs: in a dedicated worker of the page (threads on a /coi/
// page), the engine streams the full-size TTS checkpoint through its loader with conversion,
// loads Mimi, and times Kyutai's TTS generation (TtsSpeaker: LM step, Depformer over n_q
// codebooks, Mimi decode) frame by frame. Posts {result} or {error}.
import { createEngine } from '../web/src/engine.js';
import { KYUTAI_MIMI_CONFIG } from '../web/src/hub.js';

const median = (xs) => (xs.length ? [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] : null);

async function fetchOk(url) {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
  return r;
}

// One generation of `frames` decoded frames at `nQ` codebooks: per-step times split into the
// steps before the Depformer starts (LM only) and the steps that give PCM (LM + Depformer +
// Mimi decode); then the same frames decoded alone on a fresh Mimi stream.
async function generate(lm, codec, { voice, tokenizer, text, nQ, frames }) {
  const speaker = await lm.createSpeaker({ voice, tokenizer, mimi: codec, nQ, cfg: 2 });
  const lmOnly = [];
  const full = [];
  const codes = [];
  let samples = 0;
  let nonFinite = 0;
  let words = 0;
  try {
    speaker.pushText(text);
    speaker.end();
    while (speaker.running && full.length < frames) {
      const t0 = performance.now();
      const r = speaker.step();
      const ms = performance.now() - t0;
      words += r.words.length;
      if (r.step >= 1 && r.step < speaker.delaySteps) lmOnly.push(ms);  // step 0 warms up
      if (r.frame && r.pcm) codes.push(Int32Array.from(r.frame.subarray(1)));
      if (!r.pcm) continue;
      full.push(ms);
      samples += r.pcm.length;
      for (const v of r.pcm) if (!Number.isFinite(v)) nonFinite++;
    }
  } finally {
    speaker.dispose();
  }
  const stream = codec.createStream(nQ);
  const decode = [];
  try {
    for (const c of codes) {
      const t0 = performance.now();
      stream.decodeStep(c);
      decode.push(performance.now() - t0);
    }
  } finally {
    stream.dispose();
  }
  const lmMs = median(lmOnly);
  const frameMs = median(full);
  const decodeMs = median(decode);
  return {
    nQ, frames: full.length, delaySteps: speaker.delaySteps, frameSize: speaker.frameSize, samples, nonFinite, words,
    codesInRange: codes.every((c) => c.length === nQ && c.every((t) => t >= 0 && t < lm.config.card)),
    frameMs, lmMs, decodeMs, depformerMs: frameMs - lmMs - decodeMs, stepTimes: full,
  };
}

async function run({ config, weights, mimi, voice, tokenizer, format, threads, text, runs }) {
  const engine = await createEngine({ threads });
  const t0 = performance.now();
  const configText = await (await fetchOk(config)).text();
  const lm = await engine.loadLm(configText, await fetchOk(weights), { format, threads });
  const loadMs = performance.now() - t0;
  const codec = await engine.loadMimi(KYUTAI_MIMI_CONFIG, await fetchOk(mimi), { threads });
  const out = {
    loadMs, load: lm.loadStats, weightBytes: lm.weightBytes(), bytesPerFrame: lm.bytesReadPerFrame(), threads: lm.threads(),
    build: engine.build, crossOriginIsolated: globalThis.crossOriginIsolated === true, runs: [],
  };
  try {
    for (const r of runs) out.runs.push(await generate(lm, codec, { voice, tokenizer, text, ...r }));
    out.heapBytes = engine.heapBytes();
    out.heapLimit = engine.heapLimit();
  } finally {
    codec.dispose();
    lm.dispose();
  }
  return out;
}

self.onmessage = async ({ data }) => {
  try {
    self.postMessage({ result: await run(data) });
  } catch (e) {
    self.postMessage({ error: { name: e?.name, code: e?.code, message: String(e?.message ?? e) } });
  }
};
