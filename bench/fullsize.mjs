// Full-size models in a real browser tab (issue 11): the synthetic Kyutai STT 1B checkpoint in
// bfloat16 (about 2 GB, Kyutai's exact names and shapes, tools/configs/stt-1b-en_fr.json)
// streamed through the package into headless Chromium with 4-bit and 8-bit conversion, then
// reloaded from the model cache with no network; load time, heap, ms per frame against the
// bandwidth floor. Shared by e2e/fullsize.spec.mjs (with assertions) and bench/run.mjs.
//
//   node bench/fullsize.mjs        prints the figures (BUILD_DIR picks the build, default build)
//
// The checkpoints are generated once by the native tools/kyutai_synth into
// <build>/fullsize/ (reused while the config, dtype, seed and layout are unchanged) and served,
// with the rest of the repository, by a server that counts requests and bytes per file.
import { printTable } from './table.mjs';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import { createStaticServer } from '../scripts/serve.mjs';
import { CHROMIUM, CHROMIUM_ARGS } from '../scripts/chromium.mjs';

export const repo = path.resolve(fileURLToPath(new URL('..', import.meta.url)));
const GENERATOR_VERSION = 1;
const MiB = 2 ** 20;

export function buildDir() {
  return path.resolve(repo, process.env.BUILD_DIR ?? 'build');
}

// Generated files live under the build folder when it is inside the repository (so the
// server, rooted there, serves them), else under build/.
export function fullsizeDir(build = buildDir()) {
  const inside = build.startsWith(repo + path.sep);
  return path.join(inside ? build : path.join(repo, 'build'), 'fullsize');
}

function synthTool(build) {
  const tool = path.join(build, 'native/tools/kyutai_synth');
  if (!fs.existsSync(tool)) throw new Error(`${tool} not found: build the native tools first (bash scripts/build.sh)`);
  return tool;
}

// Writes (or reuses) a synthetic checkpoint: <fullsize>/<name>/config.json and
// model.safetensors (or shards + model.safetensors.index.json). Returns paths, the URL path
// of the weights (from the repository root), their size and how long generating took.
// kind: 'lm' (of `config`), 'mimi' (the released codec, or `config`) or 'voice' (for the TTS LM
// of `config`): kyutai_synth --kind.
export function ensureCheckpoint(name, { config, kind = 'lm', dtype = 'bf16', seed = 1, shards = 1, headerOnly = false, build = buildDir() }) {
  const dir = path.join(fullsizeDir(build), name);
  const configText = config ? fs.readFileSync(path.resolve(repo, config), 'utf8') : '';
  // 'lm' stays out of the stamp so checkpoints generated before kinds existed are reused.
  const stamp = JSON.stringify({ GENERATOR_VERSION, ...(kind === 'lm' ? {} : { kind }), configText, dtype, seed, shards, headerOnly });
  const stampFile = path.join(dir, 'stamp.json');
  const weightsName = shards > 1 ? 'model.safetensors.index.json' : 'model.safetensors';
  let generatedMs = 0;
  if (!(fs.existsSync(stampFile) && fs.readFileSync(stampFile, 'utf8') === stamp)) {
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(dir, { recursive: true });
    const args = ['--kind', kind, '--out', path.join(dir, 'model.safetensors'), '--dtype', dtype, '--seed', String(seed)];
    if (configText) {
      fs.writeFileSync(path.join(dir, 'config.json'), configText);
      args.push('--config', path.join(dir, 'config.json'));
    }
    if (shards > 1) args.push('--shards', String(shards));
    if (headerOnly) args.push('--header-only');
    const t0 = performance.now();
    execFileSync(synthTool(build), args, { stdio: ['ignore', 'ignore', 'inherit'] });
    generatedMs = performance.now() - t0;
    fs.writeFileSync(stampFile, stamp);
  }
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.safetensors'));
  const bytes = files.reduce((n, f) => n + fs.statSync(path.join(dir, f)).size, 0);
  const urlPath = '/' + path.relative(repo, path.join(dir, weightsName)).split(path.sep).join('/');
  const configUrlPath = '/' + path.relative(repo, path.join(dir, 'config.json')).split(path.sep).join('/');
  return { dir, name, weights: urlPath, config: configText ? configUrlPath : null, bytes, files: files.length, generatedMs };
}

