// The runtime's WebGPU executor, over any GPUDevice (navigator.gpu in browsers, dawn.node in Node). The arena
// is ONE storage buffer placed by the same kind of plan as the WASM and CUDA executors (elements widened to
// 32-bit words: runtime/webgpu/layout.ts); every kernel binds it whole plus its slice of one uniform buffer
// holding its buffers' word offsets and its sizes. Shader modules, pipelines, the uniform buffer and the bind
// groups are created once per executor (one per shape binding); an inference is one command encoder, one
// compute pass (every dispatch in order, then the state copies) and one submit, followed by a readback of
// the requested buffers only. Device errors (validation, out-of-memory, device lost) become TesseraErrors.
import { TesseraError } from '../../ir/errors.ts';
import type { KScalar } from '../../ir/kernel/ir.ts';
import type { KernelSignature } from '../artifact.ts';
import { evalSize } from '../plan.ts';
import type { ArenaPlan, KernelCall } from '../wasm/executor.ts';
import {
  ARENA_BINDING, checkParamWords, fromWords, MAX_WORKGROUPS_PER_DIM, PARAMS_BINDING, PARAMS_STRIDE, paramVec4s, toWords,
} from './layout.ts';

/** One compiled kernel: its signature (global buffers, sizes, launch) and its WGSL module. */
export interface WebGpuKernel {
  sig: KernelSignature;
  wgsl: string;
}

/** A message of getCompilationInfo(), kept for tests and diagnostics. */
export interface ShaderMessage {
  kernel: string;
  type: GPUCompilationMessageType;
  line: number;
  column: number;
  message: string;
}

/** The words of one dispatch's parameters, its geometry and bind group. */
interface Prepared {
  steps: KernelCall[];
  copies: readonly (readonly [string, string])[];
  uniform: GPUBuffer;
  passes: { pipeline: GPUComputePipeline; group: GPUBindGroup; x: number; y: number }[];
}

const fail = (reason: string): never => { throw new TesseraError(reason); };

// Copies n words from word offset src to word offset dst of the arena (state carried between runs).
const COPY_KERNEL = 'tessera_copy_words';
const COPY_WGSL = `@group(0) @binding(${ARENA_BINDING}) var<storage, read_write> arena: array<u32>;
@group(0) @binding(${PARAMS_BINDING}) var<uniform> P: array<vec4<u32>, 1>;
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let src = P[0].x;
  let dst = P[0].y;
  let n = P[0].z;
  let stride = nwg.x * 256u;
  for (var i = gid.x; i < n; i += stride) {
    arena[dst + i] = arena[src + i];
  }
}
`;
const COPY_WORKGROUPS_MAX = 256;

/**
 * Pipelines by shader text, per device: kernels with the same text (a template whose sizes come from the
 * parameter block; every executor of a session re-creating its kernels) compile once — on a CPU Vulkan
 * driver a pipeline takes up to seconds.
 */
const pipelineCache = new WeakMap<GPUDevice, Map<string, Promise<GPUComputePipeline>>>();
/** Every module compiled by this process: counted for the "no compiler messages" checks. */
export const shaderStats = { modules: 0, reused: 0, messages: [] as ShaderMessage[] };

/** Runs synchronous device calls inside validation and out-of-memory scopes; a captured error throws. */
async function errorScoped<T>(device: GPUDevice, what: string, f: () => T): Promise<T> {
  device.pushErrorScope('out-of-memory');
  device.pushErrorScope('validation');
  let value: T | undefined, thrown: unknown;
  try { value = f(); } catch (e) { thrown = e; }
  const [validation, oom] = [device.popErrorScope(), device.popErrorScope()];
  const [v, o] = await Promise.all([validation, oom]);
  if (thrown) throw thrown;
  if (o) fail(`${what}: the GPU is out of memory (${o.message})`);
  if (v) fail(`${what}: WebGPU validation error: ${v.message}`);
  return value as T;
}

export class WebGpuExecutor {
  private disposed = false;
  private lostReason: string | undefined;
  private prepared: Prepared | undefined;
  private staging: GPUBuffer | undefined;
  /** Dispatches of the last run (kernels plus state copies). */
  dispatchesPerRun = 0;

  private constructor(
    readonly device: GPUDevice,
    private readonly arena: GPUBuffer,
    private readonly pipelines: Map<string, { sig: KernelSignature; pipeline: GPUComputePipeline }>,
    private readonly copyPipeline: GPUComputePipeline,
    readonly plan: ArenaPlan,
    private readonly elems: Record<string, KScalar>,
    /** Every warning or info message the shader compiler gave (errors throw). */
    readonly messages: ShaderMessage[],
  ) {
    void device.lost.then((info) => { this.lostReason = `${info.reason}: ${info.message}`; });
  }

