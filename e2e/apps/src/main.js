// A small app as a user writes it: imports the installed package by name, loads a model by
// name from a hub laid out folder the app serves (hub/), transcribes a file (speech.wav) and
// shows the words. window.appResult is for the test (e2e/apps.spec.mjs).
import { loadModel } from 'kyutai-wasm';

const status = document.getElementById('status');

async function main() {
  const hub = `${new URL('hub/', document.baseURI).href}{repo}/{file}`;
  const model = await loadModel('kyutai/stt-1b-en_fr', { hub, cache: false });
  const audio = await new AudioContext({ sampleRate: 24000 }).decodeAudioData(await (await fetch(new URL('speech.wav', document.baseURI))).arrayBuffer());
  const result = await model.transcribe(audio);
  document.getElementById('words').textContent = result.words.map((w) => w.text).join(' ');
  window.appResult = {
    words: result.words.map((w) => ({ text: w.text, tokens: Array.from(w.tokens) })),
    engine: model.engine,
    backend: model.backend,
    threads: model.threads,
    crossOriginIsolated: globalThis.crossOriginIsolated === true,
  };
  status.textContent = `${result.words.length} words (${model.engine.build}, ${model.backend})`;
  await model.dispose();
}

main().catch((e) => {
  window.appResult = { error: { name: e.name, code: e.code, message: e.message } };
  status.textContent = `${e.name}${e.code ? ` (${e.code})` : ''}: ${e.message}`;
});
