// The demo page: loads a model in a worker (the bundled tiny one, or one picked by hub name or
// folder URL), then streams the microphone or a file
// through the capture worklet into a transcriber (speech-to-text as Kyutai ships it) and
// shows what comes out: the token grid and readouts per frame, words as they end, the chosen
// VAD head's pause probability, end-of-turn markers, and captions when the run stops. The
// Speak panel (speak.js) runs Kyutai's text-to-speech.
// State for tests and the curious: window.kyutaiDemo.
import { loadModel, createCapture, toWebVTT, toSRT, FRAME_SIZE, SAMPLE_RATE, DEFAULT_HUB, isModelName } from '../src/index.js';
import { BUNDLE_URL, BUNDLE_FILES } from './bundle.js';
import { TokenGrid } from './token-grid.js';
import { talkative } from './talkative.js';
import { initSpeakPanel, useModel as speakWith } from './speak.js';

const $ = (id) => document.getElementById(id);
const state = (window.kyutaiDemo = {
  ready: false, error: null, model: null, source: null, running: false,
  results: [], words: [], stats: null, captureStats: null, runs: 0,
  vad: [], endsOfTurn: [], vadHead: null, captions: null,
});

let model = null;
let grid = null;
let run = null;  // {transcriber, stream, capture, context}

function setStatus(text, isError = false) {
  $('status').textContent = text;
  $('status').classList.toggle('error', isError);
}

function showError(e) {
  console.error(e);
  state.error = { name: e.name, code: e.code, message: e.message };
  setStatus(`${e.name}${e.code ? ` (${e.code})` : ''}: ${e.message}`, true);
}

const ms = (v) => (v === undefined || v === null ? '–' : `${v.toFixed(1)} ms`);

function showStats(s) {
  if (!s) return;
  state.stats = s;
  $('frames').textContent = s.framesProcessed;
  $('dropped').textContent = s.dropped;
  $('queued').textContent = s.queued;
  $('latency').textContent = ms(s.latencyMs);
  $('compute').textContent = `${ms(s.computeMs)} (mean ${s.meanComputeMs.toFixed(1)})`;
  $('rtf').textContent = s.rtf.toFixed(3);
}

function showWords(words) {
  for (const w of words) {
    state.words.push({ text: w.text, tokens: Array.from(w.tokens), start: w.start, end: w.end });
    const span = document.createElement('span');
    span.title = `${w.start.toFixed(2)} – ${w.end.toFixed(2)} s`;
    if (w.text !== null) span.textContent = `${w.text} `;
    else {
      span.className = 'ids';  // no text tokenizer in the bundle: show the word's token ids
      span.textContent = `[${Array.from(w.tokens).join(' ')}] `;
    }
    $('text').append(span);
  }
}

// The chosen head's pause probability, every frame.
function showVad(e) {
  state.vad.push({ time: e.time, pause: e.pause });
  $('pause').value = e.pause;
  $('pause-value').textContent = e.pause.toFixed(2);
}

function showEndOfTurn(e) {
  state.endsOfTurn.push({ time: e.time, probability: e.probability });
  const marker = document.createElement('span');
  marker.className = 'turn';
  marker.title = `end of turn at ${e.time.toFixed(2)} s (p = ${e.probability.toFixed(2)})`;
  $('text').append(marker);
  const badge = $('eot');
  badge.hidden = false;
  clearTimeout(showEndOfTurn.timer);
  showEndOfTurn.timer = setTimeout(() => (badge.hidden = true), 1500);
}

// Captions of the run's words, offered as downloads.
function showCaptions() {
  const breaks = state.endsOfTurn.map((t) => t.time);
  const vtt = toWebVTT(state.words, { breaks });
  const srt = toSRT(state.words, { breaks });
  state.captions = { vtt, srt };
  for (const [id, text, type] of [['captions-vtt', vtt, 'text/vtt'], ['captions-srt', srt, 'application/x-subrip']]) {
    const a = $(id);
    if (a.href) URL.revokeObjectURL(a.href);
    a.href = URL.createObjectURL(new Blob([text], { type }));
    a.hidden = state.words.length === 0;
  }
}

