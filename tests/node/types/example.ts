// Compiled (not run) by tests/node/types.test.mjs with `tsc --noEmit --strict`: the
// declarations in web/types/index.d.ts, reached through the package's own "exports" map,
// must accept the documented usage and reject misuse (each @ts-expect-error must be an error).
import {
  loadModel, KyutaiError, createCapture, createPlayback,
  FRAME_SIZE, type AsrStep, type GeneratedStep, type FrameTokenizer, type KyutaiModel,
  toWebVTT, toSRT, parseWebVTT, resample, type TranscriptWord, type TranscriptEvent,
} from 'kyutai-wasm';

async function transcribe(): Promise<string[]> {
  const model: KyutaiModel = await loadModel({
    config: 'https://example.org/stt/config.json',
    weights: new URL('https://example.org/stt/model.safetensors'),
    format: 'q8',
    onProgress: ({ loaded, total }) => console.log(loaded, total ?? '?'),
  });
  // No frame tokenizer was given: the model takes code frames only.
  console.log(model.frameTokenizer?.kind ?? 'codes only');
  // @ts-expect-error the placeholder tokenizer left the package: Mimi or your own
  await loadModel({ config: '{}', weights: new Uint8Array(0), frameTokenizer: 'band-energy' });
  const asr = await model.createAsrSession({ temperature: 0 });
  const step: AsrStep = await asr.pushFrame(new Int32Array(model.config.nQ));
  const vad: Float32Array = step.vad;
  const fromAudio = await asr.pushAudio(new Float32Array(FRAME_SIZE));
  if (fromAudio) console.log(fromAudio.codes?.length, vad.length);

  const context = new AudioContext({ sampleRate: 24000 });
  const capture = await createCapture(context, { source: 'microphone' });
  const stream = await asr.connect(capture, { maxQueuedFrames: 25 });
  stream.addEventListener('result', (e) => console.log(e.detail.textToken, e.detail.timing?.latencyMs));
  stream.addEventListener('stats', (e) => console.log(e.detail.dropped));
  const words: string[] = [];
  for await (const r of stream) for (const w of r.words) words.push(w.text ?? `[${Array.from(w.tokens)}]`);
  const end = await stream.close();
  console.log(end.stats.rtf, model.backend === 'wasm-simd-threads', model.threads);

  const tts = await model.createTtsSession({ seed: 1 });
  const playback = await createPlayback(context, { prebufferFrames: 3 });
  const speech = await tts.speak('hello', { tailFrames: 4, playback });
  for await (const frame of speech) {
    const g: GeneratedStep = frame;
    console.log(g.audio?.length, g.pcm);
  }
  try {
    await asr.pushFrame([1, 2, 3]);
  } catch (e) {
    if (e instanceof KyutaiError) console.log(e.code === 'INVALID_ARGUMENT', e.message);
  }
  await model.dispose();
  return words;
}

const mine: FrameTokenizer = { frameSize: 1920, codebooks: 8, encode: (f) => new Int32Array(8).fill(f.length) };
console.log(mine, transcribe);

// Live captions: microphone -> words -> WebVTT.
async function captions(model: KyutaiModel): Promise<string> {
  const transcriber = await model.createTranscriber({ vadHead: 2, endOfTurnThreshold: 0.5 });
  const context = new AudioContext({ sampleRate: 24000 });
  const stream = await transcriber.connect(await createCapture(context), { maxQueuedFrames: 25 });
  stream.addEventListener('result', (e) => console.log(e.detail.codes.length, e.detail.events.length));
  transcriber.addEventListener('vad', (e) => console.log(e.detail.pause, e.detail.probabilities.length));
  transcriber.addEventListener('endOfTurn', (e) => console.log(e.detail.probability, e.detail.time));
  const said: TranscriptWord[] = [];
  for await (const e of transcriber) {
    const event: TranscriptEvent = e;
    if (event.type === 'word') said.push(event);
    if (event.type === 'endOfTurn') break;
  }
  await stream.close();
  said.push(...(await transcriber.flush()));
  const clip = await model.transcribe(resample(new Float32Array(16000), 16000), { sampleRate: 24000, endOfTurnThreshold: 0.3 });
  console.log(clip.words.map((w) => w.text), clip.endsOfTurn.map((t) => t.time), toSRT(clip.words, { maxWords: 8 }));
  const vtt = toWebVTT(said, { maxLineSeconds: 4, breaks: clip.endsOfTurn.map((t) => t.time) });
  return parseWebVTT(vtt).map((c) => `${c.start} ${c.end} ${c.text}`).join('\n');
}
console.log(captions);

async function misuse(model: KyutaiModel) {
  // @ts-expect-error config is required
  await loadModel({ weights: 'x' });
  // @ts-expect-error not a weight format
  await loadModel({ config: {}, weights: 'x', format: 'q3' });
  const asr = await model.createAsrSession();
  // @ts-expect-error an ASR session takes audio, not text
  await asr.pushText(3);
  // @ts-expect-error codes are integers in an Int32Array or number[]
  await asr.pushFrame(new Float32Array(8));
  // @ts-expect-error results are read-only data of the engine
  model.threads = 4;
  // @ts-expect-error a frame tokenizer needs encode
  const bad: FrameTokenizer = { frameSize: 1920, codebooks: 8 };
  console.log(bad);
  const transcriber = await model.createTranscriber();
  // @ts-expect-error audio is a Float32Array of samples
  await transcriber.pushAudio(new Int16Array(1920));
  // @ts-expect-error the VAD head is a number
  await model.createTranscriber({ vadHead: 'two' });
  // @ts-expect-error a transcript word always has its end
  const unended: TranscriptWord = { type: 'word', text: 'x', tokens: new Int32Array(1), start: 0, end: null };
  console.log(unended);
}
console.log(misuse);
