// Type declarations of kyutai-wasm (hand-written; the sources are plain ES modules in web/src/),
// one file per concept.

export * from './errors.js';
export * from './load.js';
export * from './model.js';
export * from './sessions.js';
export * from './streams.js';
export * from './audio.js';
export * from './tokenizers.js';
export * from './transcriber.js';
export * from './captions.js';
export * from './speaker.js';