// Free space check before writing a large file.
export function assertFreeSpace(dir, bytes) {
  fs.mkdirSync(dir, { recursive: true });
  const s = fs.statfsSync(dir);
  const free = s.bavail * s.bsize;
  if (free < bytes) throw new Error(`${dir}: ${(free / 1e9).toFixed(1)} GB free, need ${(bytes / 1e9).toFixed(1)} GB for the synthetic checkpoint`);
}

// The full-size STT 1B checkpoint in bf16 (about 2 GB; needs ~2 GB free the first time).
export function ensureStt1b(build = buildDir()) {
  const existing = path.join(fullsizeDir(build), 'stt-1b-en_fr', 'model.safetensors');
  if (!fs.existsSync(existing)) assertFreeSpace(fullsizeDir(build), 2.5e9);
  return ensureCheckpoint('stt-1b-en_fr', { config: 'tools/configs/stt-1b-en_fr.json', dtype: 'bf16', build });
}

// A model too large for the heap in f32 (and bf16) but not in q8: only its header is real,
// the data is a hole (a sparse file), since a correct loader never reads past the header.
export function ensureTooLarge(build = buildDir()) {
  return ensureCheckpoint('synthetic-2.6b-header-only', { config: 'tools/configs/synthetic-2.6b.json', dtype: 'bf16', headerOnly: true, build });
}

// A small model as one file and as 3 shards, same values.
export function ensureSmallPair(build = buildDir()) {
  const config = 'tests/data/stt/config.json';
  return {
    single: ensureCheckpoint('small-single', { config, dtype: 'f32', seed: 5, build }),
    sharded: ensureCheckpoint('small-sharded', { config, dtype: 'f32', seed: 5, shards: 3, build }),
  };
}

// A static server for the repository (scripts/serve.mjs, /coi/ included) that counts requests
// and body bytes sent per path (without the /coi prefix), so a test can assert what was
// fetched from the network; `open` is the number of responses still in flight.
export async function startServer() {
  const handler = createStaticServer({ root: repo, index: '' }).listeners('request')[0];
  const counts = new Map();
  const server = http.createServer((req, res) => {
    const p = decodeURIComponent(new URL(req.url, 'http://localhost').pathname).replace(/^\/coi(?=\/)/, '');
    let c = counts.get(p);
    if (!c) counts.set(p, (c = { requests: 0, bytes: 0, open: 0 }));
    c.requests++;
    c.open++;
    const write = res.write;
    res.write = function (chunk, ...rest) {
      c.bytes += chunk?.length ?? 0;
      return write.call(this, chunk, ...rest);
    };
    res.on('close', () => c.open--);
    handler(req, res);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${server.address().port}`;
  return {
    url,
    count: (p) => counts.get(p) ?? { requests: 0, bytes: 0, open: 0 },
    reset: () => counts.clear(),
    // Resolves once no response for `p` is in flight (a cancelled download has closed).
    async idle(p, timeoutMs = 30_000) {
      const t0 = Date.now();
      while ((counts.get(p)?.open ?? 0) > 0) {
        if (Date.now() - t0 > timeoutMs) throw new Error(`${p}: a response is still open after ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    close: () => new Promise((resolve) => {
      server.closeAllConnections?.();
      server.close(resolve);
    }),
  };
}

// One Chromium profile for the whole run (the model cache lives in it), removed at close.
export async function launchBrowser() {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'kyutai-fullsize-profile-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS,
  });
  let closed = false;  // by close() or because Chromium went away (a crash, the OOM killer)
  context.on('close', () => { closed = true; });
  return {
    context,
    get closed() { return closed; },
    async close() {
      if (!closed) await context.close();
      fs.rmSync(profile, { recursive: true, force: true });
    },
  };
}

