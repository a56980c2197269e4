// Compiled (not run) by tests/node/types.test.mjs in a Node configuration: lib es2022 and
// @types/node, no DOM lib (tsconfig.node.json; tsconfig.node10.json resolves the same imports
// the old way, through "typesVersions"). Every subpath of the package's "exports" has types,
// and the browser-only members do not break a Node project.
import { loadModel, KyutaiError, type KyutaiErrorCode, type LoadProgress, DEFAULT_HUB, hubFileUrl } from 'kyutai-wasm';
import { createEngine, type BuildName } from 'kyutai-wasm/engine';
import createModule from 'kyutai-wasm/dist/kyutai.mjs';
import 'kyutai-wasm/worker';
import 'kyutai-wasm/worklets/capture-processor.js';
import 'kyutai-wasm/worklets/playback-processor.js';

export async function run(): Promise<string> {
  const progress: LoadProgress[] = [];
  const model = await loadModel('kyutai/stt-1b-en_fr', { hub: '/models/{repo}/{file}', format: 'q4', onProgress: (p) => progress.push(p) });
  const last = progress.at(-1);
  console.log(last?.overall?.total, last?.modelFiles?.map((f) => f.file), model.files?.[0]?.size);
  const result = await model.transcribe(new Float32Array(24000));
  const build: BuildName = model.engine.build;
  try {
    await loadModel({ config: 'missing/config.json', weights: 'missing/model.safetensors' });
  } catch (e) {
    if (e instanceof KyutaiError) {
      const code: KyutaiErrorCode = e.code;
      if (code === 'NOT_FOUND' || code === 'NETWORK') console.log(e.message);
    }
  }
  const engine = await createEngine({ assetBase: 'https://cdn.example/kyutai-wasm/dist/' });
  const module = await createModule({ locateFile: (file) => `/dist/${file}` });
  console.log(engine.build, module.HEAPU8.length, DEFAULT_HUB, hubFileUrl('a/b', 'c'));
  // @ts-expect-error a model name is a string, options are an object
  await loadModel('kyutai/stt-1b-en_fr', 'q4');
  // @ts-expect-error loading by name finds the weights itself
  await loadModel('kyutai/stt-1b-en_fr', { weights: 'model.safetensors' });
  return `${build} ${result.words.length}`;
}
