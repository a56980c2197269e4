// Captions from timed words (a transcriber's word events, or transcribe()'s words): cues
// grouped from words, written as WebVTT (https://www.w3.org/TR/webvtt1/) or SubRip (SRT), and
// read back. Times are whole milliseconds in both formats, so cues are made with times
// rounded to the millisecond: writing then parsing gives back exactly the cues' texts and times.

// Words -> cues [{start, end, text}] (seconds, multiples of 1 ms). A cue gathers consecutive
// words until one more would make it
//   * hold more than `maxWords` words or more than `maxChars` characters,
//   * last longer than `maxLineSeconds` (first word's start to last word's end),
//   * or follow a silence longer than `maxGapSeconds`,
// or the word starts after one of `breaks` (times in seconds, e.g. the endOfTurn times) that
// the cue started before. Words without text (no tokenizer) or with empty text are skipped.
// Cues never overlap and always last at least 1 ms (a file's cue must end after it starts).
export function wordsToCues(words, { maxLineSeconds = 5, maxWords = 12, maxChars = 42, maxGapSeconds = 1.5, breaks = [] } = {}) {
  if (!words || typeof words[Symbol.iterator] !== 'function') throw new TypeError('wordsToCues: expected an array of words {text, start, end}');
  const cuts = [...breaks].map(Number).filter(Number.isFinite).sort((a, b) => a - b);
  const cues = [];
  let cue = null;
  const close = () => {
    if (cue) cues.push(cue);
    cue = null;
  };
  for (const w of words) {
    const text = typeof w.text === 'string' ? w.text.replace(/\s+/g, ' ').trim() : '';
    if (!text) continue;
    const start = Number(w.start);
    const end = Math.max(start, Number(w.end ?? w.start));
    if (!Number.isFinite(start) || !Number.isFinite(end)) throw new TypeError(`wordsToCues: word '${text}' has no finite start/end`);
    if (cue) {
      const longer = end - cue.start > maxLineSeconds;
      const crowded = cue.words >= maxWords || cue.text.length + 1 + text.length > maxChars;
      const gap = start - cue.end > maxGapSeconds;
      const turn = cuts.some((t) => t > cue.start && t <= start);
      if (longer || crowded || gap || turn) close();
    }
    if (!cue) cue = { start, end, text, words: 1 };
    else {
      cue.end = Math.max(cue.end, end);
      cue.text += ` ${text}`;
      cue.words++;
    }
  }
  close();
  // Whole milliseconds, in order, never overlapping, never empty.
  let lastEnd = 0;
  return cues.map(({ start, end, text }) => {
    const s = Math.max(Math.round(start * 1000), lastEnd);
    const e = Math.max(Math.round(end * 1000), s + 1);
    lastEnd = e;
    return { start: s / 1000, end: e / 1000, text };
  });
}

// Seconds -> "hh:mm:ss.mmm" (WebVTT) or "hh:mm:ss,mmm" (SRT).
function timestamp(seconds, separator) {
  const ms = Math.round(seconds * 1000);
  const h = Math.floor(ms / 3600000);
  const m = Math.floor(ms / 60000) % 60;
  const s = Math.floor(ms / 1000) % 60;
  const pad = (v, n = 2) => String(v).padStart(n, '0');
  return `${pad(h)}:${pad(m)}:${pad(s)}${separator}${pad(ms % 1000, 3)}`;
}

// Cue text may not hold '&', '<' (markup) or '-->' in WebVTT: escape them.
const escapeVtt = (text) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const unescapeVtt = (text) => text.replace(/&(lt|gt|nbsp|lrm|rlm|amp);/g, (_, e) => ({ lt: '<', gt: '>', nbsp: '\u00a0', lrm: '\u200e', rlm: '\u200f', amp: '&' })[e]);

// Words (or cues already made: objects with a `text` and `start`/`end`, given with
// {cues: true}) -> a WebVTT file.
export function toWebVTT(words, options = {}) {
  const cues = options.cues ? words : wordsToCues(words, options);
  let out = 'WEBVTT\n';
  cues.forEach((c, i) => {
    out += `\n${i + 1}\n${timestamp(c.start, '.')} --> ${timestamp(c.end, '.')}\n${escapeVtt(c.text)}\n`;
  });
  return out;
}

// Words -> a SubRip (.srt) file: numbered cues, comma before the milliseconds, CRLF-free.
export function toSRT(words, options = {}) {
  const cues = options.cues ? words : wordsToCues(words, options);
  return cues.map((c, i) => `${i + 1}\n${timestamp(c.start, ',')} --> ${timestamp(c.end, ',')}\n${c.text.replace(/-->/g, '->')}\n`).join('\n');
}

// "[hh:]mm:ss.mmm" -> seconds (null when malformed).
function parseTime(text, separator) {
  const m = new RegExp(`^(?:(\\d+):)?([0-5]\\d):([0-5]\\d)\\${separator}(\\d{3})$`).exec(text.trim());
  if (!m) return null;
  return ((Number(m[1] ?? 0) * 60 + Number(m[2])) * 60 + Number(m[3])) + Number(m[4]) / 1000;
}

function blocks(text) {
  return String(text).replace(/^\uFEFF/, '').replace(/\r\n?/g, '\n').split(/\n{2,}/).map((b) => b.replace(/\n+$/, '').split('\n')).filter((lines) => lines.some((l) => l.trim()));
}

// A WebVTT file -> cues [{id, start, end, text, settings}] (seconds). Skips NOTE, STYLE and
// REGION blocks; cue text keeps its line breaks and has its character references decoded
// (markup tags are kept as written). Throws a SyntaxError on a file that is not WebVTT or a
// malformed timing line.
export function parseWebVTT(text) {
  const all = blocks(text);
  const header = all.shift();
  if (!header || !/^WEBVTT(?:[ \t].*)?$/.test(header[0])) throw new SyntaxError('parseWebVTT: the file does not start with "WEBVTT"');
  const cues = [];
  for (const lines of all) {
    if (/^(NOTE|STYLE|REGION)(?:\s|$)/.test(lines[0])) continue;
    let i = 0;
    let id = '';
    if (!lines[0].includes('-->')) id = lines[i++];
    const m = /^(\S+)[ \t]+-->[ \t]+(\S+)(?:[ \t]+(.*))?$/.exec(lines[i] ?? '');
    const start = m && parseTime(m[1], '.');
    const end = m && parseTime(m[2], '.');
    if (start === null || end === null || !m) throw new SyntaxError(`parseWebVTT: bad cue timing line '${lines[i]}'`);
    cues.push({ id, start, end, text: unescapeVtt(lines.slice(i + 1).join('\n')), settings: m[3] ?? '' });
  }
  return cues;
}

// An SRT file -> cues [{index, start, end, text}] (seconds). Throws a SyntaxError on a
// malformed block.
export function parseSRT(text) {
  const cues = [];
  for (const lines of blocks(text)) {
    const index = Number(lines[0].trim());
    const m = /^(\S+)[ \t]+-->[ \t]+(\S+)/.exec(lines[1] ?? '');
    const start = m && parseTime(m[1], ',');
    const end = m && parseTime(m[2], ',');
    if (!Number.isInteger(index) || start === null || end === null || !m) throw new SyntaxError(`parseSRT: bad cue '${lines.slice(0, 2).join(' / ')}'`);
    cues.push({ index, start, end, text: lines.slice(2).join('\n') });
  }
  return cues;
}
