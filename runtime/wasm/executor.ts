// The runtime's WASM executor: instantiates a compiled module with an imported memory (the arena), places
// buffers by a plan, copies inputs in, calls kernels in order with (buffer byte offsets…, sizes…), and reads
// outputs. It imports nothing from the compiler or backends, so an app that embeds the runtime stays small.
import { TesseraError } from '../../ir/errors.ts';

/** Where each named buffer lives in the arena (byte offsets; 16-byte alignment recommended for SIMD). */
export interface ArenaPlan {
  bytes: number;
  buffers: Record<string, { byteOffset: number; byteLength: number }>;
}
/** One kernel call: arena buffers bound to the kernel's buffer params in order, then its size params. */
export interface KernelCall {
  kernel: string;
  buffers: string[];
  sizes: number[];
}
/** The two variants a compiler emits; `relaxed` is optional. */
export interface WasmCode {
  simd: Uint8Array;
  relaxed?: Uint8Array;
}
export interface ExecutorOptions {
  /** 'auto' (default) picks relaxed SIMD when the engine runs every relaxed instruction the module uses correctly. */
  variant?: 'auto' | 'simd' | 'relaxed';
  /** A SharedArrayBuffer-backed memory, for modules built with threads. */
  shared?: boolean;
}

// The WebAssembly JS API, typed here (the project's TypeScript lib has no DOM/wasm declarations).
interface WasmMemory { readonly buffer: ArrayBuffer; grow(pages: number): number }
interface WasmInstance { readonly exports: Record<string, unknown> }
interface WasmApi {
  Memory: new (d: { initial: number; maximum?: number; shared?: boolean }) => WasmMemory;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports?: object) => WasmInstance;
  instantiate(bytes: Uint8Array, imports: object): Promise<{ instance: WasmInstance }>;
}
const WA = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

const PAGE = 65536;
const fail = (reason: string): never => { throw new TesseraError(reason); };

// A probe module (built once with binaryen; test/wasm checks these bytes): m(a,b,c) = f32x4.relaxed_madd lane 0,
// d(a,b,c) = i32x4.relaxed_dot_i8x16_i7x16_add_s lane 0 on splatted words.
const PROBE = Uint8Array.of(0, 97, 115, 109, 1, 0, 0, 0, 1, 15, 2, 96, 3, 125, 125, 125, 1, 125, 96, 3, 127, 127, 127, 1, 127,
  3, 3, 2, 0, 1, 7, 9, 2, 1, 109, 0, 0, 1, 100, 0, 1, 10, 43, 2, 20, 0, 32, 0, 253, 19, 32, 1, 253, 19, 32, 2, 253, 19, 253,
  133, 2, 253, 31, 0, 11, 20, 0, 32, 0, 253, 17, 32, 1, 253, 17, 32, 2, 253, 17, 253, 147, 2, 253, 27, 0, 11);
export const RELAXED_PROBE: Uint8Array = PROBE;

export interface RelaxedSupport {
  /** f32x4.relaxed_madd (and the module as a whole) validates and computes a·b + c. */
  madd: boolean;
  /** i32x4.relaxed_dot_i8x16_i7x16_add_s adds its accumulator, even before the function is optimized. */
  dot: boolean;
}
let support: RelaxedSupport | undefined;
/**
 * What relaxed SIMD this engine runs correctly. Node 20 validates it only with --experimental-wasm-relaxed-simd,
 * and its baseline compiler gets relaxed_dot with an accumulator wrong (2·dot, accumulator ignored): the probe
 * runs that case on its first, unoptimized call, so such an engine reports dot: false.
 */
export function relaxedSimdSupport(): RelaxedSupport {
  if (!support) {
    try {
      const x = new WA.Instance(new WA.Module(PROBE)).exports as Record<string, (...a: number[]) => number>;
      support = { madd: x.m!(2, 3, 1) === 7, dot: x.d!(0x04030201, 0x01010101, 100) === 110 };
    } catch {
      support = { madd: false, dot: false };
    }
  }
  return support;
}
export const relaxedSimdUsable = (): boolean => { const s = relaxedSimdSupport(); return s.madd && s.dot; };

/** Whether a module's code holds i32x4.relaxed_dot_i8x16_i7x16_add_s (opcode 0xfd 0x113; conservative byte scan). */
export function usesRelaxedDot(bytes: Uint8Array): boolean {
  for (let i = 0; i + 2 < bytes.length; i++) if (bytes[i] === 0xfd && bytes[i + 1] === 0x93 && bytes[i + 2] === 0x02) return true;
  return false;
}

