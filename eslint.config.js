// ESLint flat config: the recommended rules over the package (web/), its tests, the browser
// tests, the benchmarks and the helper scripts. ES2022 modules everywhere; the package code
// runs in pages, workers and Node, the worklets in an AudioWorkletGlobalScope.
import js from '@eslint/js';
import globals from 'globals';

export default [
  { ignores: ['dist/**', 'build/**', 'node_modules/**', 'test-results/**', 'playwright-report/**'] },
  {
    files: ['web/**/*.js', 'tests/node/**/*.mjs', 'e2e/**/*.mjs', 'e2e/**/*.js', 'bench/*.mjs', 'scripts/*.mjs', 'eslint.config.js'],
    ...js.configs.recommended,
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: 'module',
      globals: { ...globals.browser, ...globals.worker, ...globals.node },
    },
  },
  {
    // page.evaluate callbacks run in e2e/pages/harness.html, whose module sets window.harness.
    files: ['e2e/*.spec.mjs'],
    languageOptions: { globals: { harness: 'readonly' } },
  },
  {
    files: ['web/src/worklets/*.js'],
    languageOptions: { globals: { ...globals.audioWorklet } },
  },
];
