// Compiled (not run) by tests/node/types.test.mjs with `tsc --noEmit --strict`: the low-level
// API's declarations (web/types/engine.d.ts, reached through the package's "exports" map as
// `kyutai-wasm/engine`) accept the documented usage and reject misuse.
import { createEngine, type LmModel, type LmStepper, type Tensor, type ForwardOutput, type Speaker, type SpeakerWord, type MimiCodec, type Tokenizer, type VoiceLatent } from 'kyutai-wasm/engine';

async function lowLevel(config: string, weights: Uint8Array): Promise<number> {
  const engine = await createEngine();
  const model: LmModel = await engine.loadLm(config, weights, { format: 'q8' });
  const { nQ, depQ } = model.config;
  const K = 1 + nQ;
  const T = 12;
  const codes = new Int32Array(K * T);
  const out: ForwardOutput = model.forward(codes, [1, K, T]);
  const logits: Float32Array = out.textLogits.data;
  const shape: number[] = out.audioLogits.shape;
  const mask: Uint8Array = out.mask.data;
  const asr = model.forwardAsr({ text: null, audio: Array.from({ length: nQ }, (_, k) => (k === 1 ? null : codes.subarray(0, T))) });
  const heads: Tensor = asr.extraHeads;
  const sum = model.embeddingSum({ text: { data: codes.subarray(0, T), shape: [1, T] } });
  const stepper: LmStepper = model.createStepper();
  const { textLogits, transformerOut } = stepper.step(codes.subarray(0, K));
  let depformer = 0;
  for (let k = 0; k < depQ; k++) depformer += stepper.depformerStep(k, 0).data.length;
  const position: number = stepper.position;
  stepper.reset();
  // @ts-expect-error the shape is [B, K, T]
  model.forward(codes, [K, T]);
  // @ts-expect-error codes are integers
  model.forward(new Float32Array(K * T), [1, K, T]);
  // @ts-expect-error a step takes tokens, not a token count
  stepper.step(K);
  // @ts-expect-error logits are read-only results, not a place to write codes
  const wrong: Int32Array = out.textLogits.data;
  stepper.dispose();
  model.dispose();
  return logits.length + shape.length + mask.length + heads.data.length + sum.shape[2] + textLogits.data.length +
    transformerOut.shape[0] + depformer + position + wrong.length;
}

async function speak(model: LmModel, voice: Uint8Array, tokenizer: string): Promise<number> {
  const speaker: Speaker = await model.createSpeaker({ voice, tokenizer, cfg: 2 });
  let samples = 0;
  for await (const chunk of speaker.speak('Hello <break time="0.5s"/> world')) {
    const words: SpeakerWord[] = chunk.words;
    samples += (chunk.pcm?.length ?? 0) + words.length;
  }
  const streamed = await model.createSpeaker({ voice, tokenizer });
  streamed.pushText('Hello ');
  streamed.end();
  // @ts-expect-error a voice is required
  await model.createSpeaker({ tokenizer });
  // @ts-expect-error text, not tokens
  streamed.pushText([1, 2]);
  speaker.dispose();
  return samples + (streamed.step().frame?.length ?? 0);
}

async function recordedVoice(model: LmModel, mimi: MimiCodec, tokenizer: Tokenizer, pcm: Float32Array): Promise<Uint8Array> {
  const latent: VoiceLatent = mimi.encodeToLatent(pcm, { seconds: 10, sampleRate: 24000 });
  const speaker: Speaker = await model.createSpeaker({ voice: latent, tokenizer, mimi });
  speaker.dispose();
  // @ts-expect-error a recording is a Float32Array
  mimi.encodeToLatent([0.1, 0.2]);
  // @ts-expect-error seconds is a number
  mimi.encodeToLatent(pcm, { seconds: '10' });
  return mimi.voiceFile(latent);
}

console.log(lowLevel, speak, recordedVoice);
