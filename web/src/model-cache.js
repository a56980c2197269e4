// Converted model weights kept in the browser's origin private file system (OPFS), so a
// second visit loads from disk with no network and no conversion. An entry is one
// safetensors file in the engine's final format (q4, q8, bf16, f32: LmModel.exportWeights)
// plus a JSON record: the source URL, the content hash of the downloaded bytes (the loader's
// FNV-1a over every byte, all shards in order), the format and sizes.
//
// Why OPFS and not Cache Storage: the engine hands its converted weights out synchronously,
// one tensor view into the WebAssembly heap at a time (valid only during the call). In the
// engine's worker an OPFS sync access handle writes each view to disk right there, so the
// export never holds a second copy of the model. Cache Storage only takes whole Responses
// (cache.put), whose body is consumed asynchronously: the synchronous export would have to be
// buffered, up to the whole model, first. OPFS also lets the page list and delete entries
// with their records, while the engine runs in its worker (same origin, same directory).
//
// Keyed by URL and weight format: the same checkpoint converted to q4 and to q8 is two
// entries. Files are written under a temporary name and renamed last, so a crash mid-write
// never leaves an entry that looks complete; an entry whose size disagrees with its record is
// ignored. Entries are not revalidated against the server: when the file behind a URL
// changes, delete the entry (deleteCachedModel), load with {cache: 'reload'}, or version the
// URL.
import { KyutaiError } from './errors.js';
import { isShardIndexName, isShardList, fetchShardIndex } from './sharded.js';
import { readChunks } from './sources.js';

const DIRECTORY = 'kyutai-wasm-models';

export function modelCacheAvailable() {
  return typeof navigator !== 'undefined' && typeof navigator.storage?.getDirectory === 'function';
}

// Stable file stem for a key: FNV-1a over the key text, hex.
function stem(key) {
  let h = 0xcbf29ce484222325n;
  for (const byte of new TextEncoder().encode(key)) h = ((h ^ BigInt(byte)) * 0x100000001b3n) & 0xffffffffffffffffn;
  return h.toString(16).padStart(16, '0');
}

function baseHref() {
  return globalThis.document?.baseURI ?? globalThis.location?.href ?? 'http://localhost/';
}

export function normalizeFormat(format) {
  return format === undefined || format === null ? 'auto' : String(format);
}

// The key of a URL (resolved against the page) and a weight format.
export function cacheKey(url, format) {
  return `${new URL(url, baseHref()).href}#${normalizeFormat(format)}`;
}

const now = () => (globalThis.performance ?? Date).now();

export class ModelCache {
  #dir;
  constructor(dir) {
    this.#dir = dir;
  }

  // The cache of this origin, or null where there is no OPFS (Node, old browsers).
  static async open() {
    if (!modelCacheAvailable()) return null;
    const root = await navigator.storage.getDirectory();
    return new ModelCache(await root.getDirectoryHandle(DIRECTORY, { create: true }));
  }

