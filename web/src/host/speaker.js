// Kyutai's TTS on the engine side (the caller's side: web/src/speaker.js). A thin servant over
// the engine's Speaker (src/session/tts_speaker.h, through lm.createSpeaker): the script, the
// state machine, generation and Mimi decoding all run in the engine. This only steps it while
// it can run (yielding between frames so more text, end() or dispose() get in) and reports:
//
//   'chunk' {step, frame, pcm, words: [{text, start, end}], stats}   a step with codes, audio or words
//   'end'   {stats}                                                    the generation finished
//   'error' {name, code, message}                                      a step failed
//
// A word's end is the next word's start (or, for the last one, the end of the audio), so a
// word is reported at the step that consumes the next one. Times are seconds of the PCM.
import { KyutaiError, serializeError } from '../errors.js';
import { readAll } from '../sources.js';
import { now, collectTransfer } from './common.js';
import { yieldToEventLoop } from './streams.js';

// A voice latent {data: Float32Array, shape} (Mimi's encode_to_latent of a recording) goes to
// the engine as it is; anything else is the bytes of a kyutai/tts-voices file.
const isVoiceLatent = (voice) => voice?.data instanceof Float32Array && Array.isArray(voice.shape);

async function voiceInput(voice) {
  return isVoiceLatent(voice) ? voice : readAll(voice, { what: 'voice' });
}

// The engine reads the voice first: a checkpoint error at creation is the voice file's.
function voiceError(e) {
  if (e instanceof KyutaiError && (e.code === 'INVALID_CHECKPOINT' || e.code === 'LIMIT_EXCEEDED')) {
    return new KyutaiError(`voice: not a kyutai/tts-voices safetensors file (${e.message})`, e.code);
  }
  return e;
}

export class SpeakerServant {
  static protocol = 'speaker';

  // `model`: the ModelServant; options as lm.createSpeaker's (cfg, nQ, sampling, temperature,
  // seed, maxGenLength) plus `voice`. The model's tokenizer and Mimi codec (when it has one:
  // without it, chunks carry codes and no PCM) are the speaker's.
  static async create(model, { voice, ...options }) {
    if (!model.text) {
      throw new KyutaiError('createSpeaker needs the model\'s SentencePiece tokenizer: pass `tokenizer` to loadModel (or load the model by name)', 'INVALID_STATE');
    }
    const input = await voiceInput(voice);
    let speaker;
    try {
      speaker = await model.lm.createSpeaker({ ...options, voice: input, tokenizer: model.text, mimi: model.frames.codec ?? undefined });
    } catch (e) {
      throw voiceError(e);
    }
    return new SpeakerServant(model, speaker);
  }

  constructor(model, speaker) {
    this.model = model;
    this.speaker = speaker;
    this.playback = null;    // a MessagePort to the playback worklet (connect)
    this.pending = null;     // the latest word, until its end is known
    this.framesOut = 0;      // frames generated
    this.stepping = false;
    this.ended = false;
    this.disposed = false;
    this.stats = { steps: 0, audioSeconds: 0, computeMs: 0, meanStepMs: 0, rtf: 0 };
    model.sessions.add(this);
    model.host.register(this);
  }

  describe() {
    const { delaySteps, sampleRate, frameSize, frameRate } = this.speaker;
    return { id: this.id, delaySteps, sampleRate, frameSize, frameRate };
  }

  pushText(ctx, text) {
    this.speaker.pushText(text);  // refused after end() (INVALID_STATE) before any step
    this.#run();
  }

  end() {
    this.speaker.end();
    this.#run();
  }

  // PCM from now on also goes to `playback` (a port of an AudioPlayback, audio.js).
  connect(ctx, playback) {
    this.playback?.close?.();
    this.playback = playback;
    return true;
  }

  // Steps while the speaker can run; stops when it waits for text (pushText restarts it) or
  // has finished. One step per turn of the event loop, so calls and dispose() get in between.
  async #run() {
    if (this.stepping) return;
    this.stepping = true;
    try {
      await yieldToEventLoop();  // the call that started this answers first
      while (!this.disposed && this.speaker.running && this.speaker.ready) {
        this.#step();
        await yieldToEventLoop();
      }
      if (!this.disposed && !this.speaker.running) this.#finish();
    } catch (error) {
      if (!this.disposed) this.#emit('error', serializeError(error));
    } finally {
      this.stepping = false;
    }
  }

  #step() {
    const t0 = now();
    const { step, frame, pcm, words } = this.speaker.step();
    this.#record(now() - t0, frame);
    const out = this.#words(words);
    if (!this.speaker.running && this.pending) out.push(this.#close(this.stats.audioSeconds));
    if (pcm && this.playback) {
      const copy = pcm.slice();
      this.playback.postMessage({ type: 'frame', samples: copy }, [copy.buffer]);
    }
    if (frame || pcm || out.length) {
      const chunk = { step, frame, pcm, words: out, stats: { ...this.stats } };
      this.#emit('chunk', chunk, [...collectTransfer(chunk)]);
    }
  }

  #record(ms, frame) {
    const s = this.stats;
    s.steps++;
    s.computeMs = ms;
    s.meanStepMs += (ms - s.meanStepMs) / s.steps;
    if (frame) this.framesOut++;
    // The first delaySteps frames are dropped (as Kyutai does before decoding): no audio.
    s.audioSeconds = Math.max(0, this.framesOut - this.speaker.delaySteps) / this.speaker.frameRate;
    s.rtf = s.meanStepMs / (1000 / this.speaker.frameRate);
  }

  // The engine's words started at this step -> the words whose end that fixes.
  #words(started) {
    const out = [];
    for (const w of started) {
      if (this.pending) out.push(this.#close(w.time));
      this.pending = { text: w.text, start: w.time };
    }
    return out;
  }

  #close(end) {
    const word = { ...this.pending, end: Math.max(end, this.pending.start) };
    this.pending = null;
    return word;
  }

  #finish() {
    if (this.ended) return;
    this.ended = true;
    this.playback?.postMessage({ type: 'end' });  // running dry is now the end, not an underrun
    this.#emit('end', { stats: { ...this.stats } });
  }

  #emit(name, data, transfer = []) {
    this.model.host.emit(this.id, name, data, transfer);
  }

  dispose() {
    if (this.disposed) return;
    this.disposed = true;
    this.playback?.close?.();
    this.speaker.dispose();
    this.model.sessions.delete(this);
    this.model.host.unregister(this.id);
  }
}
