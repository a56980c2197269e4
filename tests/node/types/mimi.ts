// Compiled (not run) by tests/node/mimi.test.mjs with `tsc --noEmit --strict`: the Mimi
// declarations of web/types/index.d.ts accept the documented usage and reject misuse.
import {
  loadModel, MimiFrameTokenizer, checkFrameTokenizer, FRAME_SIZE,
  type MimiCodec, type MimiStream, type FrameTokenizerSpec, type KyutaiModel,
} from 'kyutai-wasm';

// What engine.loadMimi gives (the engine module has no declarations of its own yet).
declare const codec: MimiCodec;

function useCodec(): number {
  const whole = codec.encode(new Float32Array(12000));
  const codes: Int32Array = whole.codes;
  const pcm: Float32Array = codec.decode(codes, whole.frames);
  const step: Int32Array = codec.encodeStep(new Float32Array(codec.frameSize));
  codec.decodeStep(step);
  const stream: MimiStream = codec.createStream(8);
  const frame: Float32Array = stream.decodeStep(stream.encodeStep(new Float32Array(FRAME_SIZE)));
  stream.reset();
  stream.dispose();
  const t = checkFrameTokenizer(new MimiFrameTokenizer(codec.createStream(), { decoder: codec.createStream(4) }));
  t.dispose();
  codec.dispose();
  // @ts-expect-error codes are Int32Array, not Float32Array
  codec.decodeStep(new Float32Array(8));
  // @ts-expect-error encode takes samples
  codec.encode(new Int32Array(8));
  // @ts-expect-error streams do not make streams
  stream.createStream(8);
  return pcm.length + frame.length + codec.cardinality + codec.semanticCodebooks + codec.sampleRate;
}

async function withMimi(): Promise<KyutaiModel> {
  const frameTokenizer: FrameTokenizerSpec = { type: 'mimi', config: '/mimi/config.json', weights: '/mimi/model.safetensors', format: 'q8' };
  const model = await loadModel({ config: '/stt/config.json', weights: '/stt/model.safetensors', frameTokenizer });
  const cardinality: number | undefined = model.frameTokenizer?.cardinality;
  console.log(cardinality, useCodec);
  // @ts-expect-error not a weight format
  await loadModel({ config: '{}', weights: '/w', frameTokenizer: { type: 'mimi', config: '{}', weights: '/m', format: 'q3' } });
  return model;
}

export { withMimi };