  async #file(name, create = false) {
    try {
      return await this.#dir.getFileHandle(name, { create });
    } catch (e) {
      if (e?.name === 'NotFoundError') return null;
      throw e;
    }
  }

  // {record, blob} for a complete entry, or null.
  async get(key) {
    const s = stem(key);
    const meta = await this.#file(`${s}.json`);
    const data = await this.#file(`${s}.safetensors`);
    if (!meta || !data) return null;
    let record;
    try {
      record = JSON.parse(await (await meta.getFile()).text());
    } catch {
      return null;
    }
    const blob = await data.getFile();
    if (record.key !== key || blob.size !== record.bytes) return null;  // stale or torn entry
    return { record, blob };
  }

  // Starts writing an entry; returns {write(Uint8Array), commit(record), abort()}. write() is
  // synchronous with a sync access handle (dedicated workers, where the engine runs), so it
  // can be called from inside LmModel.exportWeights; elsewhere it queues a copy.
  async begin(key) {
    const s = stem(key);
    const tmpName = `${s}.partial`;
    await this.#remove(tmpName);
    const handle = await this.#file(tmpName, true);
    let written = 0;
    let sync = null;
    let stream = null;
    if (typeof handle.createSyncAccessHandle === 'function' && typeof WorkerGlobalScope !== 'undefined') {
      sync = await handle.createSyncAccessHandle();
    } else {
      stream = await handle.createWritable();
    }
    const pending = [];
    let bounce = null;  // for a heap that is a SharedArrayBuffer, if write() refuses views of it
    return {
      write: (chunk) => {
        if (sync) {
          let n;
          try {
            n = sync.write(bounce ? copyInto(bounce, chunk) : chunk, { at: written });
          } catch (e) {
            if (e?.name !== 'TypeError' || bounce) throw e;
            bounce = { buffer: new Uint8Array(0) };
            n = sync.write(copyInto(bounce, chunk), { at: written });
          }
          if (n !== chunk.length) throw new KyutaiError(`model cache: wrote ${n} of ${chunk.length} bytes (disk full?)`, 'INTERNAL');
        } else {
          pending.push(stream.write(chunk.slice()));  // the caller's view is only valid now
        }
        written += chunk.length;
      },
      get written() {
        return written;
      },
      commit: async (record) => {
        if (sync) {
          sync.flush();
          sync.close();
        } else {
          await Promise.all(pending);
          await stream.close();
        }
        await this.#remove(`${s}.safetensors`);
        await handle.move(this.#dir, `${s}.safetensors`);
        const full = { ...record, key, bytes: written, savedAt: new Date().toISOString() };
        const metaHandle = await this.#file(`${s}.json`, true);
        const w = await metaHandle.createWritable();
        await w.write(JSON.stringify(full));
        await w.close();
        return full;
      },
      abort: async () => {
        try {
          if (sync) sync.close();
          else await stream.abort();
        } catch {
          // already closed or aborted: the temporary file is removed below either way
        }
        await this.#remove(tmpName).catch(() => {});
      },
    };
  }

  // Every complete entry's record, oldest first.
  async list() {
    const out = [];
    const sizes = new Map();
    const records = [];
    for await (const [name, handle] of this.#dir.entries()) {
      if (name.endsWith('.safetensors')) sizes.set(name.slice(0, -12), (await handle.getFile()).size);
      else if (name.endsWith('.json')) records.push([name.slice(0, -5), handle]);
    }
    for (const [s, handle] of records) {
      try {
        const record = JSON.parse(await (await handle.getFile()).text());
        if (sizes.get(s) === record.bytes) out.push(record);
      } catch {
        // an unreadable or half-written record: not a complete entry, so not listed
      }
    }
    return out.sort((a, b) => (a.savedAt < b.savedAt ? -1 : 1));
  }

  async delete(key) {
    const s = stem(key);
    const removed = await this.#remove(`${s}.json`);
    await this.#remove(`${s}.safetensors`);
    await this.#remove(`${s}.partial`).catch(() => {});  // may be open in a worker, mid-write
    return removed;
  }

  // Removes every entry; returns how many there were.
  async clear() {
    const names = [];
    for await (const [name] of this.#dir.entries()) names.push(name);
    for (const name of names) {
      if (name.endsWith('.partial')) await this.#remove(name).catch(() => {});
      else await this.#remove(name);
    }
    return names.filter((n) => n.endsWith('.json')).length;
  }

  async #remove(name) {
    try {
      await this.#dir.removeEntry(name);
      return true;
    } catch (e) {
      if (e?.name === 'NotFoundError') return false;
      throw e;
    }
  }
}

function copyInto(bounce, chunk) {
  if (bounce.buffer.length < chunk.length) bounce.buffer = new Uint8Array(chunk.length);
  const view = bounce.buffer.subarray(0, chunk.length);
  view.set(chunk);
  return view;
}

// ---- the page-side API (index.js re-exports these) --------------------------------------

// Records of the cached models: {key, url, format, contentHash, bytes, sourceBytes, files,
// tensors, weightBytes, savedAt}. [] where there is no OPFS.
export async function listCachedModels() {
  const cache = await ModelCache.open();
  return cache ? cache.list() : [];
}

// Deletes the entry of `url` converted to `format` (as given to loadModel; undefined for
// the checkpoint's own precision). Resolves true if there was one.
export async function deleteCachedModel(url, format) {
  const cache = await ModelCache.open();
  return cache ? cache.delete(cacheKey(url, format)) : false;
}

// Deletes every cached model; resolves with how many there were.
export async function clearModelCache() {
  const cache = await ModelCache.open();
  return cache ? cache.clear() : 0;
}

// ---- loading with the cache (the engine's side: the worker, or in-process) --------------

const isHttpUrl = (s) => typeof s === 'string' && /^https?:/i.test(s);

