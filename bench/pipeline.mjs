// The pipeline row (issue 32): PCM in -> words out through the package's public API
// (loadModel, createTranscriber, pushAudio) in headless Chromium, as an app runs it, with
// STT-1B-shaped synthetic weights (the 2 GB bf16 checkpoint of bench/fullsize.mjs) converted to
// q4 and q8 at load, the released-shape Mimi with synthetic weights as the frame tokenizer, and
// an 8000-piece tokenizer; one thread on a plain page, two on the cross-origin-isolated /coi/
// page. Also the time to the first word from a cached loadModel, on a sentence spoken by
// espeak-ng. Page side: bench/pipeline-page.mjs.
//
//   node bench/pipeline.mjs [--quick]     prints the table (BUILD_DIR picks the build)
import { printTable } from './table.mjs';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { buildDir, ensureStt1b, fullsizeDir, fmt, launchBrowser, repo, startServer } from './fullsize.mjs';
import { sentencePieceModel } from './tokenizer.mjs';

export const SENTENCE = 'The quick brown fox jumps over the lazy dog, then runs back home before the rain starts.';
const FRAME_MS = 80;

const urlPath = (file) => '/' + path.relative(repo, file).split(path.sep).join('/');

// The released-shape Mimi with synthetic weights (bench module's mimi_checkpoint: the values
// the Mimi rows time), written once by the native bench CLI.
function ensureMimi(build) {
  const dir = path.join(fullsizeDir(build), 'mimi-released');
  const weights = path.join(dir, 'model.safetensors');
  const config = path.join(dir, 'config.json');
  if (!fs.existsSync(weights) || !fs.existsSync(config)) {
    fs.mkdirSync(dir, { recursive: true });
    const out = JSON.parse(execFileSync(path.join(build, 'native/bench/kyutai_bench'), ['mimi-checkpoint', weights], { encoding: 'utf8' }));
    if (out.error) throw new Error(`synthetic Mimi: ${out.error}`);
    fs.writeFileSync(config, JSON.stringify(out.config, null, 2));
  }
  return { config: urlPath(config), weights: urlPath(weights) };
}

function ensureTokenizer(build, vocabSize, padId) {
  const file = path.join(fullsizeDir(build), `tokenizer-${vocabSize}`, 'tokenizer.model');
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, sentencePieceModel(vocabSize, padId));
  return urlPath(file);
}

// The spoken sentence: espeak-ng, then sox to 24 kHz mono 16-bit (as e2e/global-setup.mjs).
function ensureSpeech(build) {
  const dir = path.join(fullsizeDir(build), 'speech');
  const wav = path.join(dir, 'speech-24k.wav');
  fs.mkdirSync(dir, { recursive: true });
  const raw = path.join(dir, 'speech-raw.wav');
  try {
    execFileSync('espeak-ng', ['-w', raw, SENTENCE]);
    execFileSync('sox', [raw, '-r', '24000', '-c', '1', '-b', '16', wav]);
  } catch (e) {
    throw new Error(`could not make the speech with espeak-ng and sox (scripts/setup.sh installs them): ${e.message}`, { cause: e });
  }
  return { url: urlPath(wav), seconds: (fs.statSync(wav).size - 44) / 2 / 24000 };
}

// The runs: each format downloaded and converted on one thread (the model cache keeps it),
// then loaded from the cache on the /coi/ page with two threads, where the first word is timed.
function plan(quick) {
  const formats = quick ? ['q4'] : ['q4', 'q8'];
  return formats.flatMap((format) => [
    { format, threads: 1, coi: false },
    { format, threads: 2, coi: true, firstWord: true },
  ]);
}

