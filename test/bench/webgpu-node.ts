// WebGPU in Node for the benchmarks: dawn.node (npm `webgpu`) installed as the browser globals, one adapter
// and one GPUDevice shared by every contender, and counters of the work each inference puts on the queue
// (compute dispatches and queue submits), taken by wrapping dawn.node's prototypes so they count every
// caller — tessera's runtime and onnxruntime-web alike — without either knowing.
//
// dawn.node needs a Vulkan driver: `source scripts/webgpu-env.sh` points it at SwiftShader.
import { create, globals } from 'webgpu';

export interface GpuCounts {
  dispatches: number;
  indirectDispatches: number;
  submits: number;
  /** Command buffers across all submits (one submit may carry several). */
  commandBuffers: number;
  writeBuffers: number;
  /** GPUBuffer.mapAsync calls: reads of GPU memory back to the CPU (each one waits for the queue). */
  readbacks: number;
  /** Compute pipelines created (each one a shader compiled by the driver). */
  pipelines: number;
  /** writeBuffer calls whose data lived in a SharedArrayBuffer and was copied first (see below). */
  sharedCopies: number;
}

export interface NodeWebGpu {
  adapter: GPUAdapter;
  device: GPUDevice;
  /** "vendor / architecture / device / description" of the adapter. */
  adapterName: string;
  counts: GpuCounts;
  /** Counts since the previous snapshot taken from `start` (a copy). */
  since(start: GpuCounts): GpuCounts;
}

let installed: NodeWebGpu | undefined;

const zero = (): GpuCounts => ({ dispatches: 0, indirectDispatches: 0, submits: 0, commandBuffers: 0, writeBuffers: 0, readbacks: 0, pipelines: 0, sharedCopies: 0 });

/** Installs dawn.node's globals and `navigator.gpu` once, wraps the counted prototypes, and opens the device. */
export async function nodeWebGpu(): Promise<NodeWebGpu> {
  if (installed) return installed;
  Object.assign(globalThis, globals);
  const gpu = create([]) as GPU;
  Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
  const counts = zero();
  const g = globalThis as unknown as Record<string, { prototype: Record<string, (...a: unknown[]) => unknown> }>;
  const wrap = (cls: string, method: string, before: (args: unknown[]) => unknown[]) => {
    const proto = g[cls]!.prototype;
    const original = proto[method]!;
    proto[method] = function (this: unknown, ...args: unknown[]) { return original.apply(this, before(args)); };
  };
  wrap('GPUComputePassEncoder', 'dispatchWorkgroups', (a) => { counts.dispatches++; return a; });
  wrap('GPUComputePassEncoder', 'dispatchWorkgroupsIndirect', (a) => { counts.indirectDispatches++; return a; });
  wrap('GPUQueue', 'submit', (a) => { counts.submits++; counts.commandBuffers += (a[0] as unknown[]).length; return a; });
  wrap('GPUBuffer', 'mapAsync', (a) => { counts.readbacks++; return a; });
  wrap('GPUDevice', 'createComputePipeline', (a) => { counts.pipelines++; return a; });
  wrap('GPUDevice', 'createComputePipelineAsync', (a) => { counts.pipelines++; return a; });
  // dawn.node rejects views of a SharedArrayBuffer (onnxruntime-web's threaded WASM memory is one): copy them.
  wrap('GPUQueue', 'writeBuffer', (a) => {
    counts.writeBuffers++;
    const data = a[2] as ArrayBufferView | ArrayBuffer;
    const buffer = ArrayBuffer.isView(data) ? data.buffer : data;
    if (typeof SharedArrayBuffer === 'undefined' || !(buffer instanceof SharedArrayBuffer)) return a;
    counts.sharedCopies++;
    // Copy as bytes: writeBuffer's dataOffset/size count elements of the view's type, so keep the type.
    const view = ArrayBuffer.isView(data) ? data : new Uint8Array(data);
    const Ctor = view.constructor as new (b: ArrayBuffer) => ArrayBufferView;
    const bytes = new Uint8Array(view.buffer, view.byteOffset, view.byteLength).slice();
    const copy = ArrayBuffer.isView(data) ? (view instanceof DataView ? new DataView(bytes.buffer) : new Ctor(bytes.buffer)) : bytes.buffer;
    return [a[0], a[1], copy, ...a.slice(3)];
  });
  const adapter = await gpu.requestAdapter();
  if (!adapter) throw new Error('no WebGPU adapter (did you `source scripts/webgpu-env.sh`?)');
  // Ask for everything the adapter has (as onnxruntime-web does when it creates its own device), so the shared
  // device offers each contender what it would have asked for: e.g. more than 8 storage buffers per stage.
  const limits: Record<string, number> = {};
  for (const k of ['maxStorageBuffersPerShaderStage', 'maxComputeWorkgroupStorageSize', 'maxComputeInvocationsPerWorkgroup',
    'maxComputeWorkgroupSizeX', 'maxComputeWorkgroupSizeY', 'maxComputeWorkgroupSizeZ', 'maxComputeWorkgroupsPerDimension',
    'maxStorageBufferBindingSize', 'maxBufferSize', 'maxBindGroups', 'maxUniformBufferBindingSize']) {
    const v = (adapter.limits as unknown as Record<string, number>)[k];
    if (typeof v === 'number') limits[k] = v;
  }
  const device = await adapter.requestDevice({ requiredLimits: limits, requiredFeatures: [...adapter.features] as GPUFeatureName[] });
  const info = adapter.info;
  const adapterName = [info.vendor, info.architecture, info.device, info.description].filter((s) => s).join(' / ');
  installed = {
    adapter, device, adapterName, counts,
    since: (start) => Object.fromEntries(Object.entries(counts).map(([k, v]) => [k, v - start[k as keyof GpuCounts]])) as unknown as GpuCounts,
  };
  return installed;
}

/** A snapshot of the running counts (pass it to `since`). */
export const snapshot = (w: NodeWebGpu): GpuCounts => ({ ...w.counts });
