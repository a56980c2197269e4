// Builds the test apps as a user would: `npm pack` the package, install the tarball into a
// fresh app folder next to the app's sources (src/), then build it with Vite (at the root and
// with --base /app/) and with webpack 5 (one build for any path: publicPath 'auto'). Each
// output folder also gets the model, laid out like the hub (tests/node/hub-fixture.mjs), which
// the app loads by name. Nothing is copied into the package or the app by hand.
//
//   node e2e/apps/build.mjs [WORK_DIR]      prints the output folders as JSON
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { makeHubFolder } from '../../tests/node/hub-fixture.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, '../..');
const quiet = { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' };

// The packed package installed into `work`/app with the app's sources.
function makeApp(work) {
  fs.mkdirSync(work, { recursive: true });
  const [packed] = JSON.parse(execFileSync('npm', ['pack', '--json', '--pack-destination', work], { cwd: REPO, ...quiet }));
  const app = path.join(work, 'app');
  fs.cpSync(path.join(HERE, 'src'), app, { recursive: true });
  fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'kyutai-bundled-app', private: true, type: 'module' }));
  execFileSync('npm', ['install', path.join(work, packed.filename), '--offline', '--no-audit', '--no-fund', '--ignore-scripts'], { cwd: app, ...quiet });
  return app;
}

async function viteBuild(app, out, base) {
  const { build } = await import('vite');
  const config = (await import(pathToFileURL(path.join(HERE, 'vite.config.mjs')).href)).default;
  await build({ ...config, configFile: false, root: app, base, build: { ...config.build, outDir: out } });
}

async function webpackBuild(app, out) {
  const { default: webpack } = await import('webpack');
  const config = (await import(pathToFileURL(path.join(HERE, 'webpack.config.mjs')).href)).default({ app, out });
  const stats = await new Promise((resolve, reject) => webpack(config, (e, s) => (e ? reject(e) : resolve(s))));
  if (stats.hasErrors()) throw new Error(`webpack: ${stats.toString({ all: false, errors: true })}`);
  // webpack bundles the script; the page is the app's own index.html.
  fs.copyFileSync(path.join(app, 'index.html'), path.join(out, 'index.html'));
}

// Returns {app, vite: {root, sub}, webpack}: the app's folder and the output folders (sub: built for /app/).
export async function buildApps(work = fs.mkdtempSync(path.join(os.tmpdir(), 'kyutai-apps-'))) {
  const app = makeApp(work);
  const out = { app, vite: { root: path.join(work, 'vite-root'), sub: path.join(work, 'vite-app') }, webpack: path.join(work, 'webpack') };
  await viteBuild(app, out.vite.root, '/');
  await viteBuild(app, out.vite.sub, '/app/');
  await webpackBuild(app, out.webpack);
  for (const dir of [out.vite.root, out.vite.sub, out.webpack]) makeHubFolder(path.join(dir, 'hub'));
  return out;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.log(JSON.stringify(await buildApps(process.argv[2]), null, 2));
}
