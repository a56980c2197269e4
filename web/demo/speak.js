// The demo's Speak panel: Kyutai's text-to-speech through the package (model.createSpeaker).
// Text and a voice in, a speaker per run: its PCM goes from the engine's worker straight to
// the playback worklet (speaker.connect), through an AnalyserNode that drives the level meter;
// words light up with their times, and the run's audio is offered as a WAV file. The model is
// the bundled tiny TTS one (web/demo/bundle.js: random weights, so the speech is noise with
// Kyutai's timing), or the demo's loaded model when that is a TTS model.
// State for tests and the curious: window.kyutaiDemo.speak.
import { loadModel, createCapture, createPlayback, SAMPLE_RATE } from '../src/index.js';
import { TTS_BUNDLE_URL, TTS_BUNDLE_FILES } from './bundle.js';
import { wavBlob } from './wav.js';

const $ = (id) => document.getElementById(id);

// "Record my voice": this many seconds of microphone become a voice (model.createVoice, Mimi's
// latent as Kyutai's voice script makes it), which the voice picker then offers.
const RECORD_SECONDS = 10;

const state = {
  ready: false, error: null, running: false, runs: 0, model: null,
  chunks: 0, pcmChunks: 0, samples: 0, words: [], stats: null, played: null, wavBytes: 0,
  level: { peak: 0, loudReads: 0 }, recorded: null,
};

let model = null;        // the model the panel speaks with
let ownModel = null;     // the bundled TTS model (a promise), loaded once when first needed
let audio = null;        // {context, analyser, playback}, made on the first Speak (a user gesture)
let recordedVoice = null;

function setStatus(text, isError = false) {
  $('speak-status').textContent = text;
  $('speak-status').classList.toggle('error', isError);
}

// Shown in the panel's status (not logged: a refused voice file is the user's to fix).
function showError(e) {
  state.error = { name: e.name, code: e.code, message: e.message };
  state.running = false;
  $('speak-button').disabled = !model;
  setStatus(`${e.name}${e.code ? ` (${e.code})` : ''}: ${e.message}`, true);
}

const bundled = (file) => new URL(file, TTS_BUNDLE_URL);

async function loadBundledModel() {
  const { config, weights, tokenizer, mimi } = TTS_BUNDLE_FILES;
  return loadModel({
    config: bundled(config), weights: bundled(weights), tokenizer: bundled(tokenizer),
    frameTokenizer: { type: 'mimi', config: bundled(mimi.config), weights: bundled(mimi.weights) },
  });
}

// The demo's model speaks when it is a TTS model; otherwise the bundled one.
export async function useModel(demoModel) {
  const bundle = demoModel?.config.modelType !== 'tts';
  model = bundle ? await (ownModel ??= loadBundledModel()) : demoModel;
  state.model = { modelType: model.config.modelType, nQ: model.config.nQ, bundled: bundle };
  $('speak-voice').value = bundle || !model.hub ? `bundled:${Object.values(TTS_BUNDLE_FILES.voices)[0]}` : 'name';
  $('speak-model').textContent = bundle ? `the bundled tiny TTS model (${TTS_BUNDLE_URL.pathname}, random weights)` : 'the model loaded above';
  state.ready = true;
  $('speak-button').disabled = false;
  $('speak-record').disabled = false;
  setStatus('ready');
}

function fillVoices() {
  const select = $('speak-voice');
  for (const [label, file] of Object.entries(TTS_BUNDLE_FILES.voices)) select.add(new Option(label, `bundled:${file}`));
  select.add(new Option('the voice file chosen →', 'file'));
  select.add(new Option('the voice name given →', 'name'));
  const recorded = new Option('my recorded voice', 'recorded');
  recorded.disabled = true;
  select.add(recorded);
}

function chosenVoice() {
  const value = $('speak-voice').value;
  if (value.startsWith('bundled:')) return bundled(value.slice('bundled:'.length));
  if (value === 'recorded') return recordedVoice;
  if (value === 'name') return $('speak-voice-name').value.trim() || $('speak-voice-name').placeholder;
  const file = $('speak-voice-file').files[0];
  if (!file) throw new Error('choose a voice file (a kyutai/tts-voices .safetensors file) first');
  return file;
}

// One AudioContext for the page's playback: worklet -> analyser (the meter) -> speakers.
async function audioOut() {
  if (!audio) {
    const context = new AudioContext({ sampleRate: SAMPLE_RATE });
    const analyser = context.createAnalyser();
    analyser.fftSize = 2048;
    analyser.connect(context.destination);
    const playback = await createPlayback(context, { destination: analyser });
    audio = { context, analyser, playback, buffer: new Float32Array(analyser.fftSize) };
  }
  await audio.context.resume();
  return audio;
}

// Peak of what the analyser hears now, for the meter and the state.
function readLevel() {
  audio.analyser.getFloatTimeDomainData(audio.buffer);
  let peak = 0;
  for (const x of audio.buffer) peak = Math.max(peak, Math.abs(x));
  state.level.peak = Math.max(state.level.peak, peak);
  if (peak > 1e-3) state.level.loudReads++;
  $('speak-level').value = Math.min(1, peak);
}

