// Captions from words: WebVTT and SRT (web/src/captions.js).

export interface Cue {
  /** Seconds, whole milliseconds. */
  start: number;
  end: number;
  text: string;
}

export interface CaptionOptions {
  /** Longest cue, first word's start to last word's end (default 5 s). */
  maxLineSeconds?: number;
  /** Default 12. */
  maxWords?: number;
  /** Default 42. */
  maxChars?: number;
  /** A silence longer than this starts a new cue (default 1.5 s). */
  maxGapSeconds?: number;
  /** Times (e.g. ends of turn) a cue may not span. */
  breaks?: number[];
}

export interface CaptionWord {
  text: string | null;
  start: number;
  end: number | null;
}

export function wordsToCues(words: Iterable<CaptionWord>, options?: CaptionOptions): Cue[];
export function toWebVTT(words: Iterable<CaptionWord>, options?: CaptionOptions): string;
export function toWebVTT(cues: Cue[], options: { cues: true }): string;
export function toSRT(words: Iterable<CaptionWord>, options?: CaptionOptions): string;
export function toSRT(cues: Cue[], options: { cues: true }): string;
export function parseWebVTT(text: string): Array<Cue & { id: string; settings: string }>;
export function parseSRT(text: string): Array<Cue & { index: number }>;
