// What loadModel's inputs become before they reach the engine: config text, and weight (or
// tokenizer) bytes in a form that can cross into the engine's worker.
import { KyutaiError } from './errors.js';
import { isShardIndexName, isShardList, parseShardIndex } from './sharded.js';
import { fetchChecked, fileError } from './sources.js';

export const isNode = typeof process === 'object' && !!process.versions?.node && typeof window === 'undefined';

const isUrlString = (s) => /^(https?|blob|data|file):/i.test(s);

// A Node built-in, imported only when running in Node. The specifier is built at run time so
// that bundlers leave it alone (no browser stub, no warning) in browser builds.
export function nodeImport(name) {
  return import(/* @vite-ignore */ /* webpackIgnore: true */ `node:${name}`);
}

// What relative URLs are relative to: the page (or worker), or in Node the working directory.
export function baseUrl() {
  return globalThis.document?.baseURI ?? globalThis.location?.href ??
    (isNode ? `file://${encodeURI(process.cwd().replace(/\/?$/, '/'))}` : undefined);
}

// A URL the caller gave relative to the page, made absolute (the engine's worker lives elsewhere).
export function absoluteUrl(url) {
  return url === undefined || url === null ? undefined : new URL(String(url), baseUrl()).href;
}

// Node: a file path or file: URL -> a path; anything else -> null.
async function nodePath(source) {
  if (!isNode) return null;
  const { fileURLToPath } = await nodeImport('url');
  if (source instanceof URL) return source.protocol === 'file:' ? fileURLToPath(source) : null;
  if (typeof source !== 'string') return null;
  if (/^file:/i.test(source)) return fileURLToPath(source);
  return isUrlString(source) ? null : source;
}

// Node: a file's size (checked to exist before any reading starts) or a KyutaiError naming it.
async function fileSize(fs, path, what) {
  try {
    return (await fs.promises.stat(path)).size;
  } catch (e) {
    throw fileError(e, path, what);
  }
}

