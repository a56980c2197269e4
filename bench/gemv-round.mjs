// One round of the GEMV comparison in a fresh Node process:
//   node bench/gemv-round.mjs K N impl,impl,...   prints one JSON line per implementation.
// Implementations: our weight formats (f32, bf16, q8, q4; each in its own module instance;
// q4-relaxed is q4 in the relaxed-SIMD module) and the peers (onnxruntime-web,
// tfjs-backend-wasm). All of them place their weights first,
// in the order given, then each is timed `REPEATS` times in turn and its median reported.
//
// Why a fresh process per round and a rotating order (bench/run.mjs): the same kernel reads
// its weights 10-20% faster or slower depending on which physical pages back them, and pages
// a process touches later tended to read faster here (see README, Performance). Allocated in
// one fixed order, whoever comes first is handicapped; rotated, each gets every place once.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { preparePeer } from './peers.mjs';

const PEERS = ['onnxruntime-web', 'tfjs-backend-wasm'];
const REPEATS = 3;

function median(values) {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

// Runs a round in a child process; returns its results as { impl, ...measurement }.
export function gemvRound(order, K, N, build) {
  const script = fileURLToPath(import.meta.url);
  // Node 20 runs relaxed SIMD behind a flag; it changes nothing for the other modules.
  const out = execFileSync(process.execPath, ['--max-old-space-size=8000', '--experimental-wasm-relaxed-simd', script, K, N, order.join(',')].map(String), {
    encoding: 'utf8', maxBuffer: 1 << 22, env: { ...process.env, BUILD_DIR: build },
  });
  return out.trim().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
}

// 'q4-relaxed' -> { format: 'q4', relaxed: true }: a format run by the relaxed-SIMD module.
export function relaxedImpl(name) {
  return { format: name.replace(/-relaxed$/, ''), relaxed: name.endsWith('-relaxed') };
}

async function prepareOurs(impl, K, N, build) {
  const { format, relaxed } = relaxedImpl(impl);
  const file = `wasm/bench/kyutai-bench${relaxed ? '-relaxed' : ''}.mjs`;
  const { default: createBench } = await import(pathToFileURL(path.join(build, file)).href);
  const wasm = await createBench();  // a fresh instance: its own memory, placed now
  const bench = new wasm.GemvBench(K, N, format, true, 1);
  return { time: async () => JSON.parse(bench.time()) };
}

async function main([K, N, list]) {
  K = Number(K);
  N = Number(N);
  const build = path.resolve(process.env.BUILD_DIR ?? path.join(path.dirname(fileURLToPath(import.meta.url)), '../build'));
  process.setMaxListeners(32);  // each Emscripten instance adds its own process listeners
  const order = list.split(',');
  const prepared = [];
  for (const impl of order) {
    const runner = PEERS.includes(impl) ? await preparePeer(impl, K, N, true) : await prepareOurs(impl, K, N, build);
    await runner.time();  // first calls place lazily made data (tfjs packs each weight on first use)
    prepared.push([impl, runner]);
  }
  const samples = new Map(order.map((impl) => [impl, []]));
  for (let r = 0; r < REPEATS; r++) {
    for (const [impl, runner] of prepared) samples.get(impl).push(await runner.time());
  }
  for (const [impl, results] of samples) {
    const ms = median(results.map((x) => x.ms));
    console.log(JSON.stringify({ impl, ...results.find((x) => x.ms === ms) }));
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await main(process.argv.slice(2));
  process.exit(0);
}
