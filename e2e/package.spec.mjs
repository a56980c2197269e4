// The npm package as a user gets it: `npm pack`, install the tarball into an empty app
// (offline: the package has no dependencies), then use it from Node and from a page that
// imports it out of node_modules.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { test, expect } from './fixtures.mjs';
import { TMP, REPO } from './env.mjs';
import { serve } from '../scripts/serve.mjs';

test.describe.configure({ mode: 'serial' });

const repo = fileURLToPath(REPO);
const version = JSON.parse(fs.readFileSync(path.join(repo, 'package.json'))).version;
let work;
let app;
let packed;

test.beforeAll(() => {
  work = fs.mkdtempSync(path.join(TMP, 'package-'));
  [packed] = JSON.parse(execFileSync('npm', ['pack', '--json', '--pack-destination', work], { cwd: repo, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }));
  app = path.join(work, 'app');
  fs.mkdirSync(app);
  fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'kyutai-app', private: true, type: 'module' }));
  execFileSync('npm', ['install', path.join(work, packed.filename), '--offline', '--no-audit', '--no-fund', '--ignore-scripts'], { cwd: app, stdio: 'ignore' });
  // The app brings its own model files, as a user would.
  fs.mkdirSync(path.join(app, 'model'));
  for (const f of ['config.json', 'weights.safetensors', 'vectors.json']) fs.copyFileSync(path.join(repo, 'tests/data/stt', f), path.join(app, 'model', f));
});

test('npm pack ships the engine builds, the sources, the types and the LICENSE, and nothing else', () => {
  expect(packed.filename).toBe(`kyutai-wasm-${version}.tgz`);
  const files = packed.files.map((f) => f.path).sort();
  for (const f of ['package.json', 'README.md', 'LICENSE', 'web/src/index.js', 'web/src/hub.js', 'web/types/worker.d.ts', 'web/types/worklet.d.ts', 'web/types/dist.d.ts', 'web/src/worker.js', 'web/src/host/host.js', 'web/src/protocol.js', 'web/src/engine.js',
    'web/src/worklets/capture-processor.js', 'web/src/worklets/playback-processor.js', 'web/types/index.d.ts', 'web/types/engine.d.ts',
    'dist/kyutai.mjs', 'dist/kyutai.wasm', 'dist/kyutai-mt.mjs', 'dist/kyutai-mt.wasm', 'dist/kyutai-mt.worker.js',
    'dist/kyutai-relaxed.mjs', 'dist/kyutai-relaxed.wasm', 'dist/kyutai-mt-relaxed.mjs', 'dist/kyutai-mt-relaxed.wasm',
    'dist/kyutai-mt-relaxed.worker.js']) {
    expect(files, f).toContain(f);
  }
  // index.d.ts is split by concept: every file it imports or re-exports ships with it.
  const typeFiles = new Set();
  for (const file of fs.readdirSync(path.join(repo, 'web/types')).filter((n) => n.endsWith('.d.ts'))) {
    const text = fs.readFileSync(path.join(repo, 'web/types', file), 'utf8');
    for (const [, name] of text.matchAll(/from '\.\/([\w-]+)\.js'/g)) typeFiles.add(`web/types/${name}.d.ts`);
  }
  expect(typeFiles.size).toBeGreaterThan(5);
  for (const f of typeFiles) expect(files, f).toContain(f);
  expect(files.filter((f) => !/^(web\/src\/|web\/types\/|dist\/|package\.json$|README\.md$|LICENSE)/.test(f))).toEqual([]);
  const installed = JSON.parse(fs.readFileSync(path.join(app, 'node_modules/kyutai-wasm/package.json')));
  expect(installed.version).toBe(version);
});

