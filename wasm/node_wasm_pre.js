// --pre-js: in Node, read the .wasm synchronously (Node 20's global fetch cannot load a
// file: URL, which breaks emscripten 3.1.6's loader). Browsers are unaffected.
if (typeof process == 'object' && typeof process.versions == 'object' && typeof process.versions.node == 'string' && !Module['wasmBinary'] && !Module['instantiateWasm']) {
  Module['wasmBinary'] = require('fs').readFileSync(require('url').fileURLToPath(_scriptDir).replace(/\.m?js$/, '.wasm'));
}