// Which model to load: the bundled tiny one, or a hub name ('kyutai/stt-1b-en_fr', through the
// hub template) or the URL of a folder holding a repository's files. ?model=&hub=&format= in
// the page's address pick the same (a link to a model).
function chosenModel() {
  const value = $('model-input').value.trim();
  const hub = $('hub-input').value.trim() || DEFAULT_HUB;
  const format = $('format').value;
  if (!value) return { kind: 'bundle', format };
  if (isModelName(value)) return { kind: 'name', name: value, hub, format };
  // A folder URL: its files are read as a repository's, the folder standing for the template.
  return { kind: 'folder', name: 'folder/model', hub: `${new URL(value.replace(/\/?$/, '/'), location.href).href}{file}`, label: value, format };
}

// The bundled tiny model (web/demo/bundle.js), as loadModel's options.
async function bundleOptions() {
  const tokenizer = BUNDLE_FILES.tokenizer ? new URL(BUNDLE_FILES.tokenizer, BUNDLE_URL) : undefined;
  const frameTokenizer = BUNDLE_FILES.mimi
    ? { type: 'mimi', config: new URL(BUNDLE_FILES.mimi.config, BUNDLE_URL), weights: new URL(BUNDLE_FILES.mimi.weights, BUNDLE_URL) }
    : undefined;  // no codec in the bundle: the model takes code frames only
  const weightsUrl = new URL(BUNDLE_FILES.weights, BUNDLE_URL);
  // The tiny random model's bytes are patched here (talkative.js); a real model's URL goes
  // straight to the engine's worker, which downloads it.
  let weights = weightsUrl;
  if (BUNDLE_FILES.talkative) {
    const response = await fetch(weightsUrl);
    if (!response.ok) throw new Error(`fetching ${weightsUrl} failed: HTTP ${response.status}`);
    weights = talkative(await response.arrayBuffer());
  }
  return { config: new URL(BUNDLE_FILES.config, BUNDLE_URL), weights, tokenizer, frameTokenizer };
}

const mb = (n) => (n === undefined ? '?' : `${(n / 1e6).toFixed(n < 1e7 ? 2 : 0)} MB`);

function showProgress(p) {
  const overall = p.overall ?? { loaded: p.loaded, total: p.total };
  if (overall.total) $('load-progress').value = Math.min(1, overall.loaded / overall.total);
  const file = p.fileName ? `${p.fileName}: ` : '';
  $('load-detail').textContent = `${p.phase} · ${file}${mb(p.loaded)}${p.total ? ` of ${mb(p.total)}` : ''}` +
    (p.overall?.total ? ` · all files ${mb(overall.loaded)} of ${mb(overall.total)}` : '');
  if (p.modelFiles) $('model-files').textContent = p.modelFiles.map((f) => `${f.file} (${mb(f.size)})`).join(', ');
}

// Loads the chosen model, replacing the one loaded (and any run on it).
async function loadChosen() {
  const choice = chosenModel();
  await stop().catch(() => {});
  $('mic').disabled = true;
  $('file').disabled = true;
  $('load').disabled = true;
  state.ready = false;
  state.error = null;
  const previous = model;
  model = null;
  await previous?.dispose();
  resetReadouts();
  $('load-progress').value = 0;
  $('model-files').textContent = '–';
  setStatus('loading the model…');
  const t0 = performance.now();
  const format = choice.format === 'auto' ? undefined : choice.format;
  try {
    model = choice.kind === 'bundle'
      ? await loadModel({ ...(await bundleOptions()), format, onProgress: showProgress })
      : await loadModel(choice.name, { hub: choice.hub, format, onProgress: showProgress });
  } finally {
    $('load').disabled = false;
  }
  showModel(choice, performance.now() - t0);
  await speakWith(model);  // the Speak panel speaks with a TTS model loaded here, else its bundled one
}

