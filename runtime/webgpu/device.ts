// Where a WebGPU device comes from: the caller's GPUDevice, `navigator.gpu` in browsers, or dawn.node (npm
// `webgpu`, loaded only when needed) in Node. Node needs a Vulkan driver for dawn.node; on machines without a
// GPU the README commands point it at SwiftShader (scripts/webgpu-env.sh sets VK_ICD_FILENAMES).
import { TesseraError } from '../../ir/errors.ts';

let nodeGpu: Promise<GPU> | undefined;

async function loadNodeGpu(): Promise<GPU> {
  const name = 'webgpu'; // a variable, so browser bundlers leave the Node-only import alone
  let mod: { create(flags: string[]): GPU; globals: Record<string, unknown> };
  try {
    mod = await import(/* @vite-ignore */ name);
  } catch (e) {
    throw new TesseraError(`WebGPU is not available in this Node.js: the npm package 'webgpu' (dawn.node) could not be loaded (${(e as Error).message})`);
  }
  // dawn.node's classes (GPUBufferUsage, GPUMapMode, …) as globals, as in a browser.
  for (const [k, v] of Object.entries(mod.globals)) if (!(k in globalThis)) (globalThis as Record<string, unknown>)[k] = v;
  return mod.create([]);
}

/** The platform's WebGPU entry point: navigator.gpu in browsers (and Deno), dawn.node in Node. */
export async function webgpu(): Promise<GPU> {
  const nav = (globalThis as { navigator?: { gpu?: GPU } }).navigator;
  if (nav?.gpu) return nav.gpu;
  const isNode = typeof process !== 'undefined' && !!process.versions?.node;
  if (!isNode) throw new TesseraError('WebGPU is not available: navigator.gpu is undefined (in Chromium, serve the page from https or localhost; headless needs --enable-unsafe-webgpu)');
  nodeGpu ??= loadNodeGpu();
  return nodeGpu;
}

/**
 * A device with the adapter's largest buffer limits (the arena is one storage buffer). In Node without a
 * Vulkan driver the adapter request fails: the message says how to provide one.
 */
export async function requestDevice(): Promise<GPUDevice> {
  const gpu = await webgpu();
  const adapter = await gpu.requestAdapter();
  if (!adapter) {
    const hint = typeof process !== 'undefined' && process.versions?.node
      ? ' (dawn.node needs a Vulkan driver: set VK_ICD_FILENAMES, e.g. to SwiftShader from Debian\'s chromium-common — `source scripts/webgpu-env.sh` in a tessera checkout)'
      : '';
    throw new TesseraError(`no WebGPU adapter${hint}`);
  }
  const l = adapter.limits;
  const device = await adapter.requestDevice({
    requiredLimits: {
      maxBufferSize: l.maxBufferSize,
      maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
      maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
      maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
      maxComputeWorkgroupSizeX: l.maxComputeWorkgroupSizeX,
    },
  });
  return device;
}

let shared: Promise<GPUDevice> | undefined;

/** One device per process (or page), created on first use and replaced when it is lost. */
export async function defaultDevice(): Promise<GPUDevice> {
  if (!shared) {
    const p = requestDevice();
    shared = p;
    p.then((d) => d.lost.then(() => { if (shared === p) shared = undefined; }), () => { if (shared === p) shared = undefined; });
  }
  return shared;
}
