// Paths shared by the Playwright config, the global setup and the specs. One temporary folder
// per run for generated audio: the runner creates it and its worker processes inherit it
// through the environment (each process evaluates this module).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

process.env.KYUTAI_E2E_TMP ??= fs.mkdtempSync(path.join(os.tmpdir(), 'kyutai-e2e-'));
export const TMP = process.env.KYUTAI_E2E_TMP;
export const SPEECH_WAV = path.join(TMP, 'speech-24k.wav');
export const ARTIFACTS = new URL('./artifacts/', import.meta.url);
export const REPO = new URL('../', import.meta.url);