function showModel(choice, loadMs) {
  const c = model.config;
  const source = choice.kind === 'bundle' ? BUNDLE_URL.pathname : choice.label ?? choice.name;
  $('load-progress').value = 1;
  $('model-name').textContent = `${c.modelType || 'lm'} · ${source}`;
  $('model-shape').textContent = `dim ${c.dim}, ${c.numLayers} layers, ${c.nQ} codebooks × ${c.card}, text vocabulary ${c.textCard}, ${(model.weightBytes / 1e6).toFixed(2)} MB of weights`;
  $('backend').textContent = model.backend;
  $('threads').textContent = String(model.threads);
  const ft = model.frameTokenizer;
  $('frame-tokenizer').textContent = !ft ? 'none for this model: it takes code frames only (no microphone input)'
    : ft.kind === 'mimi'
      ? `mimi (Kyutai's codec, in the engine, ${ft.threads} thread${ft.threads > 1 ? 's' : ''}): ${ft.codebooks} codebooks of ${ft.cardinality} codes, one frame per ${ft.frameSize} samples; the model reads ${c.nQ}`
      : `${ft.kind}: ${ft.codebooks} codes per ${ft.frameSize} samples`;
  $('text-tokenizer').textContent = model.textTokenizer ? `SentencePiece, ${model.textTokenizer.vocabSize} pieces` : 'none for this model: words shown as token ids';
  if (choice.kind === 'bundle' && BUNDLE_FILES.talkative) $('model-name').textContent += ' (random weights, padding rows made talkative: see web/demo/talkative.js)';
  if (model.files) $('model-files').textContent = model.files.map((f) => `${f.file} (${mb(f.size)})`).join(', ');
  $('isolation').textContent = crossOriginIsolated
    ? 'This page is cross-origin isolated: the pthreads build runs.'
    : 'Not cross-origin isolated: single-threaded build. The same page under /coi/ runs the threaded build.';
  grid = new TokenGrid($('tokens'), { codebooks: c.nQ, card: c.card, paddingIds: [c.textPaddingId, c.textEndPaddingId] });
  Object.assign(state, {
    ready: true,
    model: { backend: model.backend, threads: model.threads, config: c, weightBytes: model.weightBytes, frameTokenizer: ft, loadMs, crossOriginIsolated, source, files: model.files ?? null },
  });
  $('mic').disabled = false;
  $('file').disabled = false;
  setStatus(`ready (loaded in ${loadMs.toFixed(0)} ms)`);
}

// Every readout and link of the previous run back to its empty state.
function resetReadouts() {
  for (const id of ['frames', 'dropped', 'queued']) $(id).textContent = '0';
  for (const id of ['latency', 'compute', 'rtf']) $(id).textContent = '–';
  $('text').textContent = '';
  $('pause').value = 0;
  $('pause-value').textContent = '–';
  $('eot').hidden = true;
  for (const id of ['captions-vtt', 'captions-srt']) {
    const a = $(id);
    if (a.href) URL.revokeObjectURL(a.href);
    a.removeAttribute('href');
    a.hidden = true;
  }
  Object.assign(state, { results: [], words: [], stats: null, captureStats: null, vad: [], endsOfTurn: [], captions: null });
}

// A fresh transcriber per run: its events go to the words, the meter and the markers; the
// stream's per-frame results to the grid and the readouts.
async function begin(source) {
  await stop();
  state.runs++;
  state.source = source;
  resetReadouts();
  grid.clear();
  const threshold = Number($('eot-threshold').value);
  const transcriber = await model.createTranscriber({ endOfTurnThreshold: Number.isFinite(threshold) ? threshold : 0.5 });
  state.vadHead = transcriber.vadHead;
  $('vad-head').textContent = transcriber.heads ? `(VAD head ${transcriber.vadHead} of ${transcriber.heads})` : '(this model has no VAD heads)';
  transcriber.addEventListener('word', ({ detail }) => showWords([detail]));
  transcriber.addEventListener('vad', ({ detail }) => showVad(detail));
  transcriber.addEventListener('endOfTurn', ({ detail }) => showEndOfTurn(detail));
  run = { transcriber };
  return run;
}

