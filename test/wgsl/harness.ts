// A test-only WebGPU harness for one kernel emitted by backends/wgsl: lays the kernel's global buffers out in one
// arena per the ABI of runtime/webgpu/layout.ts (32-bit words, 64-bit integers as two, 16-byte aligned
// offsets), writes the parameter block, dispatches the launch grid folded into (x ≤ 65535, y) — or any other
// number of workgroups, since every kernel must be correct for any — and reads the buffers back in the kernel
// interpreter's storage (ir/kernel/interpret.ts), so results compare directly with interpretKernel.
// Independent of runtime/webgpu/executor.ts so the emitter can be checked on its own.
import { create, globals } from 'webgpu';
import type { Expr, Kernel, KScalar } from '../../ir/kernel/ir.ts';
import { allocBuffer, evalExpr, type BufferData } from '../../ir/kernel/interpret.ts';

let devicePromise: Promise<GPUDevice> | undefined;
/** dawn.node's GPU instance: kept referenced, since the device dies with it when it is garbage-collected. */
let instance: GPU | undefined;

/** One dawn.node device for the whole test file (`source scripts/webgpu-env.sh` points it at SwiftShader). */
export function gpuDevice(): Promise<GPUDevice> {
  devicePromise ??= (async () => {
    Object.assign(globalThis, globals);
    const gpu = (instance ??= create([]) as GPU);
    const adapter = await gpu.requestAdapter();
    if (!adapter) throw new Error('no WebGPU adapter (did you `source scripts/webgpu-env.sh`?)');
    return adapter.requestDevice();
  })();
  return devicePromise;
}

/** Why WebGPU cannot run here ('' when it can): test files skip with the reason, as the runtime's tests do. */
export async function webgpuUnavailable(): Promise<string> {
  try {
    await gpuDevice();
    return '';
  } catch (e) {
    devicePromise = undefined;
    return (e as Error).message;
  }
}

export interface CompiledShader { pipeline: GPUComputePipeline; layout: GPUBindGroupLayout }

/** Compiles a shader; throws with every message unless the compilation reports no error and no warning. */
export async function compileWgsl(device: GPUDevice, wgsl: string, label = 'kernel'): Promise<CompiledShader> {
  device.pushErrorScope('validation');
  const module = device.createShaderModule({ code: wgsl, label });
  const info = await module.getCompilationInfo();
  const messages = info.messages.map((m) => `${m.type} ${m.lineNum}:${m.linePos} ${m.message}`);
  const layout = device.createBindGroupLayout({
    entries: [
      { binding: 0, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'storage' } },
      { binding: 1, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'uniform' } },
    ],
  });
  let pipeline: GPUComputePipeline | undefined;
  if (!info.messages.some((m) => m.type === 'error')) {
    pipeline = device.createComputePipeline({
      label, layout: device.createPipelineLayout({ bindGroupLayouts: [layout] }), compute: { module, entryPoint: 'main' },
    });
  }
  const err = await device.popErrorScope();
  if (err) messages.push(`error ${err.message}`);
  if (messages.length || !pipeline) throw new Error(`shader '${label}' does not compile cleanly:\n${messages.join('\n')}\n--- wgsl ---\n${numbered(wgsl)}`);
  return { pipeline, layout };
}

export const numbered = (text: string) => text.split('\n').map((l, i) => `${String(i + 1).padStart(4)} ${l}`).join('\n');

const wordsPer = (e: KScalar) => (e === 'i64' || e === 'u64' ? 2 : 1);

/** Interpreter storage → arena words (layout.ts: narrow ints extended, f16/bf16 as f32 values, f64 rounded to f32). */
export function toArenaWords(e: KScalar, data: BufferData): Uint32Array {
  switch (e) {
    case 'i64': case 'u64': return new Uint32Array((data as BigInt64Array).slice().buffer);
    case 'i8': case 'i16': case 'i32': return new Uint32Array(Int32Array.from(data as Int32Array).buffer);
    case 'f16': case 'bf16': case 'f32': case 'f64': return new Uint32Array(Float32Array.from(data as Float32Array).buffer);
    default: return Uint32Array.from(data as Uint32Array);
  }
}