  /**
   * Compiles every kernel (a WGSL error names the kernel, line and column), allocates the arena and checks it
   * fits the device's limits. `elems` gives each arena buffer's element type (for the word layout).
   */
  static async create(device: GPUDevice, kernels: readonly WebGpuKernel[], plan: ArenaPlan, elems: Record<string, KScalar>): Promise<WebGpuExecutor> {
    const bytes = Math.max(16, Math.ceil(plan.bytes / 16) * 16);
    for (const [name, r] of Object.entries(plan.buffers)) {
      if (r.byteOffset % 16 !== 0) fail(`buffer '${name}' is placed at byte ${r.byteOffset}, not a multiple of 16`);
      if (r.byteOffset + r.byteLength > bytes) fail(`buffer '${name}' [${r.byteOffset}, +${r.byteLength}) lies outside the ${bytes}-byte arena`);
    }
    const lim = device.limits;
    const max = Math.min(lim.maxBufferSize, lim.maxStorageBufferBindingSize);
    if (bytes > max) {
      fail(`the model needs a ${bytes}-byte arena; this WebGPU device binds at most ${max} bytes as one storage buffer ` +
        `(maxBufferSize ${lim.maxBufferSize}, maxStorageBufferBindingSize ${lim.maxStorageBufferBindingSize})`);
    }
    const messages: ShaderMessage[] = [];
    let cache = pipelineCache.get(device);
    if (!cache) { cache = new Map(); pipelineCache.set(device, cache); }
    const cached = (name: string, code: string): Promise<GPUComputePipeline> => {
      let p = cache.get(code);
      if (p) { shaderStats.reused++; return p; }
      p = compile(name, code);
      cache.set(code, p);
      p.catch(() => cache.delete(code));
      return p;
    };
    const compile = async (name: string, code: string): Promise<GPUComputePipeline> => {
      // Scopes pushed and popped synchronously around the calls, so concurrent compiles never mix their errors.
      device.pushErrorScope('validation');
      const module = device.createShaderModule({ code, label: name });
      const pipeline = device.createComputePipelineAsync({ label: name, layout: 'auto', compute: { module, entryPoint: 'main' } });
      const scope = device.popErrorScope();
      pipeline.catch(() => undefined); // reported below, after the compiler's own messages
      const info = await module.getCompilationInfo();
      const errors: string[] = [];
      shaderStats.modules++;
      for (const m of info.messages) {
        if (m.type === 'error') errors.push(`${m.lineNum}:${m.linePos}: ${m.message}`);
        const msg = { kernel: name, type: m.type, line: m.lineNum, column: m.linePos, message: m.message };
        shaderStats.messages.push(msg);
        if (m.type !== 'error') messages.push(msg);
      }
      if (errors.length > 0) fail(`kernel '${name}': the WGSL does not compile: ${errors.slice(0, 5).join('; ')}`);
      const err = await scope;
      if (err) fail(`kernel '${name}': WebGPU validation error: ${err.message}`);
      try {
        return await pipeline;
      } catch (e) {
        return fail(`kernel '${name}': the pipeline could not be created: ${(e as Error).message}`);
      }
    };
    const pipelines = new Map<string, { sig: KernelSignature; pipeline: GPUComputePipeline }>();
    for (const k of kernels) {
      checkParamWords(k.sig.name, k.sig.buffers.length, k.sig.sizes.length);
      if (!k.sig.launch) fail(`kernel '${k.sig.name}' has no launch record`);
      const max = lim.maxComputeInvocationsPerWorkgroup;
      if (k.sig.launch!.block > max) fail(`kernel '${k.sig.name}' needs ${k.sig.launch!.block} invocations per workgroup; this device allows ${max}`);
    }
    // Pipelines compile concurrently (the driver may use several threads); identical texts once.
    const compiled = await Promise.all(kernels.map((k) => cached(k.sig.name, k.wgsl)));
    kernels.forEach((k, i) => pipelines.set(k.sig.name, { sig: k.sig, pipeline: compiled[i]! }));
    const copyPipeline = await cached(COPY_KERNEL, COPY_WGSL);
    const arena = await errorScoped(device, `allocating the ${bytes}-byte arena`, () => device.createBuffer({
      label: 'tessera arena', size: bytes, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
    }));
    return new WebGpuExecutor(device, arena, pipelines, copyPipeline, plan, elems, messages);
  }

