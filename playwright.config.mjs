// Playwright: headless Debian Chromium (/usr/bin/chromium; no browser is downloaded) against
// the project's own static server (scripts/serve.mjs), which also serves every path under
// /coi/ with the cross-origin isolation headers the threaded build needs.
import { defineConfig } from '@playwright/test';
import { CHROMIUM, CHROMIUM_ARGS, MICROPHONE_LAUNCH } from './e2e/env.mjs';

const PORT = Number(process.env.KYUTAI_E2E_PORT ?? 8931);

export default defineConfig({
  testDir: 'e2e',
  testMatch: '*.spec.mjs',
  // Two cores: one worker, generous timeouts, no retries (a flaky test should be fixed, not retried).
  workers: 1,
  fullyParallel: false,
  retries: 0,
  timeout: 120_000,
  expect: { timeout: 30_000 },
  reporter: [['list']],
  outputDir: 'test-results',
  globalSetup: './e2e/global-setup.mjs',
  globalTeardown: './e2e/global-teardown.mjs',
  use: {
    baseURL: `http://127.0.0.1:${PORT}`,
    launchOptions: { executablePath: CHROMIUM, args: CHROMIUM_ARGS },
  },
  projects: [
    { name: 'browser', testIgnore: ['microphone.spec.mjs', 'package.spec.mjs', 'fullsize.spec.mjs', 'apps.spec.mjs'] },
    { name: 'microphone', testMatch: 'microphone.spec.mjs', use: { launchOptions: MICROPHONE_LAUNCH } },
    { name: 'package', testMatch: 'package.spec.mjs' },
    // Apps built with Vite and webpack from the packed package, served at the root and under
    // a sub-path, plain and cross-origin isolated (e2e/apps.spec.mjs; each app built once).
    { name: 'apps', testMatch: 'apps.spec.mjs' },
    // WebGPU: headless Chromium offers an adapter (SwiftShader) only with this flag. The same
    // spec also runs in 'browser' (no flag), where the backend must fall back to WebAssembly.
    { name: 'webgpu', testMatch: 'webgpu.spec.mjs', use: { launchOptions: { executablePath: CHROMIUM, args: [...CHROMIUM_ARGS, '--enable-unsafe-webgpu'] } } },
    // Full-size models (issue 11): a 2 GB synthetic STT 1B checkpoint streamed, converted, cached
    // and refused when too large, in one persistent profile of its own (e2e/fullsize.spec.mjs
    // launches it and serves the files itself, counting requests). Run on its own by test.sh.
    { name: 'fullsize', testMatch: 'fullsize.spec.mjs', timeout: 600_000 },
  ],
  webServer: {
    command: `node scripts/serve.mjs --port ${PORT}`,
    url: `http://127.0.0.1:${PORT}/package.json`,
    reuseExistingServer: false,
    timeout: 30_000,
    stdout: 'ignore',
  },
});
