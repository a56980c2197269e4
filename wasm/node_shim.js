// --extern-pre-js: emscripten 3.1.6's ES6 output uses require/__dirname in its Node branch,
// which Node's ES modules do not define. Provide them, in Node only.
const __kyutaiIsNode = typeof process == 'object' && typeof process.versions == 'object' && typeof process.versions.node == 'string';
const require = __kyutaiIsNode ? (await import('node:module')).createRequire(import.meta.url) : undefined;
const __dirname = __kyutaiIsNode ? require('path').dirname(require('url').fileURLToPath(import.meta.url)) : '';
