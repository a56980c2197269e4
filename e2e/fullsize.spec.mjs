// Full-size models in headless Chromium (issue 11; Playwright project 'fullsize'):
//  - the synthetic STT 1B checkpoint in bf16 (about 2 GB, tools/configs/stt-1b-en_fr.json,
//    generated once into <build>/fullsize/) streams through the package with 4-bit and with
//    8-bit conversion (never held whole: the heap peaks below the file's size), then runs 100
//    streaming frames; load time, heap and ms per frame are printed beside the bandwidth floor;
//  - a second load of the same URL in the same profile comes from the model cache (OPFS) with
//    no request for the weights, and is faster (threads, on a /coi/ page);
//  - a checkpoint too large for the heap is refused after its header, naming a format that fits;
//  - a sharded checkpoint loads to the same model as the single file, also from the cache; the
//    cache is listed and emptied from the page while models run in workers;
//  - Kyutai's TTS at the release's shape (synthetic tts-1.6b-en_fr, bf16 3.7 GB, bench/tts-fullsize.mjs)
//    streams with 4-bit conversion in a worker and generates frames that decode to PCM.
// Its own server (bench/fullsize.mjs: the repository, /coi/ included) counts what was fetched,
// and one persistent Chromium profile holds the cache for the whole file.
import { test, expect } from '@playwright/test';
import {
  ensureStt1b, ensureTooLarge, ensureSmallPair, startServer, launchBrowser, openPage, row, printFullsizeTable, fmt,
} from '../bench/fullsize.mjs';
import { ensureTts, runTts, ttsRows, printTtsTable } from '../bench/tts-fullsize.mjs';

test.describe.configure({ mode: 'serial' });

const MiB = 2 ** 20;
let server;
let browser;
let stt;
const requests = [];  // every URL Chromium requested (pages and workers), as Playwright saw them
const rows = [];
let first = null;     // the q4 download

test.beforeAll(async () => {
  test.setTimeout(300_000);
  stt = ensureStt1b();
  console.log(`synthetic STT 1B bf16: ${stt.weights}, ${(stt.bytes / 1e9).toFixed(2)} GB` +
    (stt.generatedMs ? `, generated in ${fmt(stt.generatedMs / 1000)} s` : ' (reused)'));
  server = await startServer();
  browser = await launchBrowser();
  browser.context.on('request', (r) => requests.push(r.url()));
});

test.afterAll(async () => {
  if (rows.length) printFullsizeTable('Full-size STT 1B in headless Chromium (median ms/frame over 100 frames; floor = weight bytes per frame / read bandwidth of the same page)', rows);
  await browser?.close();
  await server?.close();
});

async function page(options) {
  return openPage(browser.context, server.url, options);
}

const weightsUrl = () => server.url + stt.weights;
const seen = (url) => requests.filter((u) => new URL(u).pathname.replace(/^\/coi(?=\/)/, '') === new URL(url).pathname).length;

