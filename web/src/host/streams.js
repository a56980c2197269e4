// Live streams of a session: audio frames from a MessagePort (AudioStreamServant) and TTS
// speech (SpeechServant), each emitting a result event per frame.
import { serializeError } from '../errors.js';
import { FRAME_RATE } from '../frame-tokenizer.js';
import { FrameQueue } from '../frame-queue.js';
import { now, collectTransfer } from './common.js';

const FRAME_MS = 1000 / FRAME_RATE;  // 80 ms of audio per frame

// Lets queued messages (new frames, calls) in between two frames of inference.
// setImmediate in Node; a MessageChannel elsewhere (setTimeout would be clamped to 4 ms).
let yieldChannel = null;
const yieldQueue = [];
export function yieldToEventLoop() {
  if (typeof setImmediate === 'function') return new Promise((resolve) => setImmediate(resolve));
  if (!yieldChannel) {
    yieldChannel = new MessageChannel();
    yieldChannel.port1.onmessage = () => yieldQueue.shift()?.();
  }
  return new Promise((resolve) => {
    yieldQueue.push(resolve);
    yieldChannel.port2.postMessage(0);
  });
}

// Running averages and counters shared by the live streams.
class StreamStats {
  constructor() {
    this.framesReceived = 0;
    this.framesProcessed = 0;
    this.dropped = 0;
    this.queued = 0;
    this.computeMs = 0;      // last frame: tokenizer + LM step (+ decode)
    this.latencyMs = 0;      // last frame: arrival in the engine thread -> result
    this.meanComputeMs = 0;
    this.rtf = 0;            // mean compute time / audio duration of a frame (< 1: faster than real time)
  }
  record(computeMs, latencyMs, frameMs) {
    this.framesProcessed++;
    this.computeMs = computeMs;
    this.latencyMs = latencyMs;
    this.meanComputeMs += (computeMs - this.meanComputeMs) / this.framesProcessed;
    this.rtf = this.meanComputeMs / frameMs;
  }
  snapshot() {
    return { ...this };
  }
}

export class AudioStreamServant {
  static protocol = 'audioStream';

  constructor(session, port, { maxQueuedFrames = 25, playback = null, recycle = true } = {}) {
    this.session = session;
    this.port = port;
    this.playback = playback;
    this.recycle = recycle;
    this.queue = new FrameQueue(maxQueuedFrames);
    this.stats = new StreamStats();
    this.frameMs = (session.frameSize / 24000) * 1000;
    this.pumping = false;
    this.closed = false;
    session.streams.add(this);
    session.model.host.register(this);
    port.onmessage = (e) => this.#onMessage(e.data);
  }

  #onMessage(data) {
    if (this.closed) return;
    const samples = data instanceof Float32Array ? data : data?.samples;
    if (!(samples instanceof Float32Array)) return;
    this.stats.framesReceived++;
    const dropped = this.queue.push({ samples, seq: data.seq, arrival: now() });
    if (dropped) {
      this.stats.dropped = this.queue.dropped;
      this.#giveBack(dropped.samples);
      this.#emit('stats', this.#snapshot());
    }
    this.#pump();
  }

  // Hands the frame's buffer back to the capture worklet for reuse (no allocation there).
  #giveBack(samples) {
    if (this.recycle && samples.buffer instanceof ArrayBuffer) {
      try {
        this.port.postMessage({ type: 'recycle', samples }, [samples.buffer]);
      } catch {
        // the capture side closed its port: nobody to give the buffer back to
      }
    }
  }

  #snapshot() {
    const s = this.stats.snapshot();
    s.queued = this.queue.length;
    return s;
  }

  #emit(name, data, transfer = []) {
    this.session.model.host.emit(this.id, name, data, transfer);
  }

  async #pump() {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (!this.closed && this.queue.length) {
        const item = this.queue.shift();
        const t0 = now();
        let result;
        try {
          result = await this.session.processAudio(item.samples);
        } catch (error) {
          this.#emit('error', serializeError(error));
          this.close();
          return;
        }
        const t1 = now();
        this.#giveBack(item.samples);
        this.stats.record(t1 - t0, t1 - item.arrival, this.frameMs);
        if (result) {
          result.seq = item.seq;
          result.timing = { queuedMs: t0 - item.arrival, computeMs: t1 - t0, latencyMs: t1 - item.arrival };
          result.stats = this.#snapshot();
          if (result.pcm && this.playback) {
            this.playback.postMessage({ type: 'frame', samples: result.pcm }, [result.pcm.buffer]);
            result.pcm = null;  // moved to the playback worklet
          }
          this.#emit('result', result, [...collectTransfer(result)]);
        }
        await yieldToEventLoop();  // let frames that arrived meanwhile into the bounded queue
      }
    } finally {
      this.pumping = false;
    }
  }

  stats() {
    return this.#snapshot();
  }

  close() {
    if (this.closed) return this.#snapshot();
    this.closed = true;
    // Final stats first: `queued` then counts the frames received but never processed.
    const stats = this.#snapshot();
    for (const item of this.queue.clear()) this.#giveBack(item.samples);
    this.port.onmessage = null;
    this.port.close();
    this.playback?.close?.();
    const words = this.session.endOfStream();
    this.#emit('end', { stats, words });
    this.session.streams.delete(this);
    this.session.model.host.unregister(this.id);
    return stats;
  }

  dispose() {
    this.close();
  }
}

// TTS: forces one text token per frame, then `tailFrames` frames of padding, emitting a
// result event per frame and sending decoded audio to the playback port when given.
export class SpeechServant {
  static protocol = 'speech';

  constructor(session, tokens, { tailFrames = 0, playback = null } = {}) {
    this.session = session;
    const pad = session.model.lm.config.textPaddingId;
    this.tokens = [...tokens, ...Array(Math.max(0, tailFrames)).fill(pad)];
    this.total = this.tokens.length;
    this.playback = playback;
    this.closed = false;
    this.stats = new StreamStats();
    session.streams.add(this);
    session.model.host.register(this);
    this.#run();
  }

  #emit(name, data, transfer = []) {
    this.session.model.host.emit(this.id, name, data, transfer);
  }

  async #run() {
    await yieldToEventLoop();  // the caller gets the id (and subscribes) before the first frame
    const frameMs = FRAME_MS;
    for (const token of this.tokens) {
      if (this.closed) return;
      const t0 = now();
      let result;
      try {
        result = await this.session.textStep(token);
      } catch (error) {
        this.#emit('error', serializeError(error));
        this.close();
        return;
      }
      const t1 = now();
      this.stats.framesReceived++;
      this.stats.record(t1 - t0, t1 - t0, frameMs);
      result.timing = { queuedMs: 0, computeMs: t1 - t0, latencyMs: t1 - t0 };
      result.stats = this.stats.snapshot();
      if (result.pcm && this.playback) {
        this.playback.postMessage({ type: 'frame', samples: result.pcm }, [result.pcm.buffer]);
        result.pcm = null;
      }
      this.#emit('result', result, [...collectTransfer(result)]);
      await yieldToEventLoop();
    }
    this.close();
  }

  close() {
    if (this.closed) return this.stats.snapshot();
    this.closed = true;
    const words = this.session.endOfStream();
    this.#emit('end', { stats: this.stats.snapshot(), words });
    this.session.streams.delete(this);
    this.session.model.host.unregister(this.id);
    return this.stats.snapshot();
  }

  dispose() {
    this.close();
  }
}
