// Byte sources for model loading, read as a sequence of Uint8Array chunks so that nothing
// has to hold a whole checkpoint: ArrayBuffer / typed array, Blob, Response, ReadableStream,
// URL string (fetched), or any (async) iterable of chunks.
export async function* readChunks(source) {
  if (source instanceof ArrayBuffer) {
    yield new Uint8Array(source);
  } else if (ArrayBuffer.isView(source)) {
    yield new Uint8Array(source.buffer, source.byteOffset, source.byteLength);
  } else if (typeof source === 'string' || source instanceof URL) {
    const response = await fetch(source);
    if (!response.ok) throw new Error(`fetching ${source} failed: HTTP ${response.status}`);
    yield* readChunks(response);
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
    throw new TypeError(`cannot read model bytes from ${Object.prototype.toString.call(source)}`);
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