test('STT 1B bf16 with 4-bit conversion: streamed, converted as it arrives, cached; 100 frames on one thread', async () => {
  test.setTimeout(300_000);
  const p = await page();
  const bw = await p.bandwidth(1);
  server.reset();
  const r = await p.run({ config: server.url + stt.config, weights: weightsUrl(), format: 'q4' });
  expect(r.error).toBeUndefined();
  rows.push(row('q4, download (1 thread)', r, bw));
  first = r;
  console.log(`q4 download: load ${fmt(r.loadMs / 1000)} s (stream ${fmt((r.phases[1].at - r.phases[0].at) / 1000)} s, export to cache ${fmt(r.load.exportMs / 1000)} s), ` +
    `heap ${fmt(r.load.heap.sizeBefore / MiB, 0)} -> ${fmt(r.load.heap.sizeAfter / MiB, 0)} MiB (peak in use ${fmt(r.load.heap.peakInUse / MiB, 0)}, final ${fmt(r.load.heap.inUseAfter / MiB, 0)}), ` +
    `${fmt(r.msPerFrameMedian)} ms/frame (floor ${fmt(r.bytesPerFrame / (bw * 1e6))} ms at ${fmt(bw, 2)} GB/s)`);

  expect(r.load.source).toBe('network');
  expect(r.load.cached).toBe(true);
  expect(r.load.cacheError).toBeNull();
  expect(r.phases.map((x) => x.phase)).toEqual(['download', 'export', 'ready']);
  expect(r.load.bytes).toBe(stt.bytes);
  expect(r.load.contentHash).toMatch(/^[0-9a-f]{16}$/);
  // Never a copy of the file: the heap (which never shrinks, so its size is its peak) stays
  // below the 2 GB file, at the final model plus a bounded buffer (largest tensor, chunk, growth).
  const h = r.load.heap;
  expect(h.sizeAfter).toBeLessThan(stt.bytes * 0.6);
  expect(h.sizeAfter - r.weightBytes).toBeLessThan(160 * MiB);
  expect(h.peakInUse - h.inUseAfter).toBeLessThan(96 * MiB);
  expect(h.maxBytes).toBeGreaterThan(4 * 2 ** 30 - 256 * MiB);
  // One request, the whole file once; Playwright saw it too (the worker's fetch).
  expect(server.count(stt.weights)).toMatchObject({ requests: 1, bytes: stt.bytes });
  expect(seen(weightsUrl())).toBe(1);
  expect(r.threads).toBe(1);
  expect(r.tokens.every((t) => t >= 0 && t < 8000)).toBe(true);
  expect(p.errors).toEqual([]);
  await p.close();
});

test('the same URL again in the same profile: from the cache, no request for the weights, faster; threads on /coi/', async () => {
  test.setTimeout(300_000);
  expect(first, 'needs the q4 download').not.toBeNull();
  const p = await page({ coi: true });
  const bw = await p.bandwidth(2);
  server.reset();
  const before = seen(weightsUrl());
  const r = await p.run({ config: server.url + stt.config, weights: weightsUrl(), format: 'q4' });
  expect(r.error).toBeUndefined();
  rows.push(row('q4, from cache (/coi/, threads)', r, bw));
  console.log(`q4 from cache: load ${fmt(r.loadMs / 1000)} s (first load ${fmt(first.loadMs / 1000)} s), ${r.threads} threads, ` +
    `${fmt(r.msPerFrameMedian)} ms/frame (floor ${fmt(r.bytesPerFrame / (bw * 1e6))} ms at ${fmt(bw, 2)} GB/s)`);

  expect(r.load.source).toBe('cache');
  expect(r.phases.map((x) => x.phase)).toEqual(['cache', 'ready']);
  expect(r.load.contentHash).toBe(first.load.contentHash);
  expect(server.count(stt.weights).requests).toBe(0);
  expect(seen(weightsUrl())).toBe(before);
  expect(r.loadMs).toBeLessThan(first.loadMs);
  expect(r.weightBytes).toBe(first.weightBytes);
  expect(r.crossOriginIsolated).toBe(true);
  expect(r.threads).toBe(2);
  // Same weights: the same greedy tokens as the first load's session.
  expect(r.tokens).toEqual(first.tokens);

  const listed = await p.page.evaluate(() => window.fullsize.kyutai.listCachedModels());
  const entry = listed.find((e) => e.url === weightsUrl() && e.format === 'q4');
  expect(entry).toMatchObject({ contentHash: first.load.contentHash, sourceBytes: stt.bytes });
  expect(entry.bytes).toBeLessThan(stt.bytes / 2);
  expect(p.errors).toEqual([]);
  await p.close();
});

