// `kyutai-wasm/worker`: the engine's Web Worker script (web/src/worker.js). It exports nothing;
// start it as a module worker and pass its URL as loadModel's `workerUrl`.
export {};
