// Kyutai's TTS at full size in a browser tab (issue 29 item 9): the synthetic tts-1.6b-en_fr
// checkpoint in bfloat16 (tools/configs/tts-1.6b-en_fr.json, the release's shape, 3.7 GB),
// a synthetic Mimi (the released codec's shape, f32) and a voice [1, 512, 125], generated once
// into <build>/fullsize/ by tools/kyutai_synth, streamed through the engine's loader with q8 /
// q4 conversion in a worker of a headless Chromium page (1 thread, or 2 on the /coi/ page), then
// Kyutai's generation timed per frame: LM + Depformer (n_q steps) + Mimi decode, with the LM
// alone (the steps before the Depformer starts) and Mimi decode alone beside it, against the
// bandwidth floor (weight bytes of a frame / read rate of the same page and thread count).
// Shared by e2e/fullsize.spec.mjs (assertions) and bench/run.mjs (rows).
//
//   node bench/tts-fullsize.mjs      prints the rows (BUILD_DIR picks the build, default build;
//                                    TTS_FORMATS=q4 runs only those formats, default q8,q4)
import { printTable } from './table.mjs';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ensureCheckpoint, assertFreeSpace, fullsizeDir, buildDir, startServer, launchBrowser, openPage, fmt } from './fullsize.mjs';

const CONFIG = 'tools/configs/tts-1.6b-en_fr.json';
const TOKENIZER = '/tests/data/tts/tokenizer.model';  // token ids < 100 < text_card: any SentencePiece model fits
const TEXT = 'Hello world, this is a full size test of the speech model running in a browser tab. '.repeat(20);
const MiB = 2 ** 20;

// The three generated files (about 4.1 GB the first time; reused while unchanged).
export function ensureTts(build = buildDir()) {
  if (!fs.existsSync(path.join(fullsizeDir(build), 'tts-1.6b-en_fr', 'model.safetensors'))) assertFreeSpace(fullsizeDir(build), 4.6e9);
  return {
    lm: ensureCheckpoint('tts-1.6b-en_fr', { config: CONFIG, dtype: 'bf16', build }),
    mimi: ensureCheckpoint('mimi-released', { kind: 'mimi', dtype: 'f32', seed: 11, build }),
    voice: ensureCheckpoint('tts-1.6b-en_fr-voice', { kind: 'voice', config: CONFIG, dtype: 'f32', build }),
  };
}

// Loads the TTS on a page and runs `runs` ([{nQ, frames}]) in its worker; never throws for an
// engine error (returns {error}).
export async function runTts(page, server, files, { format, threads, runs }) {
  const prefix = page.prefix;
  const options = {
    config: server.url + prefix + files.lm.config, weights: server.url + prefix + files.lm.weights,
    mimi: server.url + prefix + files.mimi.weights, voice: server.url + prefix + files.voice.weights,
    tokenizer: server.url + prefix + TOKENIZER, format, threads, text: TEXT, runs,
  };
  return page.page.evaluate(([workerUrl, o]) => new Promise((resolve) => {
    const worker = new Worker(workerUrl, { type: 'module' });
    worker.onmessage = ({ data }) => {
      worker.terminate();
      resolve(data.error ? { error: data.error } : data.result);
    };
    worker.onerror = (e) => {
      worker.terminate();
      resolve({ error: { message: e.message || 'the TTS worker failed' } });
    };
    worker.postMessage(o);
  }), [`${server.url}${prefix}/bench/tts-fullsize-worker.mjs`, options]);
}

// Rows of the report: one per generation run of a load.
export function ttsRows(label, r, gbPerS) {
  if (r.error) return [{ label, error: `${r.error.code ?? ''} ${r.error.message}` }];
  const floorMs = gbPerS ? r.bytesPerFrame / (gbPerS * 1e6) : null;
  return r.runs.map((g) => ({
    label, threads: r.threads, nQ: g.nQ, frames: g.frames, loadS: r.loadMs / 1000, weightMiB: r.weightBytes / MiB,
    heapMiB: r.heapBytes / MiB, frameMs: g.frameMs, lmMs: g.lmMs, depformerMs: g.depformerMs, decodeMs: g.decodeMs,
    floorMs, xFloor: floorMs ? g.frameMs / floorMs : null, realTime: g.frameMs <= 80, gbPerS,
  }));
}

export function printTtsTable(title, rows, log = console.log) {
  const header = ['run', 'threads', 'n_q', 'frames', 'load s', 'weights MiB', 'heap MiB', 'ms/frame', 'LM ms', 'Depformer ms', 'Mimi ms',
    'floor ms', 'x floor', '<= 80 ms'];
  const cells = rows.map((r) => (r.error ? [r.label, '-', '-', r.error] : [r.label, r.threads, r.nQ, r.frames, fmt(r.loadS), fmt(r.weightMiB, 0),
    fmt(r.heapMiB, 0), fmt(r.frameMs), fmt(r.lmMs), fmt(r.depformerMs), fmt(r.decodeMs), fmt(r.floorMs), fmt(r.xFloor, 2), r.realTime ? 'yes' : 'no']));
  printTable(title, header, cells, log);
}

// The benchmark: q8 and q4 (or TTS_FORMATS), 1 thread and 2 (/coi/), each at n_q 32 and 24.
// Returns the rows.
export async function runTtsFullsizeBench({ log = console.log, frames = 12 } = {}) {
  const t0 = performance.now();
  const files = ensureTts();
  if (files.lm.generatedMs) log(`generated ${files.lm.weights} (${(files.lm.bytes / 1e9).toFixed(2)} GB) in ${fmt(files.lm.generatedMs / 1000)} s`);
  const server = await startServer();
  const browser = await launchBrowser();
  const rows = [];
  try {
    for (const format of (process.env.TTS_FORMATS ?? 'q8,q4').split(',')) {
      for (const threads of [1, 2]) {
        const page = await openPage(browser.context, server.url, { coi: threads > 1 });
        const bw = await page.bandwidth(threads);
        const r = await runTts(page, server, files, { format, threads, runs: [{ nQ: 32, frames }, { nQ: 24, frames }] });
        rows.push(...ttsRows(`${format}${threads > 1 ? ' (/coi/)' : ''}`, r, bw));
        await page.close();
      }
    }
  } finally {
    await browser.close();
    await server.close();
  }
  printTtsTable(`Full-size Kyutai TTS (synthetic tts-1.6b-en_fr bf16, ${(files.lm.bytes / 1e9).toFixed(2)} GB) in headless Chromium: median ms per decoded frame ` +
    `(LM + Depformer + Mimi decode) over ${frames} frames; LM = the steps before the Depformer starts, Mimi = the same frames decoded alone, ` +
    'Depformer = the rest; floor = bytesReadPerFrame (every matrix once: the Depformer\'s shared weight sets counted once, so a lower bound) / read rate of the same page; target <= 80 ms', rows, log);
  log(`(TTS full-size section: ${fmt((performance.now() - t0) / 1000)} s)`);
  return rows;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await runTtsFullsizeBench();