test('STT 1B bf16 with 8-bit conversion: streamed and converted on two threads (/coi/); 100 frames', async () => {
  test.setTimeout(300_000);
  const p = await page({ coi: true });
  const bw = await p.bandwidth(2);
  server.reset();
  const r = await p.run({ config: server.url + stt.config, weights: weightsUrl(), format: 'q8', cache: false });
  expect(r.error).toBeUndefined();
  rows.push(row('q8, download (/coi/, threads)', r, bw));
  console.log(`q8 download: load ${fmt(r.loadMs / 1000)} s, heap ${fmt(r.load.heap.sizeBefore / MiB, 0)} -> ${fmt(r.load.heap.sizeAfter / MiB, 0)} MiB ` +
    `(final in use ${fmt(r.load.heap.inUseAfter / MiB, 0)}), ${r.threads} threads, ${fmt(r.msPerFrameMedian)} ms/frame (floor ${fmt(r.bytesPerFrame / (bw * 1e6))} ms at ${fmt(bw, 2)} GB/s)`);
  expect(r.load.source).toBe('network');
  expect(r.load.cached).toBe(false);
  expect(r.phases.map((x) => x.phase)).toEqual(['download', 'ready']);
  expect(r.load.heap.sizeAfter).toBeLessThan(stt.bytes * 0.75);
  expect(r.load.heap.sizeAfter - r.weightBytes).toBeLessThan(160 * MiB);
  expect(r.weightBytes).toBeGreaterThan(first.weightBytes);
  expect(server.count(stt.weights)).toMatchObject({ requests: 1, bytes: stt.bytes });
  expect(p.errors).toEqual([]);
  await p.close();
});

test('a checkpoint too large for the heap is refused after its header, naming the sizes and a format that fits', async () => {
  test.setTimeout(120_000);
  const big = ensureTooLarge();  // 2.8e9 parameters, 5.6 GB in bf16 (a sparse file: only the header is real)
  const p = await page();
  server.reset();
  const r = await p.run({ config: server.url + big.config, weights: server.url + big.weights, format: 'f32' });
  await server.idle(big.weights);
  const sent = server.count(big.weights);
  console.log(`refused in ${fmt(r.ms)} ms: ${r.error?.message}; progress reported ${r.maxLoaded} bytes converted, ` +
    `the server sent ${fmt(sent.bytes / MiB, 2)} MiB of the ${fmt(big.bytes / MiB, 0)} MiB file`);
  expect(r.error).toMatchObject({ name: 'KyutaiError', code: 'LIMIT_EXCEEDED' });
  expect(r.error.message).toMatch(/^model does not fit: f32 needs 10\d{3} MiB \(weights \d+ MiB, KV cache 468 MiB, load buffer 68 MiB\) but the WebAssembly heap can take 40\d\d MiB more; format 'q8' would need 36\d\d MiB and fits$/);
  // Only the header (about 25 KB) and what was in flight: nothing was converted, the download
  // was cancelled.
  expect(r.maxLoaded).toBeLessThan(4 * MiB);
  expect(sent.requests).toBe(1);
  expect(sent.bytes).toBeLessThan(64 * MiB);
  expect(r.phases.every((x) => x.phase === 'download')).toBe(true);
  const listed = await p.page.evaluate(() => window.fullsize.kyutai.listCachedModels());
  expect(listed.some((e) => e.url.includes('synthetic-2.6b'))).toBe(false);
  expect(p.errors).toEqual([]);
  await p.close();
});

