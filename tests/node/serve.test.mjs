// scripts/serve.mjs: MIME types WebAssembly needs, the /coi/ prefix with the isolation
// headers, and no way out of the served folder.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { serve } from '../../scripts/serve.mjs';

const root = fileURLToPath(new URL('../../', import.meta.url));

// A raw GET (fetch would normalise "..", which is exactly what must be tested).
function get(base, rawPath) {
  return new Promise((resolve, reject) => {
    const { hostname, port } = new URL(base);
    http.get({ hostname, port, path: rawPath }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
    }).on('error', reject);
  });
}

test('serves files with the right types, and /coi/ adds COOP and COEP', async () => {
  const { server, url } = await serve({ root, port: 0 });
  try {
    const js = await get(url, '/web/src/index.js');
    assert.equal(js.status, 200);
    assert.match(js.headers['content-type'], /^text\/javascript/);
    assert.equal(js.headers['cross-origin-opener-policy'], undefined);
    assert.deepEqual(js.body, fs.readFileSync(`${root}/web/src/index.js`));

    const coi = await get(url, '/coi/web/src/index.js');
    assert.equal(coi.headers['cross-origin-opener-policy'], 'same-origin');
    assert.equal(coi.headers['cross-origin-embedder-policy'], 'require-corp');
    assert.deepEqual(coi.body, js.body);

    const pkg = await get(url, '/package.json');
    assert.match(pkg.headers['content-type'], /^application\/json/);
    for (const file of fs.readdirSync(`${root}/dist`).filter((f) => /\.(wasm|mjs)$/.test(f))) {
      const r = await get(url, `/coi/dist/${file}`);
      assert.equal(r.status, 200, file);
      assert.equal(r.headers['content-type'].split(';')[0], file.endsWith('.wasm') ? 'application/wasm' : 'text/javascript', file);
    }

    const demo = await get(url, '/web/demo/');
    assert.match(demo.headers['content-type'], /^text\/html/);
    assert.match(demo.body.toString(), /kyutai-wasm demo/);
    assert.equal((await get(url, '/')).headers.location, '/web/demo/');
    assert.equal((await get(url, '/coi/')).headers.location, '/coi/web/demo/');
    assert.equal((await get(url, '/coi/web/demo')).headers.location, '/coi/web/demo/');
    assert.equal((await get(url, '/nope.js')).status, 404);
    assert.equal((await get(url, '/..%2f..%2fetc%2fpasswd')).status, 403);
    assert.equal((await get(url, '/coi/..%2f..%2f..%2fetc%2fpasswd')).status, 403);
    assert.equal((await get(url, '/coi/%2e%2e/%2e%2e/etc/passwd')).status, 404, 'dot segments are resolved inside the root');
  } finally {
    server.close();
  }
});
