// Speech-to-text as Kyutai ships it, on the caller's side. The work happens where the engine
// is (the worker in browsers; host/transcriber.js's TranscriberServant): the engine's Transcriber
// (src/session/transcriber.h) steps the model on 80 ms frames and Kyutai's word rule makes
// words (src/session/word_stream.h), each given whole once its end is known. What reaches
// this object are the events, delivered three ways: as the value of the call that caused
// them (pushAudio, flush), as DOM events ('word', 'vad', 'endOfTurn'; event.detail is the
// event), and through the async iterator.
//
//   {type: 'word', text, tokens, start, end}        once its end is known (seconds of audio)
//   {type: 'vad', probabilities, pause, time}       every frame: each head's pause probability,
//                                                   and the chosen head's (vadHead)
//   {type: 'endOfTurn', probability, time}          the chosen head's pause probability rose
//                                                   above endOfTurnThreshold
//
// Times are seconds of the audio given, as the engine stamps them. The model's text stream
// lags the audio by asr_delay_in_tokens frames (config.asrDelayInTokens) and the engine takes
// that lag off: the vad event of the n-th frame pushed (from 0) has time
// max(0, (n + 1 - asrDelayInTokens) / 12.5), and a word starts and ends on such frame times.
import { KyutaiError } from './errors.js';
import { SAMPLE_RATE } from './frame-tokenizer.js';
import { resample } from './resample.js';
import { CALL, defineProxies } from './protocol.js';
import { options, optional, number, func, SAMPLE_RATE_HZ } from './validate.js';
import { eventIterator } from './event-queue.js';

// Options consumed here (they never cross to the engine); the transcriber's own are the
// engine side's (protocol.js).
const MONO24K_OPTIONS = options({ sampleRate: SAMPLE_RATE_HZ });
const TRANSCRIBE_OPTIONS = options({ sampleRate: SAMPLE_RATE_HZ, onProgress: optional(func()), chunkSeconds: optional(number(0.08, 3600)) });

const isNode = typeof process === 'object' && !!process.versions?.node;

export class Transcriber extends EventTarget {
  #model;
  #ResultStream;
  #disposed = false;
  #iterators = new Set();
  #streams = new Set();

  // Made by KyutaiModel.createTranscriber(); `info` is the host's description.
  constructor(model, info, ResultStream) {
    super();
    this.#model = model;
    this.#ResultStream = ResultStream;
    this.id = info.id;
    this.model = model;
    this.vadHead = info.vadHead;        // the head whose pause probability drives endOfTurn
    this.heads = info.heads;            // VAD heads of the model (0: no vad events)
    this.frameSize = info.frameSize;    // 1920 samples: 80 ms at 24 kHz
    this.frameRate = info.frameRate;    // 12.5 frames per second
    this.sampleRate = SAMPLE_RATE;
  }

  get disposed() {
    return this.#disposed;
  }

