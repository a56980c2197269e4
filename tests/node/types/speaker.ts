// Compiled (not run) by tests/node/types.test.mjs (browser configuration): the speaker's
// declarations (web/types/speaker.d.ts, exported from index.d.ts) accept the documented usage
// of Kyutai's TTS and reject misuse (each @ts-expect-error must be an error).
import {
  loadModel, createPlayback, KyutaiError, voiceFileUrl, KYUTAI_VOICE_REPO,
  type Speaker, type SpeakerChunk, type SpokenWord, type SpeakerStats,
} from 'kyutai-wasm';

export async function speak(): Promise<number> {
  const model = await loadModel('kyutai/tts-1.6b-en_fr', { format: 'q4' });
  const speaker: Speaker = await model.createSpeaker({ voice: 'expresso/ex03-ex01_happy_001_channel1_334s.wav', cfg: 2 });
  const playback = await createPlayback(new AudioContext({ sampleRate: speaker.sampleRate }));
  await speaker.connect(playback);
  let samples = 0;
  const words: SpokenWord[] = [];
  for await (const chunk of speaker.speak('Hello <break time="0.5s"/> world')) {
    const c: SpeakerChunk = chunk;
    samples += c.pcm?.length ?? 0;
    words.push(...c.words);
    console.log(c.frame?.[0], c.step, words.map((w) => `${w.text} ${w.start}-${w.end}`));
  }
  const stats: SpeakerStats = speaker.stats;
  const first: number | null = stats.firstAudioMs;
  console.log(first ?? 'no audio yet', stats.rtf, stats.audioSeconds);

  // Text from an LLM, word by word; chunks as events.
  const streamed = await model.createSpeaker({ voice: new Uint8Array(0), sampling: true, temperature: 0.6, seed: 7, nQ: 24 });
  streamed.addEventListener('chunk', (e) => console.log(e.detail.pcm?.length, e.detail.words.length));
  streamed.addEventListener('end', (e) => console.log(e.detail.stats.steps));
  streamed.addEventListener('error', (e) => console.log(e.detail.code));
  const done = (async () => {
    for await (const chunk of streamed) console.log(chunk.step);
  })();
  for (const piece of ['Hel', 'lo ', 'world']) await streamed.pushText(piece);
  await streamed.end();
  await done;
  // A recorded voice: Mimi's latent [1, C, T].
  await model.createSpeaker({ voice: { data: new Float32Array(32 * 10), shape: [1, 32, 10] } });
  console.log(voiceFileUrl('a/b.wav', { sig: '1e68beda', epoch: 240 }), KYUTAI_VOICE_REPO);
  try {
    // @ts-expect-error text, not token ids
    await streamed.pushText(3);
  } catch (e) {
    if (e instanceof KyutaiError) console.log(e.code);
  }
  // @ts-expect-error a voice is required
  await model.createSpeaker({ cfg: 2 });
  // @ts-expect-error cfg is a number
  await model.createSpeaker({ voice: 'x', cfg: '2.0' });
  // @ts-expect-error firstAudioMs is read-only data, not a method
  speaker.stats.firstAudioMs();
  await speaker.dispose();
  return samples;
}
