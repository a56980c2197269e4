// `kyutai-wasm/worklets/capture-processor.js` and `.../playback-processor.js`: AudioWorklet
// processor scripts (added with audioWorklet.addModule; createCapture / createPlayback do it).
// They export nothing.
export {};
