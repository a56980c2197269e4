// Byte sources for model loading, read as a sequence of Uint8Array chunks so that nothing
// has to hold a whole checkpoint: ArrayBuffer / typed array, Blob, Response, ReadableStream,
// URL string (fetched), or any (async) iterable of chunks.
import { KyutaiError, loadError } from './errors.js';

// fetch(url) that either returns an OK response or throws a KyutaiError naming the URL:
// NOT_FOUND for 404/410, NETWORK for any other HTTP status or a request that never completed.
export async function fetchChecked(url, what = 'file', fetchImpl = fetch, init = undefined) {
  let response;
  try {
    response = await fetchImpl(url, init);
  } catch (e) {
    if (init?.signal?.aborted) throw abortedError(what);
    throw loadError(`${what}: could not fetch ${url} (${e.message}${e.cause?.code ? `, ${e.cause.code}` : ''}): check the URL, ` +
      'that the server is up, and that it allows this page to read it (CORS)', 'NETWORK', e);
  }
  if (response.ok) return response;
  const missing = response.status === 404 || response.status === 410;
  throw new KyutaiError(`${what}: fetching ${url} failed: HTTP ${response.status}${missing ? ' (not found: check the URL or the hub template)' : ''}`,
    missing ? 'NOT_FOUND' : 'NETWORK');
}

// A Node file-system error (reading `path`) as a KyutaiError naming the path.
export function fileError(e, path, what = 'file') {
  if (e instanceof KyutaiError) return e;
  const missing = e?.code === 'ENOENT' || e?.code === 'ENOTDIR';
  return loadError(`${what}: ${missing ? 'no such file' : `cannot read (${e?.code ?? e?.message})`}: ${path}` +
    (missing ? ' (relative paths are relative to the working directory)' : ''), missing ? 'NOT_FOUND' : 'INVALID_ARGUMENT', e);
}


// The chunks of `source`, as rawChunks below reads them, for loading: an AbortSignal
// (`signal`) stops the read at once with ABORTED, even while the source stalls, and a source
// that fails mid-read (a stream erroring, a dropped connection) becomes a KyutaiError
// ('NETWORK') naming `what` and how many bytes had arrived.
export async function* readChunks(source, { signal = null, what = 'weights' } = {}) {
  const aborted = () => abortedError(what);
  if (signal?.aborted) throw aborted();
  const chunks = rawChunks(source, signal);
  let stop = null;
  const abort = signal && new Promise((resolve, reject) => {
    stop = () => reject(aborted());
    signal.addEventListener('abort', stop, { once: true });
  });
  abort?.catch(() => {});
  let bytes = 0;
  try {
    for (;;) {
      let next;
      try {
        next = await (abort ? Promise.race([chunks.next(), abort]) : chunks.next());
      } catch (e) {
        if (e instanceof KyutaiError) throw e;
        if (signal?.aborted) throw aborted();
        throw new KyutaiError(`${what}: reading failed after ${bytes} bytes: ${e?.message ?? e}`, 'NETWORK');
      }
      if (next.done) return;
      bytes += next.value.length;
      yield next.value;
    }
  } finally {
    if (stop) signal.removeEventListener('abort', stop);
    // Not awaited: a stalled source may never answer; its reader is cancelled on abort.
    chunks.return().catch(() => {});
  }
}

// What an aborted load (loadModel({signal})) rejects with.
export function abortedError(what) {
  return new KyutaiError(`${what}: loading was aborted`, 'ABORTED');
}

async function* rawChunks(source, signal) {
  if (source instanceof ArrayBuffer) {
    yield new Uint8Array(source);
  } else if (ArrayBuffer.isView(source)) {
    yield new Uint8Array(source.buffer, source.byteOffset, source.byteLength);
  } else if (typeof source === 'string' || source instanceof URL) {
    yield* rawChunks(await fetchChecked(source, 'model file', fetch, signal ? { signal } : undefined), signal);
  } else if (typeof Response !== 'undefined' && source instanceof Response) {
    yield* rawChunks(source.body, signal);
  } else if (typeof Blob !== 'undefined' && source instanceof Blob) {
    yield* rawChunks(source.stream(), signal);
  } else if (source && typeof source.getReader === 'function') {
    const reader = source.getReader();
    let finished = false;
    // An abort cancels the reader, which also ends a read that is waiting on a stalled source.
    const cancel = () => reader.cancel(signal.reason).catch(() => {});
    signal?.addEventListener('abort', cancel, { once: true });
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) {
          finished = true;
          return;
        }
        yield value instanceof Uint8Array ? value : new Uint8Array(value);
      }
    } finally {
      // Stopped early (the engine refused the model, a load failed): cancelling the stream
      // also aborts its download, so the rest of a large file is never fetched.
      signal?.removeEventListener('abort', cancel);
      if (!finished) await reader.cancel().catch(() => {});
      reader.releaseLock();
    }
  } else if (source && (source[Symbol.asyncIterator] || source[Symbol.iterator])) {
    for await (const chunk of source) yield* rawChunks(chunk, signal);
  } else {
    throw new KyutaiError(`cannot read model bytes from ${Object.prototype.toString.call(source)}: expected a URL, ArrayBuffer, typed array, Blob, Response, ReadableStream or iterable of chunks`, 'INVALID_ARGUMENT');
  }
}

// A small whole file (a tokenizer, a codec's weights) as one Uint8Array: the source's only
// chunk as it is, or the chunks joined.
export async function readAll(source, { signal = null, what = 'file' } = {}) {
  const chunks = [];
  let size = 0;
  for await (const c of readChunks(source, { signal, what })) {
    chunks.push(c);
    size += c.length;
  }
  if (chunks.length === 1) return chunks[0];
  const out = new Uint8Array(size);
  let offset = 0;
  for (const c of chunks) {
    out.set(c, offset);
    offset += c.length;
  }
  return out;
}
