// Models by name (web/src/hub.js): a local folder laid out like the hub, served over HTTP by
// the project's server and read as a Node path template; the model loaded by name gives the
// same transcript as the same files given one by one. Plus the template, name and error rules.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadModel, KyutaiError, hubFileUrl, isModelName, KYUTAI_MIMI_CONFIG, DEFAULT_HUB } from '../../web/src/index.js';
import { serve } from '../../scripts/serve.mjs';
import { makeHubFolder, HUB_MODEL, HUB_FILES } from './hub-fixture.mjs';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'kyutai-hub-'));
const dir = makeHubFolder(root);
const { server, url } = await serve({ root, port: 0, index: null });
const HTTP_HUB = `${url}/{repo}/{file}`;
after(() => {
  server.close();
  fs.rmSync(root, { recursive: true, force: true });
});

const signal = (t) => 0.3 * Math.sin(2 * Math.PI * 190 * t) * Math.sin(2 * Math.PI * 1.3 * t) + 0.1 * Math.sin(2 * Math.PI * 1100 * t);
const clip = Float32Array.from({ length: 24000 * 3 }, (_, i) => signal(i / 24000));
const words = (r) => r.words.map((w) => [w.text, Array.from(w.tokens)]);

test('the default template is Hugging Face resolve/main; {repo}, {revision}, {file} are filled', () => {
  assert.equal(hubFileUrl('kyutai/stt-1b-en_fr', 'config.json'), 'https://huggingface.co/kyutai/stt-1b-en_fr/resolve/main/config.json');
  assert.equal(DEFAULT_HUB, 'https://huggingface.co/{repo}/resolve/{revision}/{file}');
  assert.equal(hubFileUrl('a/b', 'm.safetensors', { hub: 'https://mirror.example/{repo}@{revision}/{file}', revision: 'v1' }), 'https://mirror.example/a/b@v1/m.safetensors');
  assert.equal(hubFileUrl('a/b', 'c.json', { hub: '/models/{repo}/{file}' }), '/models/a/b/c.json');
  assert.throws(() => hubFileUrl('a/b', 'c.json', { hub: 'https://x/{repo}' }), (e) => e instanceof KyutaiError && e.code === 'INVALID_ARGUMENT' && /\{file\}/.test(e.message));
  assert.ok(isModelName('kyutai/stt-1b-en_fr'));
  for (const bad of ['kyutai', 'a/../b', '/abs/path', 'a/b/c', 'config.json', '']) assert.ok(!isModelName(bad), bad);
  assert.equal(KYUTAI_MIMI_CONFIG.quantizer.n_q, 32);
  assert.equal(KYUTAI_MIMI_CONFIG.transformer.context, 250);
});

test('loadModel(name) over HTTP finds config, weights, Mimi and tokenizer by Kyutai\'s names, with progress per file and in total', async () => {
  const events = [];
  const byName = await loadModel(HUB_MODEL, { hub: HTTP_HUB, onProgress: (p) => events.push(p) });
  const byFiles = await loadModel({
    config: path.join(dir, 'config.json'), weights: path.join(dir, HUB_FILES.weights), tokenizer: path.join(dir, HUB_FILES.tokenizer),
    frameTokenizer: { type: 'mimi', config: JSON.parse(fs.readFileSync(path.join(dir, 'config.json'))).mimi_config, weights: path.join(dir, HUB_FILES.mimi) },
  });
  try {
    assert.equal(byName.frameTokenizer.kind, 'mimi');
    assert.ok(byName.textTokenizer, 'the tokenizer named by tokenizer_name was loaded');
    assert.deepEqual(byName.files.map((f) => [f.role, f.file]), [['weights', HUB_FILES.weights], ['mimi', HUB_FILES.mimi], ['tokenizer', HUB_FILES.tokenizer]]);
    const sizes = byName.files.map((f) => f.size);
    assert.deepEqual(sizes, [HUB_FILES.weights, HUB_FILES.mimi, HUB_FILES.tokenizer].map((f) => fs.statSync(path.join(dir, f)).size));
    const total = sizes.reduce((a, b) => a + b, 0);
    assert.ok(events.some((e) => e.fileName === HUB_FILES.weights && e.loaded > 0), 'per-file progress of the weights');
    assert.ok(events.every((e) => e.overall.total === total), 'every event carries the total over all files');
    assert.deepEqual(events.at(-1).overall, { loaded: total, total });
    const a = await byName.transcribe(clip);
    const b = await byFiles.transcribe(clip);
    assert.ok(a.words.length > 0, 'the talkative tiny model gives words');
    assert.ok(a.words.some((w) => typeof w.text === 'string' && w.text.length), 'words have text: the tokenizer is in use');
    assert.deepEqual(words(a), words(b));
  } finally {
    await byName.dispose();
    await byFiles.dispose();
  }
});

test('in Node a path template reads a local folder laid out like the hub', async () => {
  const model = await loadModel(HUB_MODEL, { hub: path.join(root, '{repo}/{file}') });
  try {
    assert.equal(model.files[0].url, path.join(dir, HUB_FILES.weights));
    assert.equal(model.frameTokenizer.kind, 'mimi');
  } finally {
    await model.dispose();
  }
});

test('a missing repository or file is NOT_FOUND naming the URL; an unreachable hub is NETWORK; a bad name is refused', async () => {
  await assert.rejects(loadModel('kyutai/no-such-model', { hub: HTTP_HUB }),
    (e) => e instanceof KyutaiError && e.code === 'NOT_FOUND' && e.message.includes(`${url}/kyutai/no-such-model/config.json`) && /HTTP 404/.test(e.message));
  const broken = path.join(root, 'kyutai', 'broken');
  fs.mkdirSync(broken, { recursive: true });
  fs.writeFileSync(path.join(broken, 'config.json'), JSON.stringify({ ...JSON.parse(fs.readFileSync(path.join(dir, 'config.json'))), mimi_name: undefined, tokenizer_name: undefined }));
  await assert.rejects(loadModel('kyutai/broken', { hub: HTTP_HUB }),
    (e) => e instanceof KyutaiError && e.code === 'NOT_FOUND' && e.message.includes(`${url}/kyutai/broken/model.safetensors`));
  await assert.rejects(loadModel(HUB_MODEL, { hub: 'http://127.0.0.1:9/{repo}/{file}' }),
    (e) => e instanceof KyutaiError && e.code === 'NETWORK' && e.message.includes('http://127.0.0.1:9/kyutai/stt-1b-en_fr/config.json'));
  await assert.rejects(loadModel('../etc/passwd', { hub: HTTP_HUB }), (e) => e instanceof KyutaiError && e.code === 'INVALID_ARGUMENT' && /owner\/name/.test(e.message));
  fs.writeFileSync(path.join(broken, 'config.json'), JSON.stringify({ mimi_name: '../secret' }));
  await assert.rejects(loadModel('kyutai/broken', { hub: HTTP_HUB }), (e) => e instanceof KyutaiError && e.code === 'INVALID_CONFIG' && /mimi_name/.test(e.message));
});
