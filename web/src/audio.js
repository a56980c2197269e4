// Web Audio on the page's side: the capture and playback worklet nodes, and the microphone.
// The worklets (worklets/*.js) do the per-sample work on the audio thread; these classes only
// wire them up and surface their reports as events.
import { KyutaiError } from './errors.js';
import { FRAME_SIZE, SAMPLE_RATE } from './frame-tokenizer.js';
import { options, optional, int, SAMPLE_RATE_HZ } from './validate.js';

// Checked before any worklet module is added.
const CAPTURE_OPTIONS = options({ frameSize: optional(int(1, 1 << 16)), sampleRate: SAMPLE_RATE_HZ });
const PLAYBACK_OPTIONS = options({ prebufferFrames: optional(int(0, 1000)) });

const CAPTURE_MODULE = new URL('./worklets/capture-processor.js', import.meta.url);
const PLAYBACK_MODULE = new URL('./worklets/playback-processor.js', import.meta.url);

// addModule once per context and module.
const loadedModules = new WeakMap();
async function addModule(context, url) {
  if (!context?.audioWorklet) throw new KyutaiError('AudioWorklet is not available (it needs a secure context: https or localhost)', 'UNSUPPORTED');
  let loaded = loadedModules.get(context);
  if (!loaded) loadedModules.set(context, (loaded = new Map()));
  if (!loaded.has(url.href)) loaded.set(url.href, context.audioWorklet.addModule(url.href));
  return loaded.get(url.href);
}

// A worklet node's port with ping/pong: ping() resolves once the processor has handled every
// message sent before it (used to be sure a 'connect' is in place before rendering starts).
class WorkletPort extends EventTarget {
  #node;
  #pings = new Map();
  #nextPing = 1;
  constructor(node) {
    super();
    this.#node = node;
    this.lastStats = null;
    node.port.onmessage = (e) => {
      const msg = e.data;
      if (msg.type === 'pong') {
        this.lastStats = msg;
        this.#pings.get(msg.id)?.(msg);
        this.#pings.delete(msg.id);
        return;
      }
      if (msg.type === 'stats' || msg.type === 'underrun') this.lastStats = msg;
      this.dispatchEvent(new CustomEvent(msg.type, { detail: msg }));
    };
  }
  post(message, transfer = []) {
    this.#node.port.postMessage(message, transfer);
  }
  // `type` 'stop' also stops the processor; it answers with its final stats. A processor that
  // cannot answer any more (its context was closed) leaves the last stats it reported.
  ping(type = 'ping', timeoutMs = 5000) {
    const id = this.#nextPing++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#pings.delete(id);
        resolve({ ...this.lastStats, stale: true });
      }, timeoutMs);
      this.#pings.set(id, (stats) => {
        clearTimeout(timer);
        resolve(stats);
      });
      this.post({ type, id });
    });
  }
}

// getUserMedia with the browser's voice processing off (the model wants the raw signal).
export async function openMicrophone(constraints = {}) {
  if (!globalThis.navigator?.mediaDevices?.getUserMedia) throw new KyutaiError('no microphone access in this context (getUserMedia needs https or localhost)', 'UNSUPPORTED');
  return navigator.mediaDevices.getUserMedia({
    audio: { channelCount: 1, echoCancellation: false, noiseSuppression: false, autoGainControl: false, ...constraints },
  });
}

// Capture: any source -> frames of FRAME_SIZE samples at 24 kHz. Give it to
// session.connect() and frames go from the audio thread straight to the engine; left
// unconnected, it dispatches 'frame' events here (event.detail = {seq, samples}).
// Events: 'frame', 'stats' (detail.framesPosted).
export class AudioCapture extends EventTarget {
  constructor(context, node, input, ownedStream) {
    super();
    this.context = context;
    this.node = node;
    this.input = input;
    this.stream = ownedStream;
    this.port = new WorkletPort(node);
    for (const type of ['frame', 'stats']) this.port.addEventListener(type, (e) => this.dispatchEvent(new CustomEvent(type, { detail: e.detail })));
  }

