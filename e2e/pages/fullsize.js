// Page side of the full-size model runs (e2e/fullsize.spec.mjs, bench/fullsize.mjs): load a
// checkpoint through the package (engine in its worker), time it, step an ASR session on
// deterministic frames, and measure the page's read bandwidth with the benchmark module (in a
// worker of its own, freed afterwards) for the frame's floor.
import * as kyutai from '../../web/src/index.js';

export { kyutai };

// Deterministic audio codes in [0, card): the same frames in every run.
function frames(count, nQ, card) {
  let s = 12345;
  const next = () => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return s >>> 8;
  };
  return Array.from({ length: count }, () => Int32Array.from({ length: nQ }, () => next() % card));
}

// {config, weights, format, cache, frames} -> figures; never throws (returns {error}).
export async function loadAndRun({ config, weights, format, cache, maxBytes, frameCount = 100, threads }) {
  const phases = [];
  let maxLoaded = 0;
  const t0 = performance.now();
  let model;
  try {
    model = await kyutai.loadModel({
      config, weights, format, cache, maxBytes, threads,
      onProgress: (p) => {
        const at = performance.now() - t0;
        if (phases.at(-1)?.phase !== p.phase) phases.push({ phase: p.phase, at, loaded: p.loaded });
        else phases.at(-1).loaded = p.loaded;
        if (p.phase !== 'export') maxLoaded = Math.max(maxLoaded, p.loaded ?? 0);
      },
    });
  } catch (e) {
    return { error: { name: e.name, code: e.code, message: e.message }, maxLoaded, phases, ms: performance.now() - t0 };
  }
  const loadMs = performance.now() - t0;
  const out = {
    loadMs,
    phases,
    load: model.load,
    backend: model.backend,
    threads: model.threads,
    weightBytes: model.weightBytes,
    bytesPerFrame: model.bytesPerFrame,
    crossOriginIsolated: globalThis.crossOriginIsolated === true,
  };
  if (frameCount > 0) {
    const session = await model.createAsrSession();
    const times = [];
    const tokens = [];
    for (const f of frames(frameCount, model.config.nQ, model.config.card)) {
      const s = performance.now();
      const r = await session.pushFrame(f);
      times.push(performance.now() - s);
      tokens.push(r.textToken);
    }
    await session.dispose();
    const sorted = [...times].sort((a, b) => a - b);
    out.frames = frameCount;
    out.msPerFrame = times.reduce((a, b) => a + b, 0) / times.length;
    out.msPerFrameMedian = sorted[Math.floor(sorted.length / 2)];
    out.firstFrameMs = times[0];
    out.tokens = tokens;
  }
  await model.dispose();
  return out;
}

// Outputs (text token and VAD probabilities) of `count` frames, for comparing two loads.
export async function outputs({ config, weights, format, cache, count = 12 }) {
  const model = await kyutai.loadModel({ config, weights, format, cache });
  const session = await model.createAsrSession();
  const out = [];
  for (const f of frames(count, model.config.nQ, model.config.card)) {
    const r = await session.pushFrame(f);
    out.push([r.textToken, ...r.vad]);
  }
  const load = model.load;
  await model.dispose();
  return { out, load };
}

// Read bandwidth (GB/s) of this page with `threads` threads: the benchmark module's
// readBandwidth over 512 MiB, in a worker that is terminated afterwards.
export async function bandwidth(moduleUrl, threads) {
  const worker = new Worker(new URL('../../bench/page-worker.mjs', import.meta.url), { type: 'module' });
  try {
    const result = await new Promise((resolve, reject) => {
      worker.onmessage = ({ data }) => (data.error ? reject(new Error(data.error)) : resolve(data.result));
      worker.onerror = (e) => reject(new Error(e.message || 'the benchmark worker failed'));
      worker.postMessage({ id: 0, module: new URL(moduleUrl, location.href).href, fn: 'readBandwidth', args: [512, threads] });
    });
    return JSON.parse(result).gb_per_s;
  } finally {
    worker.terminate();
  }
}