  // The model was disposed (or this was): every later call rejects, iterators end.
  markDisposed() {
    const was = this.#disposed;
    this.#disposed = true;
    for (const it of [...this.#iterators]) it.end();
    return !was;
  }

  [CALL](method, args, options) {
    return this.#call(method, args, options);
  }

  #call(method, args = [], options) {
    if (this.#disposed) return Promise.reject(new KyutaiError('Transcriber was disposed', 'INVALID_STATE'));
    return this.#model.client.call(this.id, method, args, options);
  }

  #deliver(events) {
    for (const e of events) {
      this.dispatchEvent(new CustomEvent(e.type, { detail: e }));
      for (const it of this.#iterators) it.offer(e);
    }
  }

  #fail(error) {
    this.dispatchEvent(new CustomEvent('error', { detail: error }));
    for (const it of [...this.#iterators]) it.fail(error);
  }

  // 24 kHz mono samples, any number: they are cut into frames of 1920 (a partial frame waits
  // for the next push or for flush). Resolves with the events they caused, in order.
  async pushAudio(samples) {
    if (!(samples instanceof Float32Array)) {
      throw new KyutaiError(`pushAudio: expected a Float32Array of 24 kHz samples, got ${samples?.constructor?.name ?? samples}`, 'INVALID_ARGUMENT');
    }
    // A copy of our own when the caller's array could change or costs more to send: in-process
    // the host reads it a microtask later, and posting a view clones its whole buffer. A copy
    // is transferred, not cloned again.
    const whole = samples.buffer instanceof ArrayBuffer && samples.byteOffset === 0 && samples.byteLength === samples.buffer.byteLength;
    const copy = !this.#model.inWorker || !whole;
    const own = copy ? samples.slice() : samples;
    const events = await this.#call('pushAudio', [own], { transfer: copy && this.#model.inWorker ? [own.buffer] : [] });
    this.#deliver(events);
    return events;
  }

  // One frame of audio codes (the model's n_q codebooks), for callers with their own codec.
  async pushCodes(codes) {
    const events = await this.#call('pushCodes', [codes]);
    this.#deliver(events);
    return events;
  }

  // The end of the audio: the engine feeds the model's delay + 1 s of silence so the last
  // words come out. Resolves with the words this produced (all of them also arrive as events,
  // with the vad/endOfTurn events of that silence, stamped after the audio's end).
  async flush() {
    const events = await this.#call('flush');
    this.#deliver(events);
    return events.filter((e) => e.type === 'word');
  }

  // reset() (generated from protocol.js): a new transcript, times start again from 0. A
  // connected capture keeps streaming into it.

  // Live audio from an AudioCapture (createCapture): its worklet posts frames straight to
  // the engine, whose events come here. Returns the ResultStream of frames: 'result' events
  // ({step, textToken, codes, events, seq, timing, stats}) and 'stats' for live readouts,
  // close() to stop. Closing the stream does not end the transcript: call flush() for that.
  async connect(capture, connectOptions) {
    options({})(connectOptions, 'connect(options)');  // maxQueuedFrames: checked by the engine side
    const { maxQueuedFrames = 25 } = connectOptions ?? {};
    if (typeof capture?.attach !== 'function') throw new KyutaiError('connect: expected an AudioCapture (createCapture)', 'INVALID_ARGUMENT');
    const { port1: capturePort, port2: enginePort } = new MessageChannel();
    let id;
    try {
      ({ id } = await this.#call('connect', [enginePort, { maxQueuedFrames }], { transfer: [enginePort] }));
    } catch (e) {
      capturePort.close();
      throw e;
    }
    const stream = new this.#ResultStream(this.#model.client, id);
    this.#streams.add(stream);
    stream.addEventListener('result', (e) => this.#deliver(e.detail.events));
    stream.addEventListener('error', (e) => this.#fail(e.detail));
    stream.ended.then(() => this.#streams.delete(stream));
    await capture.attach(capturePort);
    return stream;
  }

  // Every event from now on, until dispose() (or an error of a live stream, thrown here):
  //   for await (const e of transcriber) if (e.type === 'word') show(e.text);
  // Each iterator has its own queue; events wait in it until read.
  [Symbol.asyncIterator]() {
    return eventIterator(this.#iterators, this.#disposed);
  }

  // Frees the engine's transcriber and closes its live streams.
  async dispose() {
    if (!this.markDisposed()) return;
    this.#model.forget(this);
    if (!this.#model.disposed) await this.#model.client.call(0, 'dispose', [this.id]);
  }
}

defineProxies('transcriber', { Transcriber });

// ---- whole clips ----

// An AudioBuffer, or an object shaped like one (sampleRate, numberOfChannels, getChannelData).
function isAudioBufferLike(audio) {
  return audio && typeof audio.getChannelData === 'function' && typeof audio.sampleRate === 'number' && typeof audio.numberOfChannels === 'number';
}

function downmix(buffer) {
  const n = buffer.numberOfChannels;
  if (n === 1) return buffer.getChannelData(0).slice();
  const out = new Float32Array(buffer.length);
  for (let c = 0; c < n; c++) {
    const ch = buffer.getChannelData(c);
    for (let i = 0; i < out.length; i++) out[i] += ch[i] / n;
  }
  return out;
}

// Any clip -> 24 kHz mono samples.
//  * Float32Array at `sampleRate` (default 24000): resampled by resample.js when needed.
//  * AudioBuffer: its own rate; in browsers the browser resamples it (an OfflineAudioContext
//    at 24 kHz with one channel plays it, which also mixes it down to mono); elsewhere the
//    channels are averaged and resample.js converts.
export async function toMono24k(audio, mono24kOptions) {
  MONO24K_OPTIONS(mono24kOptions, 'toMono24k(options)');
  const { sampleRate } = mono24kOptions ?? {};
  if (audio instanceof Float32Array) {
    const rate = sampleRate ?? SAMPLE_RATE;
    return rate === SAMPLE_RATE ? audio : resample(audio, rate, SAMPLE_RATE);
  }
  if (isAudioBufferLike(audio)) {
    if (audio.sampleRate === SAMPLE_RATE) return downmix(audio);
    if (!isNode && typeof OfflineAudioContext === 'function' && audio instanceof AudioBuffer) {
      const context = new OfflineAudioContext(1, Math.max(1, Math.round((audio.length * SAMPLE_RATE) / audio.sampleRate)), SAMPLE_RATE);
      const source = context.createBufferSource();
      source.buffer = audio;
      source.connect(context.destination);
      source.start();
      return (await context.startRendering()).getChannelData(0).slice();
    }
    return resample(downmix(audio), audio.sampleRate, SAMPLE_RATE);
  }
  throw new KyutaiError(`transcribe: expected a Float32Array or an AudioBuffer, got ${audio?.constructor?.name ?? audio}`, 'INVALID_ARGUMENT');
}

// A whole clip -> {words: [{text, tokens, start, end}], endsOfTurn: [{time, probability}],
// duration (seconds of the clip at 24 kHz)}, on a transcriber made for it and disposed after.
// Options: sampleRate (of a Float32Array), onProgress({seconds, duration}) after each chunk
// of `chunkSeconds` (30) of audio, and the transcriber's options (vadHead,
// endOfTurnThreshold, temperature, seed).
export async function transcribe(model, audio, transcribeOptions) {
  TRANSCRIBE_OPTIONS(transcribeOptions, 'transcribe(options)');
  const { sampleRate, onProgress, chunkSeconds = 30, ...rest } = transcribeOptions ?? {};
  const samples = await toMono24k(audio, { sampleRate });
  const transcriber = await model.createTranscriber(rest);
  const words = [];
  const endsOfTurn = [];
  // Events are dispatched before the call that caused them resolves: flush()'s too.
  transcriber.addEventListener('word', ({ detail: e }) => words.push({ text: e.text, tokens: e.tokens, start: e.start, end: e.end }));
  transcriber.addEventListener('endOfTurn', ({ detail: e }) => endsOfTurn.push({ time: e.time, probability: e.probability }));
  try {
    const chunk = Math.max(1, Math.round(chunkSeconds * transcriber.frameRate)) * transcriber.frameSize;
    for (let offset = 0; offset < samples.length; offset += chunk) {
      await transcriber.pushAudio(samples.subarray(offset, offset + chunk));
      onProgress?.({ seconds: Math.min(samples.length, offset + chunk) / SAMPLE_RATE, duration: samples.length / SAMPLE_RATE });
    }
    await transcriber.flush();
  } finally {
    await transcriber.dispose();
  }
  return { words, endsOfTurn, duration: samples.length / SAMPLE_RATE };
}
