// Runs benchmark calls in headless Chromium (Debian's, no download): the single-threaded
// module on a plain page, the pthreads module on a cross-origin-isolated page.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { createStaticServer } from '../scripts/serve.mjs';
import { CHROMIUM, CHROMIUM_ARGS } from '../scripts/chromium.mjs';

const root = path.resolve(fileURLToPath(new URL('..', import.meta.url)));

export async function withBrowser(buildDir, run, { args = [] } = {}) {
  const server = createStaticServer({ root, index: '' });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = server.address().port;
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'kyutai-bench-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [...CHROMIUM_ARGS, ...args],
  });
  const rel = path.relative(root, buildDir);
  // open(threads, relaxed): a fresh page running the plain or the relaxed-SIMD benchmark module.
  const open = async (threads, relaxed = false) => {
    const prefix = threads ? '/coi' : '';
    const suffix = relaxed ? '-relaxed' : '';
    const module = threads ? `/${rel}/wasm-mt/bench/kyutai-bench-mt${suffix}.mjs` : `/${rel}/wasm/bench/kyutai-bench${suffix}.mjs`;
    const page = await context.newPage();
    await page.goto(`http://127.0.0.1:${port}${prefix}/bench/page.html?module=${encodeURIComponent(prefix + module)}`);
    await page.waitForFunction(() => window.benchReady === true);
    const info = await page.evaluate(() => window.bench.info);
    if (threads && !info.crossOriginIsolated) throw new Error('the /coi/ page is not cross-origin isolated');
    return {
      info,
      call: (fn, ...a) => page.evaluate(([f, rest]) => window.bench.call(f, ...rest), [fn, a]),
      close: () => page.close(),
    };
  };
  try {
    return await run(open);
  } finally {
    await context.close();
    server.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
}
