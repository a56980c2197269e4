// AudioWorklet processor: microphone (or any node) -> frames of `frameSize` samples at
// `sampleRate` (Kyutai: 1920 samples at 24 kHz), each posted to the engine's MessagePort with
// its buffer transferred (no copy). The engine hands buffers back ('recycle') so that, once
// warm, the audio thread allocates nothing.
//
// Runs in AudioWorkletGlobalScope, which has no URL, fetch, TextDecoder, performance or
// importScripts: this file imports nothing and uses none of them.
//
// Control messages on the node's port:
//   {type: 'connect', port}   send frames to `port` from now on (until then they go to the node's port)
//   {type: 'disconnect'}      back to the node's port
//   {type: 'recycle', samples}
//   {type: 'ping', id}        answered with {type: 'pong', id, ...stats} once everything before it is applied
//   {type: 'stop', id}        end processing (the node can then be collected); answered with
//                             {type: 'pong', id, ...final stats}
// Messages to the node's port: {type: 'frame', seq, samples} (when not connected),
// {type: 'stats', framesPosted, samplesIn, sampleRate} every 25 frames, {type: 'pong', ...}.
const POOL_MAX = 8;

class KyutaiCaptureProcessor extends AudioWorkletProcessor {
  constructor(options) {
    super();
    const o = (options && options.processorOptions) || {};
    this.frameSize = o.frameSize || 1920;
    this.targetRate = o.sampleRate || 24000;
    // Input samples per output sample. The context should run at the target rate (then this
    // is 1 and samples are copied as they are); otherwise linear interpolation resamples.
    this.step = sampleRate / this.targetRate;
    this.t = 0;         // position of the next output sample, relative to the current block
    this.prev = 0;      // last input sample of the previous block
    this.frame = new Float32Array(this.frameSize);
    this.fill = 0;
    this.seq = 0;
    this.samplesIn = 0;
    this.pool = [];
    this.sink = null;
    this.running = true;
    this.started = false;
    this.zeros = null;
    this.port.onmessage = (e) => this.control(e.data);
  }

  control(msg) {
    if (!msg) return;
    if (msg.type === 'connect') {
      this.sink = msg.port;
      this.sink.onmessage = (e) => {
        if (e.data && e.data.type === 'recycle') this.recycle(e.data.samples);
      };
    } else if (msg.type === 'disconnect') {
      if (this.sink) this.sink.close();
      this.sink = null;
    } else if (msg.type === 'recycle') {
      this.recycle(msg.samples);
    } else if (msg.type === 'ping') {
      this.port.postMessage(Object.assign({ type: 'pong', id: msg.id }, this.stats()));
    } else if (msg.type === 'stop') {
      this.running = false;
      if (this.sink) this.sink.close();
      this.sink = null;
      this.port.postMessage(Object.assign({ type: 'pong', id: msg.id }, this.stats()));
    }
  }

  recycle(samples) {
    if (samples && samples.length === this.frameSize && this.pool.length < POOL_MAX) this.pool.push(samples);
  }

  stats() {
    return { framesPosted: this.seq, samplesIn: this.samplesIn, sampleRate: sampleRate, connected: !!this.sink };
  }

  emit() {
    const samples = this.frame;
    const msg = { type: 'frame', seq: this.seq++, samples };
    (this.sink || this.port).postMessage(msg, [samples.buffer]);
    this.frame = this.pool.pop() || new Float32Array(this.frameSize);
    this.fill = 0;
    if (this.seq % 25 === 0) this.port.postMessage(Object.assign({ type: 'stats' }, this.stats()));
  }

  process(inputs, outputs) {
    if (!this.running) return false;
    const input = inputs[0];
    let x;
    if (input && input.length > 0) {
      x = input[0];  // the node mixes its input down to one channel (channelCount 1)
      this.started = true;
    } else {
      // No active input: before the source starts, wait; after it (a buffer that ended, a
      // track that went quiet), time goes on in silence, so frames keep their timing and
      // the last frame of a clip gets completed.
      if (!this.started) return true;
      const n = (outputs[0] && outputs[0][0] && outputs[0][0].length) || 128;
      if (!this.zeros || this.zeros.length !== n) this.zeros = new Float32Array(n);
      x = this.zeros;
    }
    this.samplesIn += x.length;
    if (this.step === 1) {
      let i = 0;
      while (i < x.length) {
        const n = Math.min(x.length - i, this.frameSize - this.fill);
        this.frame.set(x.subarray(i, i + n), this.fill);
        this.fill += n;
        i += n;
        if (this.fill === this.frameSize) this.emit();
      }
    } else {
      // Output sample at input position t (t in [-1, len - 1): -1 is the previous block's last).
      const last = x.length - 1;
      let t = this.t;
      while (t < last) {
        const i0 = Math.floor(t);
        const a = i0 < 0 ? this.prev : x[i0];
        const b = x[i0 + 1];
        this.frame[this.fill++] = a + (b - a) * (t - i0);
        if (this.fill === this.frameSize) this.emit();
        t += this.step;
      }
      this.t = t - x.length;
      this.prev = x[last];
    }
    return true;
  }
}

registerProcessor('kyutai-capture', KyutaiCaptureProcessor);
