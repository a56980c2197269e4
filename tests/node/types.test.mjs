// The hand-written TypeScript declarations (web/types/index.d.ts) compile under --strict and
// describe the API: tests/node/types/example.ts uses it as documented and marks misuse with
// @ts-expect-error, so both a missing declaration and a too-loose one fail this test.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';

async function tsc(config) {
  const compiler = fileURLToPath(new URL('../../node_modules/typescript/bin/tsc', import.meta.url));
  const project = fileURLToPath(new URL(`./types/${config}`, import.meta.url));
  try {
    await promisify(execFile)(process.execPath, [compiler, '-p', project]);
  } catch (e) {
    assert.fail(`tsc reported errors:\n${e.stdout}${e.stderr}`);
  }
}

test('tsc --strict accepts the documented usage and rejects misuse', () => tsc('tsconfig.json'));

// The low-level API (web/types/engine.d.ts through `kyutai-wasm/engine`): tests/node/types/engine.ts.
test('tsc --strict: kyutai-wasm/engine types the forward passes and the stepper', () => tsc('tsconfig.engine.json'));
