// The hand-written TypeScript declarations (web/types/*.d.ts) compile under --strict and
// describe the API: tests/node/types/example.ts uses it as documented and marks misuse with
// @ts-expect-error, so both a missing declaration and a too-loose one fail this test. Two
// configurations: a browser one (DOM lib) and a Node one (lib es2022 + @types/node, no DOM),
// the latter also with the old "node10" resolution of a package installed in node_modules.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const TYPES = fileURLToPath(new URL('./types/', import.meta.url));

async function tsc(project) {
  const compiler = path.join(REPO, 'node_modules/typescript/bin/tsc');
  try {
    await promisify(execFile)(process.execPath, [compiler, '-p', project]);
  } catch (e) {
    assert.fail(`tsc reported errors:\n${e.stdout}${e.stderr}`);
  }
}

test('tsc --strict (browser configuration) accepts the documented usage and rejects misuse', () => tsc(path.join(TYPES, 'tsconfig.json')));

// The low-level API (web/types/engine.d.ts through `kyutai-wasm/engine`): tests/node/types/engine.ts.
test('tsc --strict: kyutai-wasm/engine types the forward passes and the stepper', () => tsc(path.join(TYPES, 'tsconfig.engine.json')));

test('tsc --strict (Node configuration, no DOM lib): every subpath of "exports" has types that compile', () => tsc(path.join(TYPES, 'tsconfig.node.json')));

test('tsc --strict, Node configuration with moduleResolution node10: the package installed in node_modules resolves through typesVersions', async () => {
  const app = fs.mkdtempSync(path.join(os.tmpdir(), 'kyutai-types-'));
  try {
    fs.mkdirSync(path.join(app, 'node_modules'));
    fs.symlinkSync(REPO, path.join(app, 'node_modules/kyutai-wasm'), 'dir');
    fs.symlinkSync(path.join(REPO, 'node_modules/@types'), path.join(app, 'node_modules/@types'), 'dir');
    fs.copyFileSync(path.join(TYPES, 'node.ts'), path.join(app, 'node.ts'));
    const base = JSON.parse(fs.readFileSync(path.join(TYPES, 'tsconfig.node.json'), 'utf8'));
    base.compilerOptions = { ...base.compilerOptions, module: 'es2022', moduleResolution: 'node10' };
    fs.writeFileSync(path.join(app, 'tsconfig.json'), JSON.stringify(base));
    await tsc(path.join(app, 'tsconfig.json'));
  } finally {
    fs.rmSync(app, { recursive: true, force: true });
  }
});