function listen(stream) {
  stream.addEventListener('result', ({ detail: r }) => {
    state.results.push({ step: r.step, textToken: r.textToken, codes: Array.from(r.codes), seq: r.seq, latencyMs: r.timing.latencyMs });
    grid.push(r.textToken, r.codes);
    showStats(r.stats);
  });
  stream.addEventListener('stats', ({ detail }) => showStats(detail));
  stream.addEventListener('error', ({ detail }) => showError(detail));
  stream.addEventListener('end', ({ detail }) => showStats(detail.stats));
}

async function startMicrophone() {
  const r = await begin('microphone');
  r.context = new AudioContext({ sampleRate: SAMPLE_RATE });
  await r.context.resume();
  r.capture = await createCapture(r.context, { source: 'microphone' });
  r.capture.addEventListener('stats', ({ detail }) => {
    if (!state.captureStats || detail.framesPosted >= state.captureStats.framesPosted) state.captureStats = detail;
  });
  r.stream = await r.transcriber.connect(r.capture, { maxQueuedFrames: 25 });
  listen(r.stream);
  state.running = true;
  $('stop').disabled = false;
  setStatus(`listening (${r.context.sampleRate} Hz)…`);
}

// A file is not live: it is rendered through the same worklet by an OfflineAudioContext (much
// faster than real time), and every frame is kept (no queue bound).
async function runFile(file) {
  const r = await begin('file');
  setStatus(`decoding ${file.name}…`);
  const decoded = await new OfflineAudioContext(1, 1, SAMPLE_RATE).decodeAudioData(await file.arrayBuffer());
  const frames = Math.ceil(decoded.length / FRAME_SIZE);
  r.context = new OfflineAudioContext(1, frames * FRAME_SIZE, SAMPLE_RATE);  // the last frame padded with silence
  const source = r.context.createBufferSource();
  source.buffer = decoded;
  r.capture = await createCapture(r.context, { source });
  r.stream = await r.transcriber.connect(r.capture, { maxQueuedFrames: Infinity });
  listen(r.stream);
  state.running = true;
  setStatus(`transcribing ${file.name} (${frames} frames)…`);
  source.start();
  await r.context.startRendering();
  // Every frame the worklet posted must come back as a result before the stream is closed.
  state.captureStats = await r.capture.stats();
  await r.stream.whenProcessed(state.captureStats.framesPosted);
  await stop();
  setStatus(`done: ${file.name}, ${frames} frames`);
}

// Stops the audio, then flushes the transcriber (the model's delay + 1 s of silence) so the
// last words come out, and makes the captions.
async function stop() {
  if (!run) return;
  const r = run;
  run = null;
  state.running = false;
  $('stop').disabled = true;
  try {
    if (r.capture) state.captureStats = await r.capture.dispose();  // final: nothing is posted after
    if (r.stream) showStats((await r.stream.close()).stats);
    if (r.context && r.context.state !== 'closed' && r.context.close) await r.context.close();
    await r.transcriber.flush();  // its words arrive as 'word' events
    showCaptions();
  } finally {
    await r.transcriber.dispose();
  }
}

$('mic').addEventListener('click', () => startMicrophone().catch(showError));
$('stop').addEventListener('click', () => stop().then(() => setStatus('stopped')).catch(showError));
$('file').addEventListener('change', (e) => {
  const file = e.target.files[0];
  if (file) runFile(file).catch(showError);
});

const params = new URLSearchParams(location.search);
$('model-input').value = params.get('model') ?? '';
$('hub-input').value = params.get('hub') ?? '';
$('format').value = params.get('format') ?? 'auto';
$('load').addEventListener('click', () => loadChosen().catch(showError));
loadChosen().catch(showError);
initSpeakPanel(state);