// The weights' URL (http(s) only), the cache mode ('use', 'reload' or 'off') and the cache
// to use (null without a URL, with mode 'off', or where it cannot be opened: `error` says why).
async function cacheFor(weights, cache) {
  const url = isHttpUrl(weights) ? weights : null;
  const mode = cache === false || cache === 'off' ? 'off' : cache === 'reload' ? 'reload' : 'use';
  if (!url || mode === 'off') return { url, mode, store: null, error: null };
  try {
    return { url, mode, store: await ModelCache.open(), error: null };
  } catch (e) {
    return { url, mode, store: null, error: describe(e) };
  }
}

// Loads the complete entry of `key` with load(entry): {value}, or {error} when reading the
// cache failed (a missing entry gives neither). Too big stays too big and an abort stays an
// abort: those are thrown; an entry that fails otherwise (damaged, or a config that changed)
// is deleted, so the caller downloads again.
async function loadEntry(store, key, load) {
  let entry;
  try {
    entry = await store.get(key);
  } catch (e) {
    return { error: describe(e) };
  }
  if (!entry) return {};
  try {
    return { value: await load(entry) };
  } catch (e) {
    if (e?.code === 'LIMIT_EXCEEDED' || e?.code === 'OUT_OF_MEMORY' || e?.code === 'ABORTED') throw e;
    await store.delete(key).catch(() => {});
    return { error: `the cached entry did not load (${describe(e)}); downloaded again` };
  }
}

const writeFailure = (e) => `could not write the model cache: ${describe(e)}`;

// Loads an LM from `weights`, using the cache when the weights are an http(s) URL:
//   cache true (default): a cached conversion of (url, format) loads from disk with no
//     network; otherwise the file is downloaded, converted as it streams in, and the
//     converted weights are written to the cache;
//   cache 'reload': download and convert, replacing the entry;  cache false: no cache.
// A URL ending in `.index.json` is a sharded checkpoint's index. Progress goes to
// onProgress({phase, ...engine progress}); phase 'download' (bytes from the network,
// converted as they arrive), 'cache' (bytes from the cache), 'convert' (bytes from a
// buffer, Blob, stream or file), 'export' (writing the cache entry).
// Returns {lm, info}: info = {source: 'network' | 'cache' | 'local', url, format,
// contentHash, bytes, files, loadMs, exportMs, cached, cacheError, heap: {...}}.
// `loader`: engine.loadLm's options (format, threads, ...), passed on whole.
export async function loadLmWithCache(engine, config, weights, { loader = {}, cache = true, onProgress, signal } = {}) {
  const { format } = loader;
  const started = now();
  const { url, mode, store, error } = await cacheFor(weights, cache);
  let cacheError = error;
  const key = url ? cacheKey(url, format) : null;
  const info = (lm, extra) => ({
    url,
    format: normalizeFormat(format),
    contentHash: lm.loadStats.contentHash,
    bytes: lm.loadStats.bytes,
    files: lm.loadStats.files,
    loadMs: now() - started,
    exportMs: 0,
    cached: false,
    cacheError,
    heap: heapFigures(engine, lm),
    ...extra,
  });

  if (store && mode === 'use') {
    const cached = await loadEntry(store, key, async (entry) => {
      const lm = await engine.loadLm(config, entry.blob, { ...loader, signal, onProgress: (p) => onProgress?.({ phase: 'cache', ...p }) });
      // The record's hash is the download's; the loader's is of the cached file.
      return { lm, info: info(lm, { source: 'cache', cached: true, contentHash: entry.record.contentHash, cacheHash: lm.loadStats.contentHash, sourceBytes: entry.record.sourceBytes }) };
    });
    if (cached.value) return cached.value;
    cacheError = cached.error ?? cacheError;
  }

  let source = weights;
  const remote = (w) => (typeof w === 'string' || w instanceof URL) && !/^(blob|data):/i.test(String(w));
  const phase = remote(weights) || (isShardList(weights) && weights.shards.some(remote)) ? 'download' : 'convert';
  if (url && isShardIndexName(url)) {
    const { urls } = await fetchShardIndex(url);
    source = { shards: urls };
  }
  const loadStart = now();
  const lm = await engine.loadLm(config, source, { ...loader, signal, onProgress: (p) => onProgress?.({ phase, ...p }) });
  const result = info(lm, { source: url ? 'network' : 'local', sourceBytes: lm.loadStats.bytes });
  result.loadMs = now() - loadStart;

  if (store && mode !== 'off') {
    const t0 = now();
    let writer = null;
    try {
      onProgress?.({ phase: 'export', bytes: 0, tensors: 0 });
      writer = await store.begin(key);
      let tensors = 0;
      let failure = null;
      lm.exportWeights((chunk) => {
        // Never throw into the engine (it is mid-export, in C++): keep the error, skip the rest.
        if (failure) return;
        try {
          writer.write(chunk);
          onProgress?.({ phase: 'export', bytes: writer.written, tensors: tensors++ });
        } catch (e) {
          failure = e;
        }
      });
      if (failure) throw failure;
      await writer.commit({
        url,
        format: normalizeFormat(format),
        contentHash: lm.loadStats.contentHash,
        sourceBytes: lm.loadStats.bytes,
        files: lm.loadStats.files,
        weightBytes: lm.weightBytes(),
        config: configSummary(lm.config),
      });
      result.cached = true;
    } catch (e) {
      // A full disk or a refused quota costs the next visit a download, not this load.
      await writer?.abort();
      result.cacheError = writeFailure(e);
    }
    result.exportMs = now() - t0;
  }
  result.cacheError = result.cacheError ?? cacheError;
  return { lm, info: result };
}

