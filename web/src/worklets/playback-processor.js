// AudioWorklet processor: frames of samples (from the engine's MessagePort or the node's own
// port) -> the speakers, back to back with no gap. Playback starts once `prebufferFrames`
// frames are queued. When the queue runs dry while more audio is expected, the missing part
// is played as silence, counted as an underrun and reported; playback then waits for the
// prebuffer again. After {type: 'end'} running dry is the normal end, not an underrun.
//
// Runs in AudioWorkletGlobalScope (no URL, fetch, TextDecoder, performance): no imports.
//
// Control messages on the node's port:
//   {type: 'connect', port}    frames also arrive on `port` ({type: 'frame', samples} or a Float32Array)
//   {type: 'frame', samples}   queue one frame
//   {type: 'end'}              no more frames for now; {type: 'clear'} drops what is queued
//   {type: 'ping', id}         answered with {type: 'pong', id, ...stats}
// Messages to the node's port: {type: 'underrun', ...stats} at each underrun,
// {type: 'stats', ...stats} every 25 frames played, {type: 'pong', ...}.
class KyutaiPlaybackProcessor extends AudioWorkletProcessor {
  constructor(options) {
    super();
    const o = (options && options.processorOptions) || {};
    this.prebuffer = Math.max(1, o.prebufferFrames || 2);
    this.queue = [];
    this.offset = 0;        // read position in queue[0]
    this.playing = false;
    this.ended = false;
    this.received = 0;      // frames
    this.framesPlayed = 0;
    this.samplesPlayed = 0;
    this.underruns = 0;
    this.silentSamples = 0; // samples of silence played because of underruns
    this.sources = [];
    this.port.onmessage = (e) => this.control(e.data);
  }

  control(msg) {
    if (!msg) return;
    if (msg instanceof Float32Array) return this.enqueue(msg);
    if (msg.type === 'frame') this.enqueue(msg.samples);
    else if (msg.type === 'connect') {
      const port = msg.port;
      port.onmessage = (e) => this.control(e.data);
      this.sources.push(port);
    } else if (msg.type === 'end') this.ended = true;
    else if (msg.type === 'clear') {
      this.queue = [];
      this.offset = 0;
      this.playing = false;
    } else if (msg.type === 'ping') this.port.postMessage(Object.assign({ type: 'pong', id: msg.id }, this.stats()));
  }

  enqueue(samples) {
    if (!(samples instanceof Float32Array) || samples.length === 0) return;
    this.queue.push(samples);
    this.received++;
    this.ended = false;
    if (!this.playing && this.queue.length >= this.prebuffer) this.playing = true;
  }

  stats() {
    return {
      received: this.received, framesPlayed: this.framesPlayed, samplesPlayed: this.samplesPlayed,
      underruns: this.underruns, silentSamples: this.silentSamples, queued: this.queue.length, playing: this.playing,
    };
  }

  process(inputs, outputs) {
    const output = outputs[0];
    const out = output[0];
    let i = 0;
    if (this.playing) {
      while (i < out.length && this.queue.length) {
        const frame = this.queue[0];
        const n = Math.min(out.length - i, frame.length - this.offset);
        out.set(frame.subarray(this.offset, this.offset + n), i);
        i += n;
        this.offset += n;
        if (this.offset === frame.length) {
          this.queue.shift();
          this.offset = 0;
          this.framesPlayed++;
          if (this.framesPlayed % 25 === 0) this.port.postMessage(Object.assign({ type: 'stats' }, this.stats()));
        }
      }
      this.samplesPlayed += i;
      if (i < out.length) {
        this.playing = false;
        if (!this.ended) {
          this.underruns++;
          this.silentSamples += out.length - i;
          this.port.postMessage(Object.assign({ type: 'underrun' }, this.stats()));
        }
      }
    }
    out.fill(0, i);
    for (let c = 1; c < output.length; c++) output[c].set(out);
    return true;
  }
}

registerProcessor('kyutai-playback', KyutaiPlaybackProcessor);
