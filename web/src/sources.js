import { KyutaiError, loadError } from './errors.js';

// fetch(url) that either returns an OK response or throws a KyutaiError naming the URL:
// NOT_FOUND for 404/410, NETWORK for any other HTTP status or a request that never completed.
export async function fetchChecked(url, what = 'file', fetchImpl = fetch) {
  let response;
  try {
    response = await fetchImpl(url);
  } catch (e) {
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

// Byte sources for model loading, read as a sequence of Uint8Array chunks so that nothing
// has to hold a whole checkpoint: ArrayBuffer / typed array, Blob, Response, ReadableStream,
// URL string (fetched), or any (async) iterable of chunks.
export async function* readChunks(source) {
  if (source instanceof ArrayBuffer) {
    yield new Uint8Array(source);
  } else if (ArrayBuffer.isView(source)) {
    yield new Uint8Array(source.buffer, source.byteOffset, source.byteLength);
  } else if (typeof source === 'string' || source instanceof URL) {
    yield* readChunks(await fetchChecked(source, 'model file'));
  } else if (typeof Response !== 'undefined' && source instanceof Response) {
    yield* readChunks(source.body);
  } else if (typeof Blob !== 'undefined' && source instanceof Blob) {
    yield* readChunks(source.stream());
  } else if (source && typeof source.getReader === 'function') {
    const reader = source.getReader();
    let finished = false;
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
      if (!finished) await reader.cancel().catch(() => {});
      reader.releaseLock();
    }
  } else if (source && (source[Symbol.asyncIterator] || source[Symbol.iterator])) {
    for await (const chunk of source) yield* readChunks(chunk);
  } else {
    throw new KyutaiError(`cannot read model bytes from ${Object.prototype.toString.call(source)}: expected a URL, ArrayBuffer, typed array, Blob, Response, ReadableStream or iterable of chunks`, 'INVALID_ARGUMENT');
  }
}

// A small whole file (a tokenizer, a codec's weights) as one Uint8Array: the source's only
// chunk as it is, or the chunks joined.
export async function readAll(source) {
  const chunks = [];
  let size = 0;
  for await (const c of readChunks(source)) {
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