// config: URL or path, JSON text, a parsed object, or bytes/Blob/Response of the JSON.
// JSON text that is not an object ("null", "[1]", "5", "true"): never a path or URL.
function isJsonValueText(text) {
  const t = text.trim();
  if (!/^(\[|-?\d|"|null$|true$|false$)/.test(t)) return false;
  try {
    JSON.parse(t);
    return true;
  } catch {
    return false;
  }
}

export async function configText(config, what = 'config') {
  if (config === undefined || config === null) throw new KyutaiError(`${what} is required`, 'INVALID_ARGUMENT');
  if (typeof config === 'string' && config.trimStart().startsWith('{')) return config;
  if (typeof config === 'string' && isJsonValueText(config)) {
    throw new KyutaiError(`${what}: JSON text must be an object ({...}), got ${config.trim().slice(0, 40)}`, 'INVALID_CONFIG');
  }
  const path = await nodePath(config);
  if (path) return (await nodeImport('fs')).promises.readFile(path, 'utf8').catch((e) => Promise.reject(fileError(e, path, what)));
  if (typeof config === 'string' || config instanceof URL) return (await fetchChecked(new URL(config, baseUrl()).href, what)).text();
  if (typeof Response !== 'undefined' && config instanceof Response) return config.text();
  if (typeof Blob !== 'undefined' && config instanceof Blob) return config.text();
  if (config instanceof ArrayBuffer || ArrayBuffer.isView(config)) return new TextDecoder().decode(config);
  if (typeof config === 'object') {
    try {
      return JSON.stringify(config);
    } catch (e) {  // a cycle, a BigInt
      throw new KyutaiError(`${what}: the object cannot be written as JSON (${e.message})`, 'INVALID_CONFIG');
    }
  }
  throw new KyutaiError(`${what}: expected a URL, JSON text or an object`, 'INVALID_ARGUMENT');
}

let streamTransfer;
function canTransferStreams() {
  if (streamTransfer === undefined) {
    try {
      const { port1 } = new MessageChannel();
      const rs = new ReadableStream();
      port1.postMessage(rs, [rs]);
      port1.close();
      streamTransfer = true;
    } catch {
      streamTransfer = false;
    }
  }
  return streamTransfer;
}

function iterableToStream(iterable) {
  const it = iterable[Symbol.asyncIterator] ? iterable[Symbol.asyncIterator]() : iterable[Symbol.iterator]();
  return new ReadableStream({
    async pull(controller) {
      const { done, value } = await it.next();
      if (done) controller.close();
      else controller.enqueue(value instanceof Uint8Array ? value : new Uint8Array(value.buffer ?? value, value.byteOffset ?? 0, value.byteLength));
    },
    cancel: () => it.return?.(),
  });
}

// Weight (or tokenizer) bytes, made ready for the engine. Returns {source, transfer, size}.
// Through a worker: URLs become absolute (the worker fetches them itself, so the bytes never
// pass through the page), Blobs are cloned by reference, streams are transferred, and
// ArrayBuffers / typed arrays are copied (the caller keeps theirs).
export async function bytesSource(source, inWorker, what) {
  if (source === undefined || source === null) throw new KyutaiError(`${what} is required`, 'INVALID_ARGUMENT');
  // A checkpoint in several files: {shards: [source, ...]}, each made ready the same way.
  if (isShardList(source)) {
    const parts = [];
    for (const shard of source.shards) parts.push(await bytesSource(shard, inWorker, what));
    const sizes = parts.map((p) => p.size);
    return {
      source: { shards: parts.map((p) => p.source) },
      transfer: parts.flatMap((p) => p.transfer),
      size: sizes.every((n) => n > 0) ? sizes.reduce((a, b) => a + b, 0) : undefined,
    };
  }
  const path = await nodePath(source);
  if (path && isShardIndexName(path)) {
    // Node: a sharded checkpoint's index file; its shards are read (lazily) from its folder.
    const fs = await nodeImport('fs');
    const { dirname, join } = await nodeImport('path');
    const text = await fs.promises.readFile(path, 'utf8').catch((e) => Promise.reject(fileError(e, path, what)));
    const index = parseShardIndex(text, path);
    const files = index.files.map((f) => join(dirname(path), f));
    const sizes = await Promise.all(files.map((f) => fileSize(fs, f, `${what} shard`)));
    const lazy = (file) => ({ [Symbol.asyncIterator]: () => fs.createReadStream(file, { highWaterMark: 1 << 22 })[Symbol.asyncIterator]() });
    return { source: { shards: files.map(lazy) }, transfer: [], size: sizes.reduce((a, b) => a + b, 0) };
  }
  if (path) {
    const fs = await nodeImport('fs');
    const size = await fileSize(fs, path, what);
    return { source: fs.createReadStream(path, { highWaterMark: 1 << 22 }), transfer: [], size };
  }
  if (typeof source === 'string' || source instanceof URL) {
    const url = new URL(source, baseUrl()).href;
    return { source: url, transfer: [], size: undefined };
  }
  if (source instanceof ArrayBuffer || ArrayBuffer.isView(source)) return { source, transfer: [], size: source.byteLength };
  if (typeof Blob !== 'undefined' && source instanceof Blob) return { source, transfer: [], size: source.size };
  if (typeof Response !== 'undefined' && source instanceof Response) {
    const length = Number(source.headers.get('content-length'));
    const body = source.body;
    const inner = await bytesSource(body, inWorker, what);
    return { ...inner, size: length > 0 ? length : undefined };
  }
  const isStream = typeof source.getReader === 'function';
  if (!isStream && !(source[Symbol.asyncIterator] || source[Symbol.iterator])) {
    throw new KyutaiError(`${what}: expected a URL, ArrayBuffer, typed array, Blob, Response or ReadableStream`, 'INVALID_ARGUMENT');
  }
  if (!inWorker) return { source, transfer: [], size: undefined };
  const stream = isStream ? source : iterableToStream(source);
  if (canTransferStreams()) return { source: stream, transfer: [stream], size: undefined };
  // No transferable streams (older engines): collect into a Blob, which clones by reference.
  const blob = await new Response(stream).blob();
  return { source: blob, transfer: [], size: blob.size };
}
