// Converted model weights kept in the browser's origin private file system (OPFS), so a
// second visit loads from disk with no network and no conversion. An entry is one
// safetensors file in the engine's final format (q4, q8, bf16, f32) plus a JSON record:
// the source URL, the content hash of the downloaded bytes, the format and sizes.
//
// Keyed by URL and weight format: the same checkpoint converted to q4 and to q8 is two
// entries. Entries are written through a sync access handle (dedicated workers, where the
// engine runs) or a writable stream (elsewhere); files are written under a temporary name
// and renamed last, so a crash mid-write never leaves an entry that looks complete.
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

export function cacheKey(url, format) {
  return `${new URL(url, globalThis.location?.href ?? 'http://localhost/').href}#${format ?? 'auto'}`;
}

export class ModelCache {
  #dir;
  constructor(dir) {
    this.#dir = dir;
  }

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
    const record = JSON.parse(await (await meta.getFile()).text());
    const blob = await data.getFile();
    if (record.key !== key || blob.size !== record.bytes) return null;  // stale or torn entry
    return { record, blob };
  }

  // Starts writing an entry; returns {write(Uint8Array), commit(record), abort()}.
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
    return {
      write: (chunk) => {
        if (sync) {
          sync.write(chunk, { at: written });
        } else {
          pending.push(stream.write(chunk.slice()));  // the caller may reuse its buffer
        }
        written += chunk.length;
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
        } catch {}
        await this.#remove(tmpName);
      },
    };
  }

  async list() {
    const out = [];
    for await (const [name, handle] of this.#dir.entries()) {
      if (!name.endsWith('.json')) continue;
      try {
        out.push(JSON.parse(await (await handle.getFile()).text()));
      } catch {}
    }
    return out.sort((a, b) => (a.savedAt < b.savedAt ? -1 : 1));
  }

  async delete(key) {
    const s = stem(key);
    const removed = await this.#remove(`${s}.json`);
    await this.#remove(`${s}.safetensors`);
    await this.#remove(`${s}.partial`);
    return removed;
  }

  async clear() {
    const names = [];
    for await (const [name] of this.#dir.entries()) names.push(name);
    for (const name of names) await this.#remove(name);
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
