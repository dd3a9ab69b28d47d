// The runtime's CUDA executor: JIT-loads the artifact's PTX module, allocates the arena as one block of device
// memory placed by the same plan the WASM executor uses, copies inputs in, launches kernels in order on the
// default stream with (buffer device pointers…, sizes…) and copies outputs back. The driver (and koffi) is
// only loaded when an executor is created, so importing this file never needs a GPU.
import { TesseraError } from '../../ir/errors.ts';
import type { KernelSignature } from '../artifact.ts';
import { evalSize } from '../plan.ts';
import type { ArenaPlan, KernelCall } from '../wasm/executor.ts';
import { cudaDriver, CudaError, type ArgBlock, type CudaDriver, type Handle } from './driver.ts';

export interface CudaExecutorOptions {
  /** Synchronize after every launch, so a fault names its kernel (default: TESSERA_CUDA_SYNC=1 in the environment). */
  syncEach?: boolean;
}

interface LoadedKernel {
  sig: KernelSignature;
  fn: Handle;
  args: ArgBlock;
}

/** One dispatch ready to launch: its arguments already in native memory, its geometry evaluated. */
interface Launch {
  kernel: string;
  fn: Handle;
  grid: number;
  block: number;
  shared: number;
  args: ArgBlock;
}

const MAX_GRID = 2 ** 31 - 1;
const fail = (reason: string): never => { throw new TesseraError(reason); };

export class CudaExecutor {
  private disposed = false;
  /** The launches derived from the last dispatch list run (a session passes the same array every run). */
  private prepared: { steps: KernelCall[]; launches: Launch[] } | undefined;

  private constructor(
    private readonly cu: CudaDriver,
    private readonly module: Handle,
    private readonly arena: bigint,
    private readonly kernels: Map<string, LoadedKernel>,
    readonly plan: ArenaPlan,
    private readonly syncEach: boolean,
  ) {}

  static async create(ptx: Uint8Array, plan: ArenaPlan, kernels: readonly KernelSignature[], opts: CudaExecutorOptions = {}): Promise<CudaExecutor> {
    for (const [name, r] of Object.entries(plan.buffers)) {
      if (r.byteOffset + r.byteLength > plan.bytes) fail(`buffer '${name}' [${r.byteOffset}, +${r.byteLength}) lies outside the ${plan.bytes}-byte arena`);
    }
    const cu = await cudaDriver();
    const module = cu.loadModule(ptx);
    const loaded = new Map<string, LoadedKernel>();
    let arena = 0n;
    try {
      for (const sig of kernels) {
        loaded.set(sig.name, { sig, fn: cu.getFunction(module, sig.name), args: cu.argBlock(sig.buffers.length + sig.sizes.length) });
      }
      arena = cu.alloc(plan.bytes);
    } catch (e) {
      for (const k of loaded.values()) k.args.dispose();
      cu.unloadModule(module);
      throw e;
    }
    const env = typeof process !== 'undefined' ? process.env?.TESSERA_CUDA_SYNC : undefined;
    return new CudaExecutor(cu, module, arena, loaded, plan, opts.syncEach ?? env === '1');
  }

  private live(): void {
    if (this.disposed) fail('the CUDA executor was disposed');
  }

  private region(name: string) {
    return this.plan.buffers[name] ?? fail(`no buffer '${name}' in the arena plan`);
  }

  /** Copies data (any typed array) into a buffer; it must fit. */
  write(name: string, data: ArrayBufferView): void {
    this.live();
    const r = this.region(name);
    if (data.byteLength > r.byteLength) fail(`'${name}': ${data.byteLength} bytes do not fit its ${r.byteLength}`);
    this.cu.copyToDevice(this.arena + BigInt(r.byteOffset), data);
  }

  /** A copy of a buffer's bytes (waits for the launched kernels first). */
  bytes(name: string): Uint8Array {
    this.live();
    const r = this.region(name);
    const out = new Uint8Array(r.byteLength);
    this.cu.copyToHost(out, this.arena + BigInt(r.byteOffset));
    return out;
  }

  /** Copies a buffer out as the given typed array type. */
  read<T extends ArrayBufferView>(name: string, Ctor: { new (b: ArrayBuffer): T }): T {
    return new Ctor(this.bytes(name).buffer as ArrayBuffer);
  }

  /** Launches one kernel: grid and block from its signature's launch (one thread when it has none). */
  call(step: KernelCall): void {
    this.live();
    this.launch(this.bind(step, this.kernels.get(step.kernel)?.args));
  }

  /** Fills a kernel's argument block for one dispatch (a fresh block when `into` is not given) and evaluates its grid. */
  private bind(step: KernelCall, into?: ArgBlock): Launch {
    const k = this.kernels.get(step.kernel) ?? fail(`the module has no kernel '${step.kernel}'`);
    const { sig, fn } = k;
    if (step.buffers.length !== sig.buffers.length || step.sizes.length !== sig.sizes.length) {
      fail(`kernel '${step.kernel}' takes ${sig.buffers.length} buffers and ${sig.sizes.length} sizes, got ${step.buffers.length} and ${step.sizes.length}`);
    }
    const pointers = step.buffers.map((b) => this.arena + BigInt(this.region(b).byteOffset));
    const args = into ?? this.cu.argBlock(sig.buffers.length + sig.sizes.length);
    pointers.forEach((p, i) => args.setU64(i, p));
    const sizes: Record<string, number> = {};
    step.sizes.forEach((v, i) => {
      args.setU32(sig.buffers.length + i, v);
      sizes[sig.sizes[i]!] = v;
    });
    let grid = 1, block = 1, shared = 0;
    if (sig.launch) {
      grid = Math.min(Math.max(evalSize(sig.launch.grid, sizes), 1), MAX_GRID);
      block = sig.launch.block;
      shared = sig.launch.sharedBytes;
    }
    return { kernel: step.kernel, fn, grid, block, shared, args };
  }

  private launch(l: Launch): void {
    this.cu.launch(l.fn, l.kernel, l.grid, l.block, l.shared, l.args);
    if (this.syncEach) this.cu.synchronize(`after kernel '${l.kernel}'`);
  }

  /**
   * Launches kernels in order, then waits for them; a fault names the kernel when syncEach is set. The same
   * array run again reuses its argument blocks, so a repeated run costs one driver call per dispatch.
   */
  run(steps: KernelCall[]): void {
    this.live();
    if (this.prepared?.steps !== steps) {
      this.releasePrepared();
      const launches: Launch[] = [];
      try {
        for (const s of steps) launches.push(this.bind(s));
      } catch (e) {
        for (const l of launches) l.args.dispose();
        throw e;
      }
      this.prepared = { steps, launches };
    }
    for (const l of this.prepared.launches) this.launch(l);
    const last = steps.at(-1)?.kernel;
    this.cu.synchronize(last ? `after ${steps.length} kernels, the last '${last}'; set TESSERA_CUDA_SYNC=1 to name the failing one` : '');
  }

  private releasePrepared(): void {
    for (const l of this.prepared?.launches ?? []) l.args.dispose();
    this.prepared = undefined;
  }

  /** Frees the arena, the argument blocks and the module (the context stays for the next executor). */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const k of this.kernels.values()) k.args.dispose();
    this.releasePrepared();
    try {
      this.cu.free(this.arena);
      this.cu.unloadModule(this.module);
    } catch (e) {
      // After a sticky fault the context refuses everything; its memory goes when the process exits.
      if (!(e instanceof CudaError && e.sticky)) throw e;
    }
  }
}
