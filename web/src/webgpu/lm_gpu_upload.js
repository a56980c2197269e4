// The GPU LM's buffers and weight upload (lm_gpu.js): every buffer it creates, destroyed
// together, and the weights copied once from the WebAssembly heap in the engine's own packed
// layout (queue.writeBuffer straight from HEAPU8.buffer, also a SharedArrayBuffer heap).
export const align4 = (n) => Math.ceil(n / 4) * 4;

export class GpuUpload {
  // gpu: a Gpu (device.js); tensors: gpuModelInfo().tensors; heap: () => the module's HEAPU8.
  constructor(gpu, tensors, heap) {
    this.gpu = gpu;
    this.device = gpu.device;
    this.heap = heap;
    this.tensors = new Map(tensors.map((t) => [t.name, t]));
    this.buffers = [];
    this.uploadedBytes = 0;
  }

  buffer(size, usage, label) {
    const b = this.device.createBuffer({ label, size: Math.max(16, align4(size)), usage });
    this.buffers.push(b);
    return b;
  }

  storage(size, label) {
    const U = GPUBufferUsage;
    return this.buffer(size, U.STORAGE | U.COPY_SRC | U.COPY_DST, label);
  }

  #fromHeap(ptr, bytes, label) {
    const b = this.storage(bytes, label);
    this.device.queue.writeBuffer(b, 0, this.heap().buffer, ptr, bytes);
    this.uploadedBytes += bytes;
    return b;
  }

  fromArray(array, label) {
    const b = this.storage(array.byteLength, label);
    this.device.queue.writeBuffer(b, 0, array.buffer, array.byteOffset, array.byteLength);
    return b;
  }

  // A uniform block of u32 words; {f: x} marks a float. `own`: an array that owns the buffer
  // (a stream's, destroyed with it) instead of the model.
  uniform(words, label, own = null) {
    const n = Math.ceil(words.length / 4) * 4;
    const data = new ArrayBuffer(n * 4);
    const u = new Uint32Array(data);
    const fl = new Float32Array(data);
    words.forEach((w, i) => {
      if (typeof w === 'object') fl[i] = w.f;
      else u[i] = w >>> 0;
    });
    const usage = GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST;
    const b = own ? this.device.createBuffer({ label, size: n * 4, usage }) : this.buffer(n * 4, usage, label);
    own?.push(b);
    this.device.queue.writeBuffer(b, 0, data);
    return b;
  }

  bind(pipeline, buffers, label) {
    return this.device.createBindGroup({
      label,
      layout: pipeline.getBindGroupLayout(0),
      entries: buffers.map((buffer, binding) => ({ binding, resource: { buffer } })),
    });
  }

  #tensor(name) {
    const t = this.tensors.get(name);
    if (!t) throw new Error(`the model has no tensor '${name}'`);
    return t;
  }

  vector(name) {
    const t = this.#tensor(name);
    return this.#fromHeap(t.ptr, t.length * 4, name);
  }

  // A packed linear layer, split by panels into buffers the device can bind.
  linear(name) {
    const t = this.#tensor(name);
    const limit = Math.min(this.gpu.limits.maxStorageBufferBindingSize, this.gpu.limits.maxBufferSize);
    const panelBytes = t.bytes / t.panels;
    const scaleBytes = t.scalesBytes / t.panels;
    const per = Math.max(1, Math.floor(limit / panelBytes));
    const chunks = [];
    for (let p0 = 0; p0 < t.panels; p0 += per) {
      const panels = Math.min(per, t.panels - p0);
      chunks.push({
        panel0: p0,
        panels,
        w: this.#fromHeap(t.ptr + p0 * panelBytes, panels * panelBytes, `${name} [${p0}+${panels}]`),
        scales: scaleBytes ? this.#fromHeap(t.scalesPtr + p0 * scaleBytes, panels * scaleBytes, `${name} scales`) : null,
      });
    }
    const bias = this.tensors.get(name.replace(/\.weight$/, '.bias'));
    return {
      // kernel: the WGSL kernel for the packed order (q4 has two, packed_matrix.h's Q4Layout).
      name, format: t.format, kernel: t.format === 'q4' && t.q4Layout === 'bytes' ? 'q4_bytes' : t.format,
      out: t.out, in: t.in, inPadded: t.inPadded, blocks: t.inPadded / 32, chunks,
      bias: bias ? this.#fromHeap(bias.ptr, bias.length * 4, bias.name) : null,
    };
  }

  norm(prefix, rms, eps) {
    return rms
      ? { rms: true, eps, weight: this.vector(`${prefix}.alpha`), bias: null }
      : { rms: false, eps, weight: this.vector(`${prefix}.weight`), bias: this.vector(`${prefix}.bias`) };
  }

  // Embedding tables packed into buffers under the binding limit; `streams[i]` is the token
  // index table i reads. Returns groups of {buffer, entries, count}.
  tables(names, streams) {
    const limit = Math.min(this.gpu.limits.maxStorageBufferBindingSize, this.gpu.limits.maxBufferSize);
    const groups = [];
    let parts = [];
    let bytes = 0;
    const flush = () => {
      if (!parts.length) return;
      const buffer = this.storage(bytes, 'embedding tables');
      const entries = new Uint32Array(parts.length * 8);
      parts.forEach((p, i) => {
        this.device.queue.writeBuffer(buffer, p.byteOffset, this.heap().buffer, p.ptr, p.bytes);
        this.uploadedBytes += p.bytes;
        entries.set([p.stream, p.row0, p.rows, p.byteOffset / (p.bf16 ? 2 : 4), p.bf16 ? 1 : 0, 0, 0, 0], i * 8);
      });
      groups.push({ buffer, entries: this.fromArray(entries, 'table entries'), count: parts.length });
      parts = [];
      bytes = 0;
    };
    names.forEach((name, i) => {
      const t = this.#tensor(name);
      const bf16 = t.format === 'bf16';
      const rowBytes = t.width * (bf16 ? 2 : 4);
      for (let r0 = 0; r0 < t.rows;) {
        const room = Math.floor((limit - bytes) / rowBytes);
        if (room <= 0) {
          if (!parts.length) throw new Error(`an embedding row of ${name} exceeds the GPU binding limit`);
          flush();
          continue;
        }
        const rows = Math.min(t.rows - r0, room);
        parts.push({ stream: streams[i], row0: r0, rows, byteOffset: bytes, bf16, ptr: t.ptr + r0 * rowBytes, bytes: rows * rowBytes });
        bytes = align4(bytes + rows * rowBytes);
        r0 += rows;
      }
    });
    flush();
    return groups;
  }

  destroy() {
    for (const b of this.buffers) b.destroy();
    this.buffers = [];
  }
}
