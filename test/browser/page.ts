// The browser side of test/browser: bundled by bundle.ts into page.js, loaded by index.html. It imports the
// runtime as an app would, probes WebGPU (the adapter navigator.gpu gives, and one compute dispatch on it),
// and exposes to the test (globalThis.tesseraPage, driven by Playwright) the probe's result and a run of a
// compiled artifact served next to the page. Tensors cross the boundary as plain JSON ({ dtype, shape,
// data: number[] }); f32 values survive the trip exactly.
import { Session, Tensor, type SessionBackend } from '../../runtime/index.ts';
import type { DType } from '../../ir/dtype.ts';

export interface WireTensor { dtype: DType; shape: number[]; data: number[] }

export interface GpuProbe {
  adapter: boolean;
  /** adapter.info: vendor, architecture ('swiftshader' headless without a GPU), description. */
  info?: { vendor: string; architecture: string; description: string };
  /** A one-dispatch compute shader (x ↦ 2x over 64 floats) gave the right answer on the adapter's device. */
  compute?: boolean;
  reason?: string;
}

interface DomLike {
  document: { body: { append(...nodes: string[]): void } };
  navigator: Navigator;
}
const dom = globalThis as unknown as DomLike;

function log(line: string): void {
  console.log(line);
  dom.document.body.append(`${line}\n`);
}

async function probeGpu(): Promise<GpuProbe> {
  const gpu = dom.navigator.gpu;
  if (!gpu) return { adapter: false, reason: 'navigator.gpu is undefined (not a secure context, or WebGPU is disabled)' };
  const adapter = await gpu.requestAdapter();
  if (!adapter) return { adapter: false, reason: 'navigator.gpu.requestAdapter() returned null' };
  const { vendor, architecture, description } = adapter.info;
  const device = await adapter.requestDevice();
  try {
    const n = 64;
    const module = device.createShaderModule({
      code: `@group(0) @binding(0) var<storage, read_write> b: array<f32>;
        @compute @workgroup_size(64) fn main(@builtin(global_invocation_id) i: vec3u) { b[i.x] = 2.0 * b[i.x]; }`,
    });
    const pipeline = device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' } });
    const data = Float32Array.from({ length: n }, (_, i) => i - 7.5);
    const buf = device.createBuffer({ size: data.byteLength, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST });
    const read = device.createBuffer({ size: data.byteLength, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    device.queue.writeBuffer(buf, 0, data);
    const enc = device.createCommandEncoder();
    const pass = enc.beginComputePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries: [{ binding: 0, resource: { buffer: buf } }] }));
    pass.dispatchWorkgroups(1);
    pass.end();
    enc.copyBufferToBuffer(buf, 0, read, 0, data.byteLength);
    device.queue.submit([enc.finish()]);
    await read.mapAsync(GPUMapMode.READ);
    const got = new Float32Array(read.getMappedRange().slice(0));
    const compute = data.every((x, i) => got[i] === 2 * x);
    return { adapter: true, info: { vendor, architecture, description }, compute };
  } finally {
    device.destroy();
  }
}

async function run(base: string, backend: SessionBackend, feeds: Record<string, WireTensor>): Promise<Record<string, WireTensor>> {
  const session = await Session.create(base, { backend });
  const inputs: Record<string, Tensor> = {};
  for (const [name, t] of Object.entries(feeds)) inputs[name] = Tensor.from(t.dtype, t.shape, t.data);
  const t0 = performance.now();
  const outputs = await session.run(inputs);
  log(`${backend}: ${Object.keys(outputs).join(', ')} in ${(performance.now() - t0).toFixed(1)} ms`);
  session.dispose();
  const out: Record<string, WireTensor> = {};
  for (const [name, t] of Object.entries(outputs)) {
    out[name] = { dtype: t.dtype, shape: [...t.shape], data: Array.from(t.data as ArrayLike<number | bigint>, Number) };
  }
  return out;
}

// The page is ready once the probe has run and its line is printed: the test waits for tesseraPage.
const gpu = await probeGpu().catch((e: Error): GpuProbe => ({ adapter: false, reason: `probe failed: ${e.message}` }));
log(gpu.adapter
  ? `webgpu adapter: ${gpu.info!.vendor} ${gpu.info!.architecture} (compute shader ${gpu.compute ? 'ok' : 'WRONG'})`
  : `webgpu adapter: none (${gpu.reason})`);
const api = { gpu, run };
export type PageApi = typeof api;
(globalThis as unknown as { tesseraPage: PageApi }).tesseraPage = api;