  private live(): void {
    if (this.disposed) fail('the WebGPU executor was disposed');
    if (this.lostReason !== undefined) fail(`the WebGPU device was lost (${this.lostReason})`);
  }

  private region(name: string) {
    return this.plan.buffers[name] ?? fail(`no buffer '${name}' in the arena plan`);
  }

  private elem(name: string): KScalar {
    return this.elems[name] ?? fail(`no element type for buffer '${name}'`);
  }

  /** Copies a tensor's data (standard layout: f16/bf16 as 16-bit patterns) into a buffer; it must fit. */
  write(name: string, data: ArrayBufferView): void {
    this.live();
    const r = this.region(name);
    const words = toWords(this.elem(name), data);
    if (words.byteLength > r.byteLength) fail(`'${name}': ${words.byteLength} bytes do not fit its ${r.byteLength}`);
    if (words.byteLength > 0) this.device.queue.writeBuffer(this.arena, r.byteOffset, words.buffer, words.byteOffset, words.byteLength);
  }

  /** The uniform words, bind groups and workgroup counts of a dispatch list (built once per list). */
  private prepare(steps: KernelCall[], copies: readonly (readonly [string, string])[]): Prepared {
    if (this.prepared?.steps === steps && this.prepared.copies === copies) return this.prepared;
    this.prepared?.uniform.destroy();
    const n = steps.length + copies.length;
    const words = new Uint32Array(Math.max(1, n) * PARAMS_STRIDE / 4);
    const geometry: { pipeline: GPUComputePipeline; x: number; y: number; vec4s: number }[] = [];
    steps.forEach((step, i) => {
      const k = this.pipelines.get(step.kernel) ?? fail(`the artifact has no kernel '${step.kernel}'`);
      const { sig } = k;
      if (step.buffers.length !== sig.buffers.length || step.sizes.length !== sig.sizes.length) {
        fail(`kernel '${step.kernel}' takes ${sig.buffers.length} buffers and ${sig.sizes.length} sizes, got ${step.buffers.length} and ${step.sizes.length}`);
      }
      const base = i * PARAMS_STRIDE / 4;
      step.buffers.forEach((b, j) => { words[base + j] = this.region(b).byteOffset / 4; });
      const sizes: Record<string, number> = {};
      step.sizes.forEach((v, j) => {
        words[base + sig.buffers.length + j] = v >>> 0;
        sizes[sig.sizes[j]!] = v;
      });
      const groups = Math.max(1, evalSize(sig.launch!.grid, sizes));
      geometry.push({ pipeline: k.pipeline, ...fold(step.kernel, groups), vec4s: paramVec4s(sig.buffers.length, sig.sizes.length) });
    });
    copies.forEach(([from, to], c) => {
      const src = this.region(from), dst = this.region(to);
      if (this.elem(from) !== this.elem(to) || src.byteLength !== dst.byteLength) {
        fail(`cannot carry '${from}' (${this.elem(from)}, ${src.byteLength} bytes) into '${to}' (${this.elem(to)}, ${dst.byteLength} bytes)`);
      }
      const base = (steps.length + c) * PARAMS_STRIDE / 4;
      words.set([src.byteOffset / 4, dst.byteOffset / 4, src.byteLength / 4], base);
      geometry.push({ pipeline: this.copyPipeline, x: Math.min(COPY_WORKGROUPS_MAX, Math.max(1, Math.ceil(src.byteLength / 4 / 256))), y: 1, vec4s: 1 });
    });
    const uniform = this.device.createBuffer({ label: 'tessera params', size: words.byteLength, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
    this.device.queue.writeBuffer(uniform, 0, words);
    const passes = geometry.map((g, i) => ({
      pipeline: g.pipeline, x: g.x, y: g.y,
      group: this.device.createBindGroup({
        layout: g.pipeline.getBindGroupLayout(0),
        entries: [
          { binding: ARENA_BINDING, resource: { buffer: this.arena } },
          { binding: PARAMS_BINDING, resource: { buffer: uniform, offset: i * PARAMS_STRIDE, size: g.vec4s * 16 } },
        ],
      }),
    }));
    this.prepared = { steps, copies, uniform, passes };
    return this.prepared;
  }

  /**
   * Runs the dispatches in order in one compute pass, then the state copies (output → input buffers, same
   * pass), submits once and reads back the named buffers (standard layout bytes, in order). The same
   * `steps` and `copies` arrays run again reuse their bind groups.
   */
  async execute(steps: KernelCall[], read: readonly string[] = [], copies: readonly (readonly [string, string])[] = []): Promise<Uint8Array[]> {
    // One run at a time per executor (they share the readback buffer); callers may still fire concurrently.
    const run = this.tail.then(() => this.executeNow(steps, read, copies));
    this.tail = run.catch(() => undefined);
    return run;
  }

  private tail: Promise<unknown> = Promise.resolve();

  private async executeNow(steps: KernelCall[], read: readonly string[], copies: readonly (readonly [string, string])[]): Promise<Uint8Array[]> {
    this.live();
    const what = `running ${steps.length} kernels`;
    // Everything up to the submit is synchronous inside the error scopes (so concurrent work never mixes in).
    this.device.pushErrorScope('out-of-memory');
    this.device.pushErrorScope('validation');
    let staging: GPUBuffer | undefined;
    let regions: { byteOffset: number; byteLength: number }[] = [];
    let total = 0;
    let thrown: unknown;
    try {
      const enc = this.device.createCommandEncoder({ label: 'tessera inference' });
      // A pure readback (no dispatch, no copy) keeps the prepared bind groups of the last dispatch list.
      if (steps.length > 0 || copies.length > 0) {
        const p = this.prepare(steps, copies);
        const pass = enc.beginComputePass();
        for (const d of p.passes) {
          pass.setPipeline(d.pipeline);
          pass.setBindGroup(0, d.group);
          pass.dispatchWorkgroups(d.x, d.y);
        }
        pass.end();
        this.dispatchesPerRun = p.passes.length;
      }
      regions = read.map((n) => this.region(n));
      total = regions.reduce((s, r) => s + Math.ceil(r.byteLength / 4) * 4, 0);
      if (total > 0) {
        if (!this.staging || this.staging.size < total) {
          this.staging?.destroy();
          this.staging = this.device.createBuffer({ label: 'tessera readback', size: total, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
        }
        staging = this.staging;
        let off = 0;
        for (const r of regions) {
          const len = Math.ceil(r.byteLength / 4) * 4;
          if (len > 0) enc.copyBufferToBuffer(this.arena, r.byteOffset, staging, off, len);
          off += len;
        }
      }
      this.device.queue.submit([enc.finish()]);
    } catch (e) {
      thrown = e;
    }
    const validation = this.device.popErrorScope();
    const oom = this.device.popErrorScope();
    if (thrown) { await Promise.all([validation, oom]); throw thrown; }
    const [v, o] = await Promise.all([validation, oom]);
    if (o) fail(`${what}: the GPU is out of memory (${o.message})`);
    if (v) fail(`${what}: WebGPU validation error: ${v.message}`);
    if (!staging) {
      await this.device.queue.onSubmittedWorkDone();
      this.live();
      return read.map(() => new Uint8Array(0));
    }
    try {
      await staging.mapAsync(GPUMapMode.READ, 0, total);
    } catch (e) {
      this.live(); // a lost device says so
      throw e;
    }
    const all = new Uint32Array(staging.getMappedRange(0, total).slice(0));
    staging.unmap();
    let off = 0;
    return read.map((n, i) => {
      const len = regions[i]!.byteLength / 4;
      const out = fromWords(this.elem(n), all.subarray(off, off + len));
      off += Math.ceil(regions[i]!.byteLength / 4);
      return out;
    });
  }

  /** A copy of one buffer (standard layout). */
  async bytes(name: string): Promise<Uint8Array> {
    return (await this.execute([], [name]))[0]!;
  }

  /** Frees the arena and the other buffers (pipelines go with the device). */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.arena.destroy();
    this.prepared?.uniform.destroy();
    this.staging?.destroy();
    this.prepared = undefined;
  }
}

/** Workgroup count → (x ≤ 65535, y): every kernel is correct for any count ≥ the one asked (grid-stride). */
function fold(kernel: string, groups: number): { x: number; y: number } {
  if (groups <= MAX_WORKGROUPS_PER_DIM) return { x: groups, y: 1 };
  const y = Math.ceil(groups / MAX_WORKGROUPS_PER_DIM);
  if (y > MAX_WORKGROUPS_PER_DIM) fail(`kernel '${kernel}' asks for ${groups} workgroups, more than WebGPU can dispatch`);
  return { x: MAX_WORKGROUPS_PER_DIM, y };
}
