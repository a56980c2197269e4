// Paths shared by the Playwright config, the global setup and the specs. One temporary folder
// per run for generated audio: the runner creates it and its worker processes inherit it
// through the environment (each process evaluates this module).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CHROMIUM, CHROMIUM_ARGS } from '../scripts/chromium.mjs';

export { CHROMIUM, CHROMIUM_ARGS };

process.env.KYUTAI_E2E_TMP ??= fs.mkdtempSync(path.join(os.tmpdir(), 'kyutai-e2e-'));
export const TMP = process.env.KYUTAI_E2E_TMP;
export const SPEECH_WAV = path.join(TMP, 'speech-24k.wav');
export const ARTIFACTS = new URL('./artifacts/', import.meta.url);
export const REPO = new URL('../', import.meta.url);

// Chromium's fake capture device plays SPEECH_WAV (looped) as the microphone; the fake UI
// grants the permission prompt.
export const MICROPHONE_ARGS = ['--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream',
  `--use-file-for-fake-audio-capture=${SPEECH_WAV}`, '--autoplay-policy=no-user-gesture-required'];
export const MICROPHONE_LAUNCH = { executablePath: CHROMIUM, args: [...CHROMIUM_ARGS, ...MICROPHONE_ARGS] };
