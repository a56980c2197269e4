// Kyutai's text-to-speech on the caller's side (made by KyutaiModel.createSpeaker). The work
// happens where the engine is (host/speaker.js over the engine's Speaker): this sends text and
// receives chunks, as DOM events ('chunk', 'end', 'error'; event.detail) and through async
// iterators:
//
//   for await (const chunk of speaker.speak('Hello <break time="0.5s"/> world')) play(chunk.pcm);
//
//   const playing = (async () => { for await (const chunk of speaker) show(chunk.words); })();
//   for await (const piece of llm) await speaker.pushText(piece);   // text as it comes
//   await speaker.end();
//   await playing;
//
// A chunk is {step, frame: Int32Array | null (text + audio codes), pcm: Float32Array | null
// (frameSize samples at sampleRate; null within the first delaySteps frames or without Mimi),
// words: [{text, start, end}] (seconds of the PCM; a word comes once the next one starts),
// stats}. `stats.firstAudioMs` is the time from the first speak() / pushText() call to the
// first chunk with PCM, on the caller's clock.
import { KyutaiError, deserializeError } from './errors.js';
import { bytesSource } from './inputs.js';
import { voiceFileUrl } from './hub.js';
import { options as optionsOf, string, withMethod } from './validate.js';
import { eventIterator } from './event-queue.js';

const TEXT = string();
const PLAYBACK = withMethod('channel', 'an AudioPlayback (createPlayback)');
const CREATE_OPTIONS = optionsOf({});

const now = () => performance.now();
const hasScheme = (s) => /^[a-z][a-z0-9+.-]*:/i.test(s);

// createSpeaker's voice, ready for the engine side: {source, transfer}. A voice latent
// {data, shape} (the hook for a recorded voice: Mimi's encode_to_latent) goes as it is; a
// string without a scheme is a voice name of kyutai/tts-voices when the model came by name.
export async function voiceSource(model, voice) {
  if (voice?.data instanceof Float32Array && Array.isArray(voice.shape)) return { source: voice, transfer: [] };
  const isName = typeof voice === 'string' && model.hub && !hasScheme(voice) && !/^\.{0,2}\//.test(voice);
  const file = isName ? voiceFileUrl(voice, model.hub.modelId, { hub: model.hub.hub }) : voice;
  const { source, transfer } = await bytesSource(file, model.inWorker, 'voice');
  return { source, transfer };
}

export async function createSpeaker(model, speakerOptions, call) {
  CREATE_OPTIONS(speakerOptions, 'createSpeaker(options)');
  const { voice, ...rest } = speakerOptions ?? {};
  const { source, transfer } = await voiceSource(model, voice);
  const info = await call('createSpeaker', [{ ...rest, voice: source }], { transfer });
  return new Speaker(model, info);
}

export class Speaker extends EventTarget {
  #model;
  #disposed = false;
  #finished = false;
  #iterators = new Set();
  #unsubscribe;
  #start = null;  // the first speak() / pushText() call, for stats.firstAudioMs

  constructor(model, info) {
    super();
    this.#model = model;
    this.id = info.id;
    this.model = model;
    this.delaySteps = info.delaySteps;  // frames of generation before the audio starts
    this.sampleRate = info.sampleRate;  // of the PCM (0 without Mimi: codes only)
    this.frameSize = info.frameSize;    // samples per chunk of PCM
    this.frameRate = info.frameRate;    // 12.5 frames per second
    this.stats = { firstAudioMs: null, steps: 0, audioSeconds: 0, computeMs: 0, meanStepMs: 0, rtf: 0 };
    this.#unsubscribe = model.client.subscribe(this.id, (name, data) => this.#event(name, data));
  }

  get disposed() {
    return this.#disposed;
  }

  // True once the speech has finished (after end(), its last chunk given).
  get finished() {
    return this.#finished;
  }

  #event(name, data) {
    if (name === 'chunk') {
      if (data.pcm && this.stats.firstAudioMs === null) this.stats.firstAudioMs = now() - this.#start;
      Object.assign(this.stats, data.stats, { firstAudioMs: this.stats.firstAudioMs });
      data.stats = { ...this.stats };
      this.#deliver('chunk', data, (it) => it.offer(data));
    } else if (name === 'end') {
      this.#finished = true;
      Object.assign(this.stats, data.stats, { firstAudioMs: this.stats.firstAudioMs });
      this.#deliver('end', { stats: { ...this.stats } }, (it) => it.end());
    } else if (name === 'error') {
      const error = data instanceof Error ? data : deserializeError(data);
      this.#deliver('error', error, (it) => it.fail(error));
    }
  }

  #deliver(name, detail, toIterator) {
    this.dispatchEvent(new CustomEvent(name, { detail }));
    for (const it of [...this.#iterators]) toIterator(it);
  }

  #call(method, args = [], callOptions) {
    if (this.#disposed) return Promise.reject(new KyutaiError('Speaker was disposed', 'INVALID_STATE'));
    return this.#model.client.call(this.id, method, args, callOptions);
  }

  // Appends text; a word is spoken once whitespace (or end()) follows it, so text can come
  // in any pieces (an LLM's tokens). Refused after end().
  async pushText(text) {
    TEXT(text, 'pushText(text)');
    this.#start ??= now();
    await this.#call('pushText', [text]);
  }

  // No more text: the last word is complete and the speech ends after it.
  async end() {
    await this.#call('end');
  }

  // The chunks of `text` (a whole script: pushText(text) then end()), until the speech ends.
  speak(text) {
    const chunks = this[Symbol.asyncIterator]();  // before the text goes: no chunk is missed
    (async () => {
      await this.pushText(text);
      await this.end();
    })().catch((e) => chunks.fail(e));
    return chunks;
  }

  // The PCM also goes to `playback` (an AudioPlayback), straight from the engine's thread.
  async connect(playback) {
    PLAYBACK(playback, 'connect(playback)');
    const port = playback.channel();
    await this.#call('connect', [port], { transfer: [port] });
  }

  // Chunks from now until the speech ends (or dispose(); an error is thrown). Each iterator
  // has its own queue.
  [Symbol.asyncIterator]() {
    return eventIterator(this.#iterators, this.#disposed || this.#finished);
  }

  // The model was disposed (or this was): later calls reject, iterators end.
  markDisposed() {
    const was = this.#disposed;
    this.#disposed = true;
    this.#unsubscribe();
    for (const it of [...this.#iterators]) it.end();
    return !was;
  }

  // Frees the engine's speaker; its iterators end.
  async dispose() {
    if (!this.markDisposed()) return;
    this.#model.forget(this);
    if (!this.#model.disposed) await this.#model.client.call(0, 'dispose', [this.id]);
  }
}
