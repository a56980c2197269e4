// WebGPU vs WebAssembly frame time of the LM, in headless Chromium.
//
//   node bench/webgpu.mjs [--dim 1024] [--layers 4] [--frames 8] [--format f32|bf16|q8|q4]
//
// Builds a synthetic checkpoint of a moderate STT-like shape with the native kyutai_synth tool
// (BUILD_DIR/native/tools, BUILD_DIR defaults to "build"), launches Chromium with
// --enable-unsafe-webgpu, loads the model once in the page (engine in-process, single-threaded
// WebAssembly build) and times speech-to-text frames through the engine's C++ session
// (WebAssembly SIMD) and through the WebGPU session (with and without the WebAssembly K/V
// mirror that makes a lost device recoverable). Prints one JSON line per measurement.
//
// On a machine without a GPU, Chromium's adapter is SwiftShader, a CPU emulation of a GPU:
// its numbers only show that the GPU path runs, not how fast a GPU would be.
import { chromium } from 'playwright-core';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createStaticServer } from '../scripts/serve.mjs';
import { CHROMIUM, CHROMIUM_ARGS } from '../scripts/chromium.mjs';

const repo = fileURLToPath(new URL('..', import.meta.url));
const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : process.env[`BENCH_${name.toUpperCase()}`] ?? fallback;
};
const dim = Number(arg('dim', 1024));
const layers = Number(arg('layers', 4));
const frames = Number(arg('frames', 8));
const format = arg('format', 'f32');

const config = {
  dim, text_card: 4000, existing_text_padding_id: 3, n_q: 8, dep_q: 0, card: 1024, num_heads: dim / 128, num_layers: layers,
  hidden_scale: 4.125, causal: true, layer_scale: null, context: 64, max_period: 100000, gating: 'silu', norm: 'rms_norm_f32',
  positional_embedding: 'rope', depformer_dim: 256, depformer_num_heads: 2, depformer_num_layers: 0, depformer_multi_linear: true,
  depformer_pos_emb: 'none', delays: Array(9).fill(0), extra_heads_num_heads: 4, extra_heads_dim: 6, model_type: 'stt',
};
const shape = `dim ${dim}, ${layers} layers, ${config.num_heads} heads, gated FFN ${Math.floor(2 * Math.floor(4.125 * dim) / 3)}, text_card ${config.text_card}, n_q ${config.n_q}`;

function synthTool() {
  const dirs = [process.env.BUILD_DIR, 'build', ...fs.readdirSync(repo).filter((d) => d.startsWith('build-'))].filter(Boolean);
  for (const d of dirs) {
    const p = path.join(repo, d, 'native/tools/kyutai_synth');
    if (fs.existsSync(p)) return p;
  }
  throw new Error('kyutai_synth not found: build the native tools first (bash scripts/build.sh)');
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kyutai-webgpu-bench-'));
// The repository's static server, plus the generated model under /bench-model/.
const files = createStaticServer({ root: repo }).listeners('request')[0];
const server = http.createServer((req, res) => {
  const m = /^\/bench-model\/(config\.json|model\.safetensors)$/.exec(new URL(req.url, 'http://x').pathname);
  if (!m) return files(req, res);
  const file = path.join(tmp, m[1]);
  res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': fs.statSync(file).size });
  fs.createReadStream(file).pipe(res);
});
let context = null;
try {
  const configPath = path.join(tmp, 'config.json');
  const weightsPath = path.join(tmp, 'model.safetensors');
  fs.writeFileSync(configPath, JSON.stringify(config));
  execFileSync(synthTool(), ['--config', configPath, '--out', weightsPath, '--dtype', 'bf16'], { stdio: ['ignore', 'ignore', 'inherit'] });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${server.address().port}`;
  context = await chromium.launchPersistentContext(path.join(tmp, 'profile'), {
    executablePath: CHROMIUM,
    headless: true,
    args: [...CHROMIUM_ARGS, '--enable-unsafe-webgpu'],
  });
  const page = context.pages()[0] ?? (await context.newPage());
  page.on('crash', () => console.error('bench/webgpu.mjs: the page crashed'));
  page.on('console', (m) => m.type() === 'error' && console.error(`page: ${m.text()}`));
  await page.goto(`${base}/e2e/pages/harness.html`);
  await page.waitForFunction(() => window.harness, null, { timeout: 60_000 });
  const results = await page.evaluate(async ({ frames, format }) => {
    const { createEngine } = await import('/web/src/engine.js');
    const { selectBackend } = await import('/web/src/webgpu/backend.js');
    const engine = await createEngine({ threads: 1 });
    const configText = await (await fetch('/bench-model/config.json')).text();
    const t0 = performance.now();
    const lm = await engine.loadLm(configText, await fetch('/bench-model/model.safetensors'), { format });
    const loadMs = performance.now() - t0;
    const codes = (f) => Int32Array.from({ length: 8 }, (_, q) => (f * 131 + q * 17) % 1024);
    const time = async (session) => {
      await session.pushFrame(codes(0));  // warm-up (pipelines, first allocations)
      const t = performance.now();
      for (let f = 1; f <= frames; f++) await session.pushFrame(codes(f));
      return (performance.now() - t) / frames;
    };
    const out = [];
    const wasm = lm.createAsrSession();
    out.push({ backend: engine.backend, msPerFrame: await time(wasm) });
    wasm.dispose();
    const t1 = performance.now();
    const choice = await selectBackend({ engine, lm, configText, format, backend: 'auto' });
    const setupMs = performance.now() - t1;
    if (choice.gpu) {
      for (const mirror of [true, false]) {
        const s = choice.gpu.createSession('asr', { mirror });
        out.push({ backend: 'webgpu', mirror, msPerFrame: await time(s), adapter: choice.gpu.gpu.name, setupMs });
        s.dispose();
      }
      choice.gpu.dispose();
    } else {
      out.push({ backend: 'webgpu', unavailable: choice.reason });
    }
    return { out, loadMs, weightBytes: lm.weightBytes(), reason: choice.reason };
  }, { frames, format });
  const swiftshader = results.out.some((r) => /swiftshader/i.test(r.adapter ?? '')) || /software adapter/.test(results.reason);
  const note = swiftshader
    ? 'SwiftShader (a CPU emulation of a GPU): the webgpu numbers are only a functional check, not a GPU speed'
    : 'a hardware WebGPU adapter';
  for (const r of results.out) {
    console.log(JSON.stringify({
      bench: 'webgpu-lm-frame', shape, format, frames, ...r,
      msPerFrame: r.msPerFrame === undefined ? undefined : Number(r.msPerFrame.toFixed(2)),
      setupMs: r.setupMs === undefined ? undefined : Math.round(r.setupMs),
      weightMB: Math.round(results.weightBytes / 2 ** 20), note,
    }));
  }
} finally {
  await context?.close().catch(() => {});
  server.close();
  fs.rmSync(tmp, { recursive: true, force: true });
}