/** A simple sequential plan (each buffer 16-byte aligned), for tests and single-shot use. */
export function sequentialPlan(sizes: Record<string, number>): ArenaPlan {
  const buffers: ArenaPlan['buffers'] = {};
  let at = 0;
  for (const [name, byteLength] of Object.entries(sizes)) {
    buffers[name] = { byteOffset: at, byteLength };
    at += Math.ceil(byteLength / 16) * 16;
  }
  return { bytes: at, buffers };
}

export class WasmExecutor {
  private constructor(
    readonly memory: WasmMemory,
    private readonly exports: Record<string, unknown>,
    readonly plan: ArenaPlan,
    readonly variant: 'simd' | 'relaxed',
  ) {}

  static async create(code: WasmCode, plan: ArenaPlan, opts: ExecutorOptions = {}): Promise<WasmExecutor> {
    checkPlan(plan);
    const want = opts.variant ?? 'auto';
    const rs = relaxedSimdSupport();
    const relaxed = !!code.relaxed && (want === 'relaxed' || (want === 'auto' && rs.madd && (rs.dot || !usesRelaxedDot(code.relaxed))));
    if (want === 'relaxed' && !code.relaxed) fail('the artifact has no relaxed-SIMD variant');
    const pages = Math.max(1, Math.ceil(plan.bytes / PAGE));
    const memory = opts.shared
      ? new WA.Memory({ initial: pages, maximum: 65536, shared: true })
      : new WA.Memory({ initial: pages });
    let instance: WasmInstance;
    try {
      ({ instance } = await WA.instantiate(relaxed ? code.relaxed! : code.simd, { env: { memory } }));
    } catch (e) {
      return fail(`cannot instantiate the WASM module: ${(e as Error).message}`);
    }
    return new WasmExecutor(memory, instance.exports, plan, relaxed ? 'relaxed' : 'simd');
  }

  private region(name: string) {
    return this.plan.buffers[name] ?? fail(`no buffer '${name}' in the arena plan`);
  }
  /** Bytes of a buffer, viewing the arena (valid until the memory grows). */
  bytes(name: string): Uint8Array {
    const r = this.region(name);
    return new Uint8Array(this.memory.buffer, r.byteOffset, r.byteLength);
  }
  /** Copies data (any typed array) into a buffer; it must fit. */
  write(name: string, data: ArrayBufferView): void {
    const r = this.region(name);
    if (data.byteLength > r.byteLength) fail(`'${name}': ${data.byteLength} bytes do not fit its ${r.byteLength}`);
    this.bytes(name).set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  }
  /** Copies one buffer into another inside the arena (state carried between runs); sizes must match. */
  copy(from: string, to: string): void {
    const src = this.region(from), dst = this.region(to);
    if (src.byteLength !== dst.byteLength) fail(`cannot carry '${from}' (${src.byteLength} bytes) into '${to}' (${dst.byteLength} bytes)`);
    new Uint8Array(this.memory.buffer).copyWithin(dst.byteOffset, src.byteOffset, src.byteOffset + src.byteLength);
  }
  /** Copies a buffer out as the given typed array type. */
  read<T extends ArrayBufferView>(name: string, Ctor: { new (b: ArrayBuffer): T }): T {
    return new Ctor(this.bytes(name).slice().buffer);
  }
  /** Calls one kernel. */
  call(step: KernelCall): void {
    const f = this.exports[step.kernel];
    if (typeof f !== 'function') fail(`the module has no kernel '${step.kernel}'`);
    const args = [...step.buffers.map((b) => this.region(b).byteOffset), ...step.sizes];
    if ((f as () => void).length !== args.length) fail(`kernel '${step.kernel}' takes ${(f as () => void).length} arguments, got ${args.length}`);
    (f as (...a: number[]) => void)(...args);
  }
  /** Calls kernels in order. */
  run(steps: KernelCall[]): void {
    for (const s of steps) this.call(s);
  }
}

function checkPlan(plan: ArenaPlan): void {
  const ok = (n: number) => Number.isSafeInteger(n) && n >= 0;
  if (!ok(plan.bytes) || plan.bytes > 2 ** 32) fail(`invalid arena size ${plan.bytes}`);
  for (const [name, r] of Object.entries(plan.buffers)) {
    if (!ok(r.byteOffset) || !ok(r.byteLength) || r.byteOffset + r.byteLength > plan.bytes) {
      fail(`buffer '${name}' [${r.byteOffset}, +${r.byteLength}) lies outside the ${plan.bytes}-byte arena`);
    }
  }
}