test('a sharded checkpoint loads to the same model as the single file, and from the cache; list, delete and clear from the page', async () => {
  test.setTimeout(120_000);
  const { single, sharded } = ensureSmallPair();
  expect(sharded.files).toBe(3);
  const p = await page();
  const at = (x) => ({ config: server.url + x.config, weights: server.url + x.weights });
  const r = await p.page.evaluate(async ([one, many]) => {
    const { outputs, kyutai } = window.fullsize;
    const reference = await outputs({ ...one, cache: false });
    const first = await outputs({ ...many, format: 'q8' });
    const again = await outputs({ ...many, format: 'q8' });
    const singleQ8 = await outputs({ ...one, format: 'q8', cache: false });
    const shardsAuto = await outputs({ ...many, cache: false });
    const listed = await kyutai.listCachedModels();
    const deleted = await kyutai.deleteCachedModel(many.weights, 'q8');
    const deletedAgain = await kyutai.deleteCachedModel(many.weights, 'q8');
    const afterDelete = await kyutai.listCachedModels();
    const reloaded = await outputs({ ...many, format: 'q8' });
    // While a model is loaded in its worker, the page clears the cache.
    const live = await kyutai.loadModel({ ...one, format: 'q4' });
    const cleared = await kyutai.clearModelCache();
    const afterClear = await kyutai.listCachedModels();
    const session = await live.createAsrSession();
    const stillRuns = (await session.pushFrame(new Int32Array(live.config.nQ))).step;
    await live.dispose();
    return { reference, first, again, singleQ8, shardsAuto, listed, deleted, deletedAgain, afterDelete, reloaded, cleared, afterClear, stillRuns };
  }, [at(single), at(sharded)]);

  // Same values in one file or three: identical outputs, converted or not.
  expect(r.shardsAuto.out).toEqual(r.reference.out);
  expect(r.first.out).toEqual(r.singleQ8.out);
  expect(r.first.load).toMatchObject({ source: 'network', files: 3, cached: true });
  // The second load of the index URL is a cache hit (no shard or index fetched); same outputs.
  expect(r.again.load).toMatchObject({ source: 'cache', contentHash: r.first.load.contentHash });
  expect(r.again.out).toEqual(r.first.out);
  const index = server.url + sharded.weights;
  expect(r.listed.map((e) => `${e.url}#${e.format}`)).toContain(`${index}#q8`);
  expect(r.deleted).toBe(true);
  expect(r.deletedAgain).toBe(false);
  expect(r.afterDelete.some((e) => e.url === index)).toBe(false);
  expect(r.reloaded.load.source).toBe('network');
  expect(r.reloaded.out).toEqual(r.first.out);
  // Everything cached in this profile: the STT 1B q4 entry, this index again, the single q4.
  expect(r.cleared).toBeGreaterThanOrEqual(2);
  expect(r.afterClear).toEqual([]);
  expect(r.stillRuns).toBeGreaterThanOrEqual(0);
  expect(p.errors).toEqual([]);
  await p.close();

  // The threaded build's heap is a SharedArrayBuffer: its export reaches the cache too.
  const coi = await page({ coi: true });
  const once = await coi.run({ ...at(single), format: 'q8', frameCount: 3 });
  const twice = await coi.run({ ...at(single), format: 'q8', frameCount: 3 });
  expect(once.load).toMatchObject({ source: 'network', cached: true, cacheError: null });
  expect(once.threads).toBe(2);
  expect(twice.load).toMatchObject({ source: 'cache', cacheError: null });
  expect(twice.tokens).toEqual(once.tokens);
  expect(coi.errors).toEqual([]);
  await coi.close();
});

test('Kyutai TTS 1.6B (synthetic bf16, 3.7 GB) with 4-bit conversion: streamed once, well under the 4 GB heap; its frames decode to PCM', async () => {
  test.setTimeout(900_000);
  const files = ensureTts();  // generated once (about 4 GB), reused by later runs
  const p = await page();
  const bw = await p.bandwidth(1);
  server.reset();
  const r = await runTts(p, server, files, { format: 'q4', threads: 1, runs: [{ nQ: 24, frames: 3 }] });
  expect(r.error).toBeUndefined();
  const rows = ttsRows('q4, 1 thread', r, bw);
  printTtsTable('Full-size Kyutai TTS in headless Chromium (q4, n_q 24, 3 decoded frames)', rows);

  // Streamed: one request for the whole file, never a copy of it on the heap.
  expect(server.count(files.lm.weights)).toMatchObject({ requests: 1, bytes: files.lm.bytes });
  expect(r.load.bytes).toBe(files.lm.bytes);
  expect(r.load.heapBytesAfter).toBeLessThan(files.lm.bytes * 0.5);
  // q4 holds 6 bits per weight in memory (Q4_K's f32 scale and min per 32 weights) against bf16's 16.
  expect(r.weightBytes).toBeLessThan(files.lm.bytes * 0.45);
  // With Mimi (f32) and the session (KV caches, the voice's cross-attention keys), room is left.
  expect(r.heapBytes).toBeLessThan(2.5 * 2 ** 30);
  const g = r.runs[0];
  expect(g.delaySteps).toBe(16);
  expect(g.frames).toBe(3);
  expect(g.frameSize).toBe(1920);
  expect(g.samples).toBe(3 * 1920);
  expect(g.nonFinite).toBe(0);
  expect(g.codesInRange).toBe(true);
  expect(g.words).toBeGreaterThan(0);
  expect(g.frameMs).toBeGreaterThan(g.lmMs);
  expect(p.errors).toEqual([]);
  await p.close();
});