function showWords(words) {
  for (const w of words) {
    state.words.push({ text: w.text, start: w.start, end: w.end });
    const span = document.createElement('span');
    span.textContent = w.text;
    span.title = `${w.start.toFixed(2)} – ${w.end.toFixed(2)} s`;
    $('speak-words').append(span);
  }
}

function showStats(s) {
  state.stats = s;
  const first = s.firstAudioMs === null ? '–' : `${s.firstAudioMs.toFixed(0)} ms`;
  $('speak-readout').textContent = `first audio ${first} · ${s.audioSeconds.toFixed(2)} s of audio · ${s.meanStepMs.toFixed(1)} ms per frame (real-time factor ${s.rtf.toFixed(2)})`;
}

function resetRun() {
  Object.assign(state, { chunks: 0, pcmChunks: 0, samples: 0, words: [], stats: null, played: null, wavBytes: 0, error: null, level: { peak: 0, loudReads: 0 } });
  $('speak-words').textContent = '';
  const a = $('speak-wav');
  if (a.href) URL.revokeObjectURL(a.href);
  a.removeAttribute('href');
  a.hidden = true;
}

// Resolves with the playback's stats once it has played `frames` frames more than `before`.
async function played(playback, before, frames) {
  let stats = await playback.stats();
  for (let i = 0; i < 200 && stats.framesPlayed - before.framesPlayed < frames; i++) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    stats = await playback.stats();
  }
  return { framesPlayed: stats.framesPlayed - before.framesPlayed, received: stats.received - before.received, underruns: stats.underruns - before.underruns };
}

async function speak() {
  if (state.running) return;
  state.running = true;
  state.runs++;
  $('speak-button').disabled = true;
  resetRun();
  const { playback } = await audioOut();
  let speaker = null;
  const meter = setInterval(readLevel, 20);
  try {
    speaker = await model.createSpeaker({ voice: chosenVoice(), cfg: Number($('speak-cfg').value) });
    await speaker.connect(playback);
    const before = await playback.stats();
    const pcm = [];
    setStatus('speaking…');
    for await (const chunk of speaker.speak($('speak-text').value)) {
      state.chunks++;
      if (chunk.pcm) {
        pcm.push(chunk.pcm);
        state.pcmChunks++;
        state.samples += chunk.pcm.length;
      }
      showWords(chunk.words);
      showStats(chunk.stats);
    }
    const wav = wavBlob(pcm, speaker.sampleRate);
    state.wavBytes = wav.size;
    $('speak-wav').href = URL.createObjectURL(wav);
    $('speak-wav').hidden = false;
    state.played = await played(playback, before, state.pcmChunks);
    setStatus(`done: ${state.words.length} words, ${(state.samples / speaker.sampleRate).toFixed(2)} s`);
  } finally {
    clearInterval(meter);
    await speaker?.dispose();
    state.running = false;
    $('speak-button').disabled = false;
  }
}

// RECORD_SECONDS of microphone at 24 kHz -> a voice of the panel's model.
async function recordVoice() {
  const { context } = await audioOut();
  const capture = await createCapture(context, { source: 'microphone' });
  const frames = [];
  let recorded = 0;
  const enough = new Promise((resolve) => capture.addEventListener('frame', ({ detail }) => {
    const frame = detail.samples.slice();  // recycle() transfers the worklet's buffer back
    capture.recycle(detail.samples);
    frames.push(frame);
    recorded += frame.length;
    if (recorded >= RECORD_SECONDS * SAMPLE_RATE) resolve();
  }));
  setStatus(`recording ${RECORD_SECONDS} s…`);
  await enough;
  await capture.dispose();
  const samples = new Float32Array(recorded);
  frames.reduce((offset, f) => (samples.set(f, offset), offset + f.length), 0);
  recordedVoice = await model.createVoice(samples, { seconds: RECORD_SECONDS });
  state.recorded = { samples: samples.length, shape: recordedVoice.shape };
  const option = [...$('speak-voice').options].find((o) => o.value === 'recorded');
  option.disabled = false;
  $('speak-voice').value = 'recorded';
  setStatus('recorded: the voice picker now speaks in your voice');
}

// Wires the panel; demoState.speak is its state. Resolves once a model is ready to speak.
export function initSpeakPanel(demoState) {
  demoState.speak = state;
  fillVoices();
  $('speak-cfg').addEventListener('input', (e) => ($('speak-cfg-value').textContent = Number(e.target.value).toFixed(1)));
  $('speak-voice-file').addEventListener('change', () => ($('speak-voice').value = 'file'));
  $('speak-voice-name').addEventListener('input', () => ($('speak-voice').value = 'name'));
  $('speak-button').addEventListener('click', () => speak().catch(showError));
  $('speak-record').addEventListener('click', () => recordVoice().catch(showError));
  return useModel(null).catch(showError);
}