/** Arena words → interpreter storage of element type e (n elements). */
export function fromArenaWords(e: KScalar, words: Uint32Array, n: number): BufferData {
  const out = allocBuffer(e, n);
  const f32 = new Float32Array(words.buffer, words.byteOffset, words.length);
  const i32 = new Int32Array(words.buffer, words.byteOffset, words.length);
  for (let i = 0; i < n; i++) {
    switch (e) {
      case 'i64': (out as BigInt64Array)[i] = BigInt.asIntN(64, BigInt(words[2 * i]!) | (BigInt(words[2 * i + 1]!) << 32n)); break;
      case 'u64': (out as BigUint64Array)[i] = BigInt(words[2 * i]!) | (BigInt(words[2 * i + 1]!) << 32n); break;
      case 'f16': case 'bf16': case 'f32': case 'f64': (out as Float32Array)[i] = f32[i]!; break;
      case 'i8': case 'i16': case 'i32': (out as Int32Array)[i] = i32[i]!; break;
      default: (out as Uint32Array)[i] = words[i]!; break;
    }
  }
  return out;
}

export interface RunOptions {
  /** Workgroups to dispatch instead of the launch grid. */
  workgroups?: number;
}

/**
 * Runs an emitted kernel on the GPU over copies of `buffers` (interpreter storage; sizes of the global buffers
 * are evaluated from the kernel's size expressions) and returns the global buffers after the run.
 */
export async function runWgsl(k: Kernel, emitted: { wgsl: string; launch: { block: number; grid: Expr } },
  buffers: Record<string, BufferData>, sizes: Record<string, number>, opts: RunOptions = {}, compiled?: CompiledShader): Promise<Record<string, BufferData>> {
  const device = await gpuDevice();
  const shader = compiled ?? await compileWgsl(device, emitted.wgsl, k.name);
  const globalsOf = k.buffers.filter((b) => b.space === 'global');
  const counts = globalsOf.map((b) => Number(evalExpr(b.size, sizes)));
  const offsets: number[] = [];
  let words = 0;
  // Parameters bound to the same data (a program buffer passed twice) share one place in the arena.
  const placed = new Map<BufferData, number>();
  globalsOf.forEach((b, i) => {
    const data = buffers[b.name];
    const at = data ? placed.get(data) : undefined;
    if (at !== undefined) { offsets.push(at); return; }
    offsets.push(words);
    if (data) placed.set(data, words);
    words += Math.ceil((Math.max(counts[i]!, data ? data.length : 0) * wordsPer(b.elem)) / 4) * 4;
  });
  const arena = new Uint32Array(Math.max(4, words));
  globalsOf.forEach((b, i) => {
    const data = buffers[b.name];
    if (!data) throw new Error(`buffer '${b.name}' is not given`);
    arena.set(toArenaWords(b.elem, data), offsets[i]);
  });
  const params = new Uint32Array(Math.max(1, Math.ceil((globalsOf.length + k.sizes.length) / 4)) * 4);
  offsets.forEach((o, i) => { params[i] = o; });
  k.sizes.forEach((s, j) => { params[globalsOf.length + j] = sizes[s.name]! >>> 0; });

  const storage = device.createBuffer({ size: arena.byteLength, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST });
  const uniform = device.createBuffer({ size: params.byteLength, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
  const readback = device.createBuffer({ size: arena.byteLength, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  device.queue.writeBuffer(storage, 0, arena);
  device.queue.writeBuffer(uniform, 0, params);
  const group = device.createBindGroup({
    layout: shader.layout,
    entries: [{ binding: 0, resource: { buffer: storage } }, { binding: 1, resource: { buffer: uniform } }],
  });
  const grid = Math.max(1, opts.workgroups ?? Number(evalExpr(emitted.launch.grid, sizes)));
  const x = Math.min(grid, 65535), y = Math.ceil(grid / 65535);
  const enc = device.createCommandEncoder();
  const pass = enc.beginComputePass();
  pass.setPipeline(shader.pipeline);
  pass.setBindGroup(0, group);
  pass.dispatchWorkgroups(x, y);
  pass.end();
  enc.copyBufferToBuffer(storage, 0, readback, 0, arena.byteLength);
  device.queue.submit([enc.finish()]);
  await readback.mapAsync(GPUMapMode.READ);
  const out = new Uint32Array(readback.getMappedRange().slice(0));
  readback.unmap();
  storage.destroy(); uniform.destroy(); readback.destroy();
  const result: Record<string, BufferData> = {};
  globalsOf.forEach((b, i) => {
    result[b.name] = fromArenaWords(b.elem, out.subarray(offsets[i]!, offsets[i]! + counts[i]! * wordsPer(b.elem)), counts[i]!);
  });
  return result;
}
