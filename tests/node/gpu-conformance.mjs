// Conformance runs of the GPU path's pieces against Kyutai's vectors, shared by the Node tests
// (WebAssembly: tests/node/gpu-sessions.test.mjs) and the browser tests (WebGPU:
// e2e/webgpu.spec.mjs). Environment-free: the caller gives the parsed vectors and a function
// making a fresh forward or session.

export function maxAbsDiff(actual, expected) {
  if (!actual || actual.length !== expected.length) return Infinity;
  let m = 0;
  for (let i = 0; i < expected.length; i++) m = Math.max(m, Math.abs(actual[i] - expected[i]));
  return m;
}

// Teacher-forced streaming (each case's `streaming` block; the variants only record the
// full forward, which Kyutai's streaming matches within 5e-6): one frame per step with the
// post-delay model input and the teacher Depformer tokens. runFrames(requests) answers every
// frame of a fresh stream, in order. Returns per-case max |diff|.
export async function lmStreaming(vectors, runFrames) {
  const out = {};
  for (const c of vectors.cases) {
    const ref = c.streaming ?? c;
    const [, K, T] = c.model_input.shape;
    const Q = c.depformer_tokens.shape[1];
    const D = ref.transformer_out.shape[2];
    const V = ref.text_logits.shape[3];
    const card = ref.audio_logits.shape[3];
    const requests = Array.from({ length: T }, (_, t) => ({
      tokens: Int32Array.from({ length: K }, (_, k) => c.model_input.data[k * T + t]),
      teacher: Int32Array.from({ length: Q }, (_, k) => c.depformer_tokens.data[k * T + t]),
      depformer: Q > 0,
      vad: false,
      debug: true,
    }));
    const results = await runFrames(requests);
    const diff = { transformerOut: 0, textLogits: 0, audioLogits: 0 };
    for (let t = 0; t < T; t++) {
      const r = results[t];
      diff.transformerOut = Math.max(diff.transformerOut, maxAbsDiff(r.transformerOut, ref.transformer_out.data.slice(t * D, (t + 1) * D)));
      diff.textLogits = Math.max(diff.textLogits, maxAbsDiff(r.textLogits, ref.text_logits.data.slice(t * V, (t + 1) * V)));
      const audio = [];
      for (let k = 0; k < Q; k++) audio.push(...ref.audio_logits.data.slice((k * T + t) * card, (k * T + t + 1) * card));
      diff.audioLogits = Math.max(diff.audioLogits, maxAbsDiff(r.depformerLogits, audio));
    }
    out[c.name] = diff;
  }
  return out;
}

// Kyutai's greedy LMGen through a full-duplex session (the engine's, on whichever forward
// `makeSession` gives): the sampled text tokens and the undelayed frames, compared with
// `greedy_generation`.
export async function greedyGeneration(vectors, makeSession) {
  const g = vectors.greedy_generation;
  const [, U, T] = g.user_codes.shape;
  const session = await makeSession();
  const text = [];
  const frames = [];
  for (let t = 0; t < T; t++) {
    const user = Int32Array.from({ length: U }, (_, u) => g.user_codes.data[u * T + t]);
    const s = await session.pushFrame(user);
    text.push(s.textToken);
    if (s.audio) frames.push([s.frameText, ...s.audio]);
  }
  await session.dispose();
  const [, rows, n] = g.step_outputs.shape;
  const expectedFrames = Array.from({ length: n }, (_, i) => Array.from({ length: rows }, (_, k) => g.step_outputs.data[k * n + i]));
  return { text, expectedText: Array.from(g.sampled_text.data), frames, expectedFrames };
}

// Kyutai's streaming ASR on the STT checkpoint (frame 0 twice, as tests/node/lm.test.mjs).
export async function asr(vectors, config, makeSession) {
  const run = vectors.asr_streaming_first_frame_twice;
  const [, Q, F] = run.audio_codes.shape;
  const session = await makeSession();
  const tokens = [];
  let vad = 0;
  const width = config.extraHeads * config.extraHeadsDim;
  for (let f = 0; f <= F; f++) {
    const frame = Int32Array.from({ length: Q }, (_, q) => (f < F ? run.audio_codes.data[q * F + f] : 0));
    const s = await session.pushFrame(frame);
    tokens.push(s.textToken);
    vad = Math.max(vad, maxAbsDiff(s.vad, run.extra_heads_probs.data.slice(f * width, (f + 1) * width)));
  }
  await session.dispose();
  return { tokens, expected: Array.from(run.text_token.data), vad };
}

// Kyutai's TTS teacher-forced forward (tests/data/tts `teacher_forced`: voice A, cfg "2.0")
// one frame at a time, through lmStreaming: the transformer output and text logits against
// its streaming block, the Depformer logits against the full forward's (runFrames runs the
// stream under that condition, e.g. a speaker's conditions()).
export function ttsTeacherForced(vectors, runFrames) {
  const tf = vectors.cases.teacher_forced;
  const c = { name: 'teacher_forced', model_input: tf.model_input, depformer_tokens: tf.depformer_tokens, streaming: { ...tf.streaming, audio_logits: tf.audio_logits } };
  return lmStreaming({ cases: [c] }, runFrames);
}

// A TTS generation case (`generation`, `generation_real_cfg`) through a speaker (the engine's
// or the GPU one: its calls may return promises): the frames and word timings it gives and
// Kyutai's, and the backends its steps ran on. during(t) runs while step t is in flight.
export async function ttsGeneration(vectors, name, speaker, during = null) {
  const c = vectors.cases[name];
  await speaker.pushText(c.script[0]);
  await speaker.end();
  const frames = [];
  const words = [];
  const backends = new Set();
  for (let t = 0; speaker.running && speaker.ready; t++) {
    const pending = speaker.step();
    await during?.(t);
    const r = await pending;
    if (r.frame) frames.push(Array.from(r.frame));
    words.push(...r.words.map((w) => [w.text, w.step]));
    if (r.backend) backends.add(r.backend);
  }
  const [rows, n] = c.frames.shape;
  const expectedFrames = Array.from({ length: n }, (_, i) => Array.from({ length: rows }, (_, k) => c.frames.data[k * n + i]));
  return { frames, expectedFrames, words, expectedWords: c.transcript, backends: [...backends] };
}