  // Frames go to `port` from now on; resolves once the worklet has switched.
  async attach(port) {
    this.port.post({ type: 'connect', port }, [port]);
    await this.port.ping();
  }

  // Hands a frame from a 'frame' event back for reuse.
  recycle(samples) {
    this.port.post({ type: 'recycle', samples }, [samples.buffer]);
  }

  // {framesPosted, samplesIn, sampleRate, connected}, straight from the audio thread.
  stats() {
    return this.port.ping();
  }

  // Stops capturing (and the microphone if this capture opened it). Resolves with the final
  // stats: no frame is posted after them.
  async dispose() {
    const stats = await this.port.ping('stop');
    this.input?.disconnect();
    this.node.disconnect();
    for (const track of this.stream?.getTracks() ?? []) track.stop();
    return stats;
  }
}

// context: an AudioContext or OfflineAudioContext, ideally at 24 kHz (new AudioContext({sampleRate: 24000})).
// source: 'microphone', a MediaStream, or an AudioNode (AudioBufferSourceNode, ...).
export async function createCapture(context, captureOptions) {
  CAPTURE_OPTIONS(captureOptions, 'createCapture(options)');
  let { source = 'microphone', frameSize = FRAME_SIZE, sampleRate = SAMPLE_RATE } = captureOptions ?? {};
  await addModule(context, CAPTURE_MODULE);
  let input;
  let owned = null;
  if (source === 'microphone') source = owned = await openMicrophone();
  if (typeof MediaStream !== 'undefined' && source instanceof MediaStream) input = context.createMediaStreamSource(source);
  else if (source && typeof source.connect === 'function') input = source;
  else throw new KyutaiError("createCapture: source must be 'microphone', a MediaStream or an AudioNode", 'INVALID_ARGUMENT');
  const node = new AudioWorkletNode(context, 'kyutai-capture', {
    numberOfInputs: 1,
    numberOfOutputs: 1,
    outputChannelCount: [1],
    channelCount: 1,
    channelCountMode: 'explicit',   // Web Audio mixes any input down to mono for us
    channelInterpretation: 'speakers',
    processorOptions: { frameSize, sampleRate },
  });
  input.connect(node);
  // The node outputs silence; connecting it keeps the graph pulling it (and an offline
  // context renders only what reaches its destination).
  node.connect(context.destination);
  return new AudioCapture(context, node, input, owned);
}

// Playback: frames of samples -> speakers, gap-free, underruns reported.
// Events: 'underrun' and 'stats' (detail: {received, framesPlayed, underruns, queued, ...}).
export class AudioPlayback extends EventTarget {
  constructor(context, node) {
    super();
    this.context = context;
    this.node = node;
    this.port = new WorkletPort(node);
    this.underruns = 0;
    for (const type of ['underrun', 'stats']) {
      this.port.addEventListener(type, (e) => {
        this.underruns = e.detail.underruns;
        this.dispatchEvent(new CustomEvent(type, { detail: e.detail }));
      });
    }
  }
  // Queue one frame (the buffer is transferred).
  push(samples) {
    this.port.post({ type: 'frame', samples }, [samples.buffer]);
  }
  // No more audio for now: running dry is then not an underrun.
  end() {
    this.port.post({ type: 'end' });
  }
  clear() {
    this.port.post({ type: 'clear' });
  }
  // A port the engine can send frames to directly (session.connect / speak use it).
  channel() {
    const { port1, port2 } = new MessageChannel();
    this.port.post({ type: 'connect', port: port1 }, [port1]);
    return port2;
  }
  stats() {
    return this.port.ping();
  }
  dispose() {
    this.node.disconnect();
  }
}

export async function createPlayback(context, playbackOptions) {
  PLAYBACK_OPTIONS(playbackOptions, 'createPlayback(options)');
  const { prebufferFrames = 2, destination = context.destination } = playbackOptions ?? {};
  await addModule(context, PLAYBACK_MODULE);
  const node = new AudioWorkletNode(context, 'kyutai-playback', {
    numberOfInputs: 0,
    numberOfOutputs: 1,
    outputChannelCount: [1],
    processorOptions: { prebufferFrames },
  });
  node.connect(destination);
  return new AudioPlayback(context, node);
}
