// Every failure at load is a KyutaiError with a code that names the file or URL (issue 28):
// a missing path (NOT_FOUND, not a raw ENOENT), an HTTP 404 (NOT_FOUND) or 500 (NETWORK), an
// unreachable server (NETWORK, not "TypeError: fetch failed"), a missing engine module
// (NOT_FOUND, not a plain TypeError). And a moduleUrl override reports the build that runs.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { loadModel, KyutaiError } from '../../web/src/index.js';
import { createEngine } from '../../web/src/engine.js';

const CONFIG = 'tests/data/stt/config.json';
const WEIGHTS = 'tests/data/stt/weights.safetensors';
const server = http.createServer((req, res) => res.writeHead(req.url.includes('missing') ? 404 : 500).end('no'));
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const base = `http://127.0.0.1:${server.address().port}`;
after(() => server.close());

const refused = (code, ...parts) => (e) => {
  assert.ok(e instanceof KyutaiError, `a KyutaiError, got ${e?.name}: ${e?.message}`);
  assert.equal(e.code, code, e.message);
  for (const p of parts) assert.ok(e.message.includes(p), `'${e.message}' names ${p}`);
  return true;
};

test('a missing file path is NOT_FOUND naming the path and what it was for', async () => {
  await assert.rejects(loadModel({ config: CONFIG, weights: 'no/such/model.safetensors' }), refused('NOT_FOUND', 'weights', 'no/such/model.safetensors'));
  await assert.rejects(loadModel({ config: 'no/config.json', weights: WEIGHTS }), refused('NOT_FOUND', 'config', 'no/config.json'));
  await assert.rejects(loadModel({ config: CONFIG, weights: WEIGHTS, tokenizer: 'no/tok.model' }), refused('NOT_FOUND', 'tokenizer', 'no/tok.model'));
  await assert.rejects(loadModel({ config: CONFIG, weights: 'no/model.safetensors.index.json' }), refused('NOT_FOUND', 'no/model.safetensors.index.json'));
});

test('HTTP 404 is NOT_FOUND, another status NETWORK, an unreachable server NETWORK, each naming the URL', async () => {
  await assert.rejects(loadModel({ config: `${base}/missing/config.json`, weights: WEIGHTS }), refused('NOT_FOUND', `${base}/missing/config.json`, 'HTTP 404'));
  await assert.rejects(loadModel({ config: `${base}/broken/config.json`, weights: WEIGHTS }), refused('NETWORK', `${base}/broken/config.json`, 'HTTP 500'));
  await assert.rejects(loadModel({ config: CONFIG, weights: `${base}/missing/w.safetensors` }), refused('NOT_FOUND', `${base}/missing/w.safetensors`));
  await assert.rejects(loadModel({ config: CONFIG, weights: `${base}/missing/model.safetensors.index.json` }), refused('NOT_FOUND', 'model.safetensors.index.json'));
  await assert.rejects(loadModel({ config: 'http://127.0.0.1:9/config.json', weights: WEIGHTS }), refused('NETWORK', 'http://127.0.0.1:9/config.json'));
});

test('a missing engine module is NOT_FOUND naming its URL and the options that point at it', async () => {
  await assert.rejects(createEngine({ moduleUrl: new URL('../../dist/no-such-build.mjs', import.meta.url).href }), refused('NOT_FOUND', 'no-such-build.mjs', 'moduleUrl'));
  await assert.rejects(loadModel({ config: CONFIG, weights: WEIGHTS, moduleUrl: 'dist/none.mjs' }), refused('NOT_FOUND', 'dist/none.mjs'));
});

test('a moduleUrl override reports the build that runs', async () => {
  const engine = await createEngine({ moduleUrl: new URL('../../dist/kyutai.mjs', import.meta.url).href });
  assert.equal(engine.build, 'kyutai');
  assert.equal(engine.backend, 'wasm-simd');
  assert.equal(engine.threaded, false);
  const model = await loadModel({ config: CONFIG, weights: WEIGHTS, moduleUrl: 'dist/kyutai.mjs', threads: 4 });
  try {
    assert.equal(model.engine.build, 'kyutai');
    assert.equal(model.backend, 'wasm-simd');
  } finally {
    await model.dispose();
  }
});

test('config text that is JSON but not an object is refused, not taken as a file path', async () => {
  for (const text of ['null', '[1]', ' 5 ', 'true', '"config.json"']) {
    await assert.rejects(loadModel({ config: text, weights: new Uint8Array(8) }), (e) => {
      assert.ok(e instanceof KyutaiError, `${text}: ${e?.constructor?.name}: ${e?.message}`);
      assert.equal(e.code, 'INVALID_CONFIG', `${text}: ${e.message}`);
      assert.match(e.message, /^config: JSON text must be an object/);
      return true;
    });
  }
});