// Mimi's weights by http(s) URL go through the cache too, as downloaded (the engine uses
// them as they come, so the file is the entry), under the format name 'mimi': a repeat visit
// then needs no network for the codec either, whatever the browser's HTTP cache keeps of a
// 385 MB response. The download is written to the entry chunk by chunk as it streams into the
// engine. `cache` as for loadLmWithCache.
// Returns {codec, source: 'network' | 'cache' | 'local', cached, cacheError}.
const MIMI_CACHE_FORMAT = 'mimi';
export async function loadMimiWithCache(engine, config, weights, { loader = {}, cache = true, signal } = {}) {
  const { url, mode, store, error } = await cacheFor(weights, cache);
  const load = (source) => engine.loadMimi(config, source, { ...loader, signal });
  let cacheError = error;
  if (!store) return { codec: await load(weights), source: url ? 'network' : 'local', cached: false, cacheError };
  const key = cacheKey(url, MIMI_CACHE_FORMAT);
  if (mode === 'use') {
    const cached = await loadEntry(store, key, async (entry) => ({
      codec: await load(entry.blob), source: 'cache', cached: true, cacheError,
    }));
    if (cached.value) return cached.value;
    cacheError = cached.error ?? cacheError;
  }
  const writer = await store.begin(key).catch((e) => {
    cacheError = writeFailure(e);
    return null;
  });
  if (!writer) return { codec: await load(weights), source: 'network', cached: false, cacheError };
  let failure = null;  // a write that failed: the load goes on, the entry is dropped
  async function* written() {
    for await (const chunk of readChunks(url, { signal, what: 'Mimi weights' })) {
      if (!failure) {
        try {
          writer.write(chunk);
        } catch (e) {
          failure = e;
        }
      }
      yield chunk;
    }
  }
  let codec;
  try {
    codec = await load(written());
  } catch (e) {
    await writer.abort();
    throw e;
  }
  try {
    if (failure) throw failure;
    await writer.commit({ url, format: MIMI_CACHE_FORMAT, kind: 'mimi', sourceBytes: writer.written });
    return { codec, source: 'network', cached: true, cacheError };
  } catch (e) {
    await writer.abort();
    return { codec, source: 'network', cached: false, cacheError: writeFailure(e) };
  }
}

function heapFigures(engine, lm) {
  const s = lm.loadStats;
  return {
    limit: engine.heapLimit(),
    maxBytes: s.maxBytes,
    sizeBefore: s.heapBytesBefore,
    sizeAfter: s.heapBytesAfter,       // the heap never shrinks: this is its peak size too
    inUseBefore: s.heapInUseBefore,
    inUseAfter: s.heapInUseAfter,
    peakInUse: s.peakInUse,            // sampled after each converted tensor
  };
}

function configSummary(c) {
  return { dim: c.dim, numLayers: c.numLayers, nQ: c.nQ, depQ: c.depQ, textCard: c.textCard, card: c.card };
}

function describe(e) {
  return e?.message ? `${e.name ?? 'Error'}: ${e.message}` : String(e);
}