export async function runPipelineBench({ quick = false, log = console.log, build = buildDir() } = {}) {
  const t0 = performance.now();
  const stt = ensureStt1b(build);
  const lmConfig = JSON.parse(fs.readFileSync(path.join(stt.dir, 'config.json'), 'utf8'));
  const mimi = ensureMimi(build);
  const tokenizer = ensureTokenizer(build, lmConfig.text_card, lmConfig.existing_text_padding_id ?? 3);
  const speech = ensureSpeech(build);
  const server = await startServer();
  let browser = await launchBrowser();
  const rows = [];
  try {
    const url = (p) => server.url + p;
    for (const r of plan(quick)) {
      // A row whose browser went away is reported with its error; the next row gets a fresh one
      // (and a fresh model cache, so it loads from the network).
      if (browser.closed) {
        await browser.close();
        browser = await launchBrowser();
      }
      const errors = [];
      let page = null;
      try {
        page = await browser.context.newPage();
        page.on('pageerror', (e) => errors.push(e.message));
        page.on('crash', () => errors.push('the page crashed'));
        await page.goto(`${server.url}${r.coi ? '/coi' : ''}/bench/pipeline.html`);
        await page.waitForFunction(() => window.pipeline, null, { timeout: 30_000 });
        const options = {
          config: url(stt.config), weights: url(stt.weights), tokenizer: url(tokenizer), format: r.format, threads: r.threads,
          mimi: { config: url(mimi.config), weights: url(mimi.weights) }, speechUrl: url(speech.url), firstWord: !!r.firstWord,
          warmupFrames: quick ? 20 : 40, frames: quick ? 25 : 40, fullWindow: !quick, context: lmConfig.context,
        };
        const result = await page.evaluate((o) => window.pipeline.run(o), options);
        rows.push({ kind: 'pipeline', ...r, ...result, speechSeconds: speech.seconds });
      } catch (e) {
        const error = [String(e.message ?? e).split('\n')[0], ...errors].join('; ');
        rows.push({ kind: 'pipeline', ...r, error, pageErrors: errors });
      } finally {
        await page?.close().catch(() => {});  // already gone with its browser
      }
    }
  } finally {
    await browser.close();
    await server.close();
  }
  printPipeline(rows, log);
  log(`(pipeline section: ${fmt((performance.now() - t0) / 1000)} s)`);
  return rows;
}

// Twice real time on one core (<= 40 ms per 80 ms frame), <= 25 ms on two: the moonshot.
export const moonshotMs = (threads) => (threads > 1 ? 25 : 40);

// Synthetic weights spell long nonsense words: the table shows their start.
const clip = (text, n = 24) => (text.length > n ? `${text.slice(0, n)}…` : text);

export function printPipeline(rows, log = console.log) {
  const header = ['format', 'threads', 'build', 'load from', 'load s', 'ms/frame', 'ms full window', 'RTF', 'moonshot', 'first word'];
  const cells = rows.map((r) => {
    if (r.error) return [r.format, r.threads, '-', '-', '-', '-', '-', '-', '-', r.error];
    const ms = Math.max(r.msPerFrame, r.msPerFrameFullWindow ?? 0);
    const target = moonshotMs(r.threads);
    const w = r.firstWord;
    const first = w ? (w.at === null ? `none in ${w.framesPushed} frames + flush` : `${fmt(w.at / 1000, 2)} s (load ${fmt(w.loadMs / 1000, 2)} s, the LM's part ${fmt(w.lmMs / 1000, 2)} s, ` +
      `${w.framesPushed} frames${w.atFlush ? ' + flush' : ''}, "${clip(w.text)}" ends at ${fmt(w.end, 2)} s of audio)`) : '';
    return [r.format, r.threads, r.build, r.source, fmt(r.loadMs / 1000), fmt(r.msPerFrame), fmt(r.msPerFrameFullWindow), fmt(ms / FRAME_MS, 2),
      `<= ${target} ms: ${ms <= target ? 'holds' : 'not yet'}`, first];
  });
  printTable('Pipeline: 24 kHz PCM -> Mimi encode -> STT-1B LM -> words, through the public transcriber API (loadModel + createTranscriber + pushAudio per 80 ms frame, worker round trip included) in headless Chromium; synthetic weights of the released shapes; ms/frame: median at the start of a stream (after a throwaway warm-up stream); full window: past the LM\'s 750-frame attention window; RTF and the moonshot use the slower of the two; first word: from a cached loadModel call to the first word event, the sentence pushed as fast as it is taken; the LM\'s part of the load ends at its last progress event (read from the model cache and packed), then Mimi (385 MB of f32 over HTTP) and the tokenizer load', header, cells, log);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await runPipelineBench({ quick: process.argv.includes('--quick') });
  process.exit(0);
}
