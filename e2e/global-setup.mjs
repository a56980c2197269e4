// Makes the test speech once per run: espeak-ng speaks a sentence, sox converts it to what
// Kyutai models take (24 kHz, mono, 16-bit). It drives the fake microphone and the file tests.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { SPEECH_WAV, ARTIFACTS } from './env.mjs';

export const SENTENCE = 'Hello from the browser. This sentence drives the fake microphone of the Kyutai speech tests.';

export default function globalSetup() {
  const raw = path.join(path.dirname(SPEECH_WAV), 'speech-raw.wav');
  try {
    execFileSync('espeak-ng', ['-w', raw, SENTENCE]);
    execFileSync('sox', [raw, '-r', '24000', '-c', '1', '-b', '16', SPEECH_WAV]);
  } catch (e) {
    throw new Error(`could not make the test speech with espeak-ng and sox (scripts/setup.sh installs them): ${e.message}`, { cause: e });
  }
  if (fs.statSync(SPEECH_WAV).size < 24000) throw new Error(`${SPEECH_WAV} is implausibly small`);
  fs.mkdirSync(ARTIFACTS, { recursive: true });
}