test('the installed package works from Node: import "kyutai-wasm", load, push frames', () => {
  fs.writeFileSync(path.join(app, 'run.mjs'), `
    import fs from 'node:fs';
    import { loadModel, KyutaiError, FRAME_SIZE } from 'kyutai-wasm';
    import { createEngine } from 'kyutai-wasm/engine';
    const run = JSON.parse(fs.readFileSync('model/vectors.json')).asr_streaming_first_frame_twice;
    const [, Q, F] = run.audio_codes.shape;
    const model = await loadModel({ config: 'model/config.json', weights: 'model/weights.safetensors' });
    const asr = await model.createAsrSession();
    const tokens = [];
    for (let f = 0; f < F; f++) tokens.push((await asr.pushFrame(Int32Array.from({ length: Q }, (_, q) => run.audio_codes.data[q * F + f]))).textToken);
    let error = null;
    try { await asr.pushFrame(new Int32Array(1)); } catch (e) { error = { kyutai: e instanceof KyutaiError, code: e.code }; }
    let noAudio = null;
    try { await asr.pushAudio(new Float32Array(FRAME_SIZE)); } catch (e) { noAudio = e.code; }
    await model.dispose();
    // An in-process frame tokenizer object (Node runs the engine in this thread).
    const sign = { frameSize: FRAME_SIZE, codebooks: Q, encode: (f) => Int32Array.from({ length: Q }, (_, k) => (f[k] > 0 ? 1 : 0)) };
    const withCodec = await loadModel({ config: 'model/config.json', weights: 'model/weights.safetensors', frameTokenizer: sign });
    const audio = await (await withCodec.createAsrSession()).pushAudio(new Float32Array(FRAME_SIZE).fill(0.1));
    await withCodec.dispose();
    console.log(JSON.stringify({ tokens, expected: run.text_token.data.slice(0, F), backend: model.backend, codes: Array.from(audio.codes), error, noAudio, engine: typeof createEngine, resolved: import.meta.resolve('kyutai-wasm') }));
  `);
  const out = JSON.parse(execFileSync(process.execPath, ['run.mjs'], { cwd: app, encoding: 'utf8' }));
  expect(out.tokens).toEqual(out.expected);
  expect(out.backend).toBe('wasm-simd');
  expect(out.codes).toEqual([1, 1, 1, 1, 1, 1, 1, 1]);
  expect(out.noAudio).toBe('INVALID_STATE');
  expect(out.error).toEqual({ kyutai: true, code: 'INVALID_ARGUMENT' });
  expect(out.engine).toBe('function');
  expect(out.resolved).toContain('/node_modules/kyutai-wasm/web/src/index.js');
});

test('the installed package works in Chromium, imported from node_modules (plain and threaded)', async ({ page }) => {
  // The import map points the bare name where the package's "exports" say.
  const pkg = JSON.parse(fs.readFileSync(path.join(app, 'node_modules/kyutai-wasm/package.json')));
  const entry = `./node_modules/kyutai-wasm/${pkg.exports['.'].default.replace(/^\.\//, '')}`;
  fs.writeFileSync(path.join(app, 'index.html'), `<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,">
    <script type="importmap">{"imports": {"kyutai-wasm": "${entry}"}}</script>
    <script type="module">
      import { loadModel } from 'kyutai-wasm';
      window.run = async () => {
        const run = (await (await fetch('model/vectors.json')).json()).asr_streaming_first_frame_twice;
        const [, Q, F] = run.audio_codes.shape;
        const model = await loadModel({ config: 'model/config.json', weights: 'model/weights.safetensors' });
        const asr = await model.createAsrSession();
        const tokens = [];
        for (let f = 0; f < F; f++) tokens.push((await asr.pushFrame(Int32Array.from({ length: Q }, (_, q) => run.audio_codes.data[q * F + f]))).textToken);
        const info = { backend: model.backend, threads: model.threads, inWorker: model.inWorker };
        await model.dispose();
        return { tokens, expected: run.text_token.data.slice(0, F), ...info };
      };
    </script>`);
  const { server, url } = await serve({ root: app, port: 0, index: '/index.html' });
  try {
    await page.goto(`${url}/index.html`);
    await page.waitForFunction(() => window.run);
    const plain = await page.evaluate(() => window.run());
    expect(plain.tokens).toEqual(plain.expected);
    expect(plain).toMatchObject({ backend: 'wasm-simd', threads: 1, inWorker: true });

    await page.goto(`${url}/coi/index.html`);
    await page.waitForFunction(() => window.run);
    const threaded = await page.evaluate(() => window.run());
    expect(threaded.tokens).toEqual(plain.expected);
    expect(threaded.backend).toBe('wasm-simd-threads');
    expect(threaded.threads).toBeGreaterThan(1);
  } finally {
    server.close();
  }
});
