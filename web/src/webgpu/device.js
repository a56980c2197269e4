// WebGPU adapter and device for the GPU backend: availability, limits, errors and loss.
//
// Headless Chromium offers an adapter only with --enable-unsafe-webgpu (then a SwiftShader
// CPU adapter: correct, slow, no shader-f16). Nothing here needs optional features.
import { createPipelines } from './kernels.js';

// Why WebGPU cannot be used here (a reason string), or null when it may be.
export function webgpuUnavailableReason() {
  const gpu = globalThis.navigator?.gpu;
  if (!gpu) {
    return typeof process === 'object' && process.versions?.node && typeof window === 'undefined'
      ? 'WebGPU is not available in Node (navigator.gpu is missing)'
      : 'WebGPU is not available in this browser context (navigator.gpu is missing)';
  }
  return null;
}

// The limits the kernels rely on (WebGPU's defaults satisfy them all).
const NEEDED = {
  maxStorageBuffersPerShaderStage: 6,
  maxComputeWorkgroupSizeX: 256,
  maxComputeInvocationsPerWorkgroup: 256,
  maxComputeWorkgroupStorageSize: 4096,
  maxUniformBufferBindingSize: 64,
};

export class GpuUnavailable extends Error {
  constructor(reason) {
    super(reason);
    this.name = 'GpuUnavailable';
  }
}

// An adapter whose limits the kernels fit in.
export async function requestGpuAdapter({ powerPreference = 'high-performance' } = {}) {
  const unavailable = webgpuUnavailableReason();
  if (unavailable) throw new GpuUnavailable(unavailable);
  let adapter;
  try {
    adapter = await navigator.gpu.requestAdapter({ powerPreference });
  } catch (e) {
    throw new GpuUnavailable(`requestAdapter failed: ${e.message}`);
  }
  if (!adapter) throw new GpuUnavailable('no WebGPU adapter (headless Chromium needs --enable-unsafe-webgpu)');
  for (const [name, min] of Object.entries(NEEDED)) {
    if ((adapter.limits[name] ?? 0) < min) throw new GpuUnavailable(`adapter limit ${name} = ${adapter.limits[name]} < ${min}`);
  }
  return adapter;
}

// A device with the largest buffer limits the adapter allows (big weight matrices are split
// by panels beyond maxStorageBufferBindingSize anyway) and its pipelines.
export async function openGpu(adapter) {
  adapter ??= await requestGpuAdapter();
  const info = adapter.info ?? {};
  let device;
  try {
    device = await adapter.requestDevice({
      label: 'kyutai-wasm',
      requiredLimits: {
        maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
        maxBufferSize: adapter.limits.maxBufferSize,
      },
    });
  } catch (e) {
    throw new GpuUnavailable(`requestDevice failed: ${e.message}`);
  }
  const gpu = new Gpu(adapter, device, info);
  try {
    gpu.pipelines = await gpu.checked('compiling the kernels', () => createPipelines(device));
  } catch (e) {
    gpu.destroy();
    throw new GpuUnavailable(e.message);
  }
  return gpu;
}

export class Gpu {
  constructor(adapter, device, info) {
    this.adapter = adapter;
    this.device = device;
    this.info = {
      vendor: info.vendor ?? '',
      architecture: info.architecture ?? '',
      description: info.description ?? '',
      isFallbackAdapter: info.isFallbackAdapter ?? adapter.isFallbackAdapter ?? false,
    };
    this.limits = device.limits;
    this.lostReason = null;
    this.uncaptured = null;
    this.listeners = new Set();
    device.lost.then((l) => {
      this.lostReason = `the WebGPU device was lost (${l.reason ?? 'unknown'}${l.message ? `: ${l.message}` : ''})`;
      for (const f of this.listeners) f(this.lostReason);
    });
    device.onuncapturederror = (e) => {
      this.uncaptured ??= e.error?.message ?? String(e.error);
    };
  }

  get name() {
    const { vendor, architecture, description } = this.info;
    return [vendor, architecture, description].filter(Boolean).join(' ') || 'unknown adapter';
  }

  get lost() {
    return this.lostReason !== null;
  }

  onLost(f) {
    this.listeners.add(f);
    if (this.lostReason) f(this.lostReason);
    return () => this.listeners.delete(f);
  }

  // Runs `work` inside validation and out-of-memory error scopes; throws with `what` and the
  // first error (WebGPU reports these asynchronously, not as exceptions).
  async checked(what, work) {
    const d = this.device;
    d.pushErrorScope('out-of-memory');
    d.pushErrorScope('validation');
    let result;
    let thrown = null;
    try {
      result = await work();
    } catch (e) {
      thrown = e;
    }
    const validation = await d.popErrorScope();
    const oom = await d.popErrorScope();
    if (thrown) throw new Error(`${what}: ${thrown.message}`);
    if (oom) throw new Error(`${what}: GPU out of memory (${oom.message})`);
    if (validation) throw new Error(`${what}: ${validation.message}`);
    return result;
  }

  destroy() {
    this.device.destroy();
  }
}
