// Compiled (not run) by tests/node/types.test.mjs with `tsc --noEmit --strict`: the
// declarations in web/types/index.d.ts, reached through the package's own "exports" map,
// must accept the documented usage and reject misuse (each @ts-expect-error must be an error).
import {
  loadModel, KyutaiError, createCapture, createPlayback, BandEnergyTokenizer, WordAssembler,
  FRAME_SIZE, type AsrStep, type GeneratedStep, type FrameTokenizer, type KyutaiModel,
} from 'kyutai-wasm';

async function transcribe(): Promise<string[]> {
  const model: KyutaiModel = await loadModel({
    config: 'https://example.org/stt/config.json',
    weights: new URL('https://example.org/stt/model.safetensors'),
    format: 'q8',
    onProgress: ({ loaded, total }) => console.log(loaded, total ?? '?'),
  });
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
const placeholder: FrameTokenizer = new BandEnergyTokenizer({ codebooks: 32, card: 2048 });
const words = new WordAssembler({ paddingId: 3, endPaddingId: 0, delaySteps: 6 });
console.log(words.push(7, 42).words, mine, placeholder, transcribe);

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
}
console.log(misuse);