// A page of e2e/pages/fullsize.html, plain or cross-origin isolated (/coi/: threads); errors
// in the page are collected in `errors`.
export async function openPage(context, base, { coi = false } = {}) {
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console.error: ${m.text()}`);
  });
  await page.goto(`${base}${coi ? '/coi' : ''}/e2e/pages/fullsize.html`);
  await page.waitForFunction(() => window.fullsize, null, { timeout: 30_000 });
  const prefix = coi ? '/coi' : '';
  const rel = '/' + path.relative(repo, buildDir()).split(path.sep).join('/');
  const benchModule = coi ? `${prefix}${rel}/wasm-mt/bench/kyutai-bench-mt.mjs` : `${prefix}${rel}/wasm/bench/kyutai-bench.mjs`;
  return {
    page,
    errors,
    prefix,
    // Read bandwidth (GB/s) of this page with `threads` threads, or null without the bench build.
    bandwidth: async (threads) => {
      if (!fs.existsSync(path.join(repo, benchModule.slice(prefix.length)))) return null;
      return page.evaluate(([m, t]) => window.fullsize.bandwidth(m, t), [benchModule, threads]);
    },
    run: (options) => page.evaluate((o) => window.fullsize.loadAndRun(o), options),
    close: () => page.close(),
  };
}

export const fmt = (v, d = 1) => (v === undefined || v === null || Number.isNaN(v) ? '-' : Number(v).toFixed(d));

// One row of the report from a loadAndRun result and the page's bandwidth.
export function row(label, r, gbPerS) {
  if (r.error) return { label, error: `${r.error.code}: ${r.error.message}` };
  const floorMs = gbPerS ? r.bytesPerFrame / (gbPerS * 1e6) : null;
  const phase = (name) => {
    const i = r.phases.findIndex((p) => p.phase === name);
    if (i < 0) return null;
    const end = r.phases[i + 1]?.at ?? r.loadMs;
    return end - r.phases[i].at;
  };
  return {
    label,
    threads: r.threads,
    source: r.load.source,
    loadS: r.loadMs / 1000,
    streamS: (phase('download') ?? phase('cache') ?? phase('convert')) / 1000,
    exportS: (phase('export') ?? 0) / 1000,
    mbPerS: r.load.bytes / 1e6 / ((phase('download') ?? phase('cache') ?? phase('convert')) / 1000),
    heapBeforeMiB: r.load.heap.sizeBefore / MiB,
    heapPeakMiB: r.load.heap.sizeAfter / MiB,
    peakInUseMiB: r.load.heap.peakInUse / MiB,
    finalInUseMiB: r.load.heap.inUseAfter / MiB,
    weightMiB: r.weightBytes / MiB,
    msPerFrame: r.msPerFrameMedian,
    msPerFrameMean: r.msPerFrame,
    floorMs,
    xFloor: floorMs ? r.msPerFrameMedian / floorMs : null,
    gbPerS,
  };
}

export function printFullsizeTable(title, rows, log = console.log) {
  const header = ['run', 'threads', 'from', 'load s', 'stream s', 'export s', 'MB/s in', 'heap before MiB', 'heap peak MiB', 'in use peak MiB',
    'in use final MiB', 'weights MiB', 'ms/frame', 'floor ms', 'x floor'];
  const cells = rows.map((r) => (r.error ? [r.label, '-', '-', r.error] : [r.label, r.threads, r.source, fmt(r.loadS), fmt(r.streamS),
    fmt(r.exportS), fmt(r.mbPerS, 0), fmt(r.heapBeforeMiB, 0), fmt(r.heapPeakMiB, 0), fmt(r.peakInUseMiB, 0), fmt(r.finalInUseMiB, 0), fmt(r.weightMiB, 0),
    fmt(r.msPerFrame), fmt(r.floorMs), fmt(r.xFloor, 2)]));
  printTable(title, header, cells, log);
}

// The benchmark: q4 downloaded and converted (1 thread), the same URL again from the cache
// (threads, /coi/), q4 and q8 downloaded and converted on threads (/coi/; not cached). Returns rows.
export async function runFullsizeBench({ log = console.log, frameCount = 100 } = {}) {
  const t0 = performance.now();
  const stt = ensureStt1b();
  if (stt.generatedMs) log(`generated ${stt.weights} (${(stt.bytes / 1e9).toFixed(2)} GB) in ${fmt(stt.generatedMs / 1000)} s`);
  const server = await startServer();
  const browser = await launchBrowser();
  const rows = [];
  try {
    const base = { config: server.url + stt.config, weights: server.url + stt.weights, frameCount };
    const runs = [
      { label: 'q4 download', coi: false, threads: 1, options: { format: 'q4' } },
      { label: 'q4 from cache', coi: true, threads: 2, options: { format: 'q4' } },
      // The same conversion as the first row on two threads (panels packed in parallel).
      { label: 'q4 download', coi: true, threads: 2, options: { format: 'q4', cache: false } },
      { label: 'q8 download', coi: true, threads: 2, options: { format: 'q8', cache: false } },
    ];
    for (const run of runs) {
      const page = await openPage(browser.context, server.url, { coi: run.coi });
      const bw = await page.bandwidth(run.threads);
      const r = await page.run({ ...base, ...run.options });
      rows.push(row(`${run.label}${run.coi ? ' (/coi/)' : ''}`, r, bw));
      await page.close();
    }
  } finally {
    await browser.close();
    await server.close();
  }
  printFullsizeTable(`Full-size STT 1B (synthetic bf16 checkpoint, ${(stt.bytes / 1e9).toFixed(2)} GB) in headless Chromium: streamed load with conversion, cached reload, ${frameCount} frames (median ms); floor = weight bytes per frame / read bandwidth of the same page and thread count`, rows, log);
  log(`(full-size section: ${fmt((performance.now() - t0) / 1000)} s)`);
  return rows;
}

// The largest model per format: a synthetic 2.6B-parameter STT-shaped checkpoint
// (tools/configs/synthetic-2.6b.json, 5.6 GB of bf16, real random data) loaded in one tab with
// q8 and q4 conversion (20 frames each), and refused in bf16 and f32 with the sizes; in the
// formats that refuse it, STT 1B is loaded instead. Not part of CI (it writes 5.6 GB);
// `node bench/fullsize.mjs --largest` or BENCH_LARGEST=1 npm run bench.
export async function runLargestBench({ log = console.log, frameCount = 20 } = {}) {
  const existing = path.join(fullsizeDir(), 'synthetic-2.6b', 'model.safetensors');
  if (!fs.existsSync(existing)) assertFreeSpace(fullsizeDir(), 6.5e9);
  const big = ensureCheckpoint('synthetic-2.6b', { config: 'tools/configs/synthetic-2.6b.json', dtype: 'bf16' });
  if (big.generatedMs) log(`generated ${big.weights} (${(big.bytes / 1e9).toFixed(2)} GB) in ${fmt(big.generatedMs / 1000)} s`);
  const stt = ensureStt1b();
  const server = await startServer();
  const browser = await launchBrowser();
  const rows = [];
  const load = async (name, checkpoint, format) => {
    const page = await openPage(browser.context, server.url, { coi: true });
    const bw = await page.bandwidth(2);
    const r = await page.run({ config: server.url + checkpoint.config, weights: server.url + checkpoint.weights, format, cache: false, frameCount });
    if (r.error) log(`${name} ${format}: refused: ${r.error.code}: ${r.error.message}`);
    rows.push(row(`${name} ${format} (/coi/)`, r, bw));
    await page.close();
    return r;
  };
  try {
    for (const format of ['f32', 'bf16', 'q8', 'q4']) {
      if ((await load('2.6B', big, format)).error) await load('STT 1B', stt, format);
    }
  } finally {
    await browser.close();
    await server.close();
  }
  printFullsizeTable(`Largest model per format: synthetic 2.6B STT-shaped checkpoint (bf16, ${(big.bytes / 1e9).toFixed(2)} GB), or STT 1B where that is refused, in headless Chromium, 2 threads, ${frameCount} frames`, rows, log);
  return rows;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  if (process.argv.includes('--largest')) await runLargestBench();
  else await runFullsizeBench();
}
