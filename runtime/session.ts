// The Session API (the shape users know from onnxruntime-web):
//   const session = await Session.create(artifactFolderOrFiles, { backend: 'wasm' });
//   const outputs = await session.run({ x: Tensor.from('f32', [1, 3, 48, 320], data) });
// It validates the artifact before running anything and every feed (names, dtype, rank, static dims,
// consistency of symbolic dims) before each run. State is explicit: a Session holds only the compiled
// program and per-shape executors.
import {
  bf16BitsToF32, f16BitsToF32, f32ToBf16Bits, f32ToF16Bits, type DType,
} from '../ir/dtype.ts';
import { TesseraError } from '../ir/errors.ts';
import type { Expr } from '../ir/kernel/ir.ts';
import { Tensor } from '../ir/tensor.ts';
import { loadArtifact, specializedTensor, type ArtifactFiles, type LoadedArtifact } from './artifact.ts';
import { evalSize, planArena, type ArenaLayout } from './plan.ts';
import { WasmExecutor, type KernelCall } from './wasm/executor.ts';

export type SessionBackend = 'wasm' | 'cuda' | 'webgpu';
export const SESSION_BACKENDS: readonly SessionBackend[] = ['wasm', 'webgpu', 'cuda'];

export interface SessionOptions {
  backend: SessionBackend;
  /** WASM: 'auto' picks relaxed SIMD when the engine supports it correctly. */
  wasmVariant?: 'auto' | 'simd' | 'relaxed';
  /** WebGPU: the device to run on (default: navigator.gpu's in browsers, dawn.node's in Node). */
  device?: GPUDevice;
}

export interface IoSignature {
  name: string;
  dtype: DType;
  shape: (number | string)[];
}

export interface RunOptions {
  /** Outputs to compute and read back (default: every output). */
  outputs?: string[];
  /**
   * State kept in the executor's memory between runs: output name → input name. After the kernels run,
   * each such output is copied into that input's buffer (on the device for webgpu; no host round trip), and
   * a later run may omit the input to use it. A carried input that was never fed nor carried holds zeros.
   */
  carry?: Record<string, string>;
}

/** Reads an artifact folder in Node (browsers pass the files or a base URL instead). */
async function readFolder(path: string): Promise<ArtifactFiles> {
  const fs = await import('node:fs/promises');
  const pathMod = await import('node:path');
  let names: string[];
  try { names = await fs.readdir(path); } catch (e) {
    throw new TesseraError(`cannot read artifact folder: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { file: path });
  }
  const files: ArtifactFiles = new Map();
  for (const n of names) files.set(n, new Uint8Array(await fs.readFile(pathMod.join(path, n))));
  return files;
}

/** Fetches the files an artifact's manifest names from a base URL (browsers). */
async function fetchArtifact(base: string): Promise<ArtifactFiles> {
  const url = (name: string) => new URL(name, base.endsWith('/') ? base : `${base}/`).toString();
  const get = async (name: string) => {
    const r = await fetch(url(name));
    if (!r.ok) throw new TesseraError(`cannot fetch ${url(name)}: HTTP ${r.status}`);
    return new Uint8Array(await r.arrayBuffer());
  };
  const files: ArtifactFiles = new Map([['manifest.json', await get('manifest.json')]]);
  const m = JSON.parse(new TextDecoder().decode(files.get('manifest.json'))) as { sha256?: Record<string, string> };
  for (const name of Object.keys(m.sha256 ?? {})) files.set(name, await get(name));
  return files;
}

function toArenaBytes(t: Tensor): ArrayBufferView {
  if (t.dtype === 'f16' || t.dtype === 'bf16') {
    const conv = t.dtype === 'f16' ? f32ToF16Bits : f32ToBf16Bits;
    return Uint16Array.from(t.data as Float32Array, conv);
  }
  if (t.dtype === 'string') throw new TesseraError('string tensors cannot be fed to a compiled model');
  return t.data as ArrayBufferView & Exclude<Tensor['data'], string[]>;
}

function fromArenaBytes(dtype: DType, shape: number[], bytes: Uint8Array): Tensor {
  const buf = bytes.slice().buffer;
  switch (dtype) {
    case 'f32': return new Tensor(dtype, shape, new Float32Array(buf));
    case 'f64': return new Tensor(dtype, shape, new Float64Array(buf));
    case 'i8': return new Tensor(dtype, shape, new Int8Array(buf));
    case 'u8': case 'bool': return new Tensor(dtype, shape, new Uint8Array(buf));
    case 'i16': return new Tensor(dtype, shape, new Int16Array(buf));
    case 'u16': return new Tensor(dtype, shape, new Uint16Array(buf));
    case 'i32': return new Tensor(dtype, shape, new Int32Array(buf));
    case 'u32': return new Tensor(dtype, shape, new Uint32Array(buf));
    case 'i64': return new Tensor(dtype, shape, new BigInt64Array(buf));
    case 'u64': return new Tensor(dtype, shape, new BigUint64Array(buf));
    case 'f16': return new Tensor(dtype, shape, Float32Array.from(new Uint16Array(buf), f16BitsToF32));
    case 'bf16': return new Tensor(dtype, shape, Float32Array.from(new Uint16Array(buf), bf16BitsToF32));
    case 'string': throw new TesseraError('string outputs are not supported by compiled models');
  }
}

const MAX_SHOWN = 16;

function showTensor(t: Tensor): string {
  const items = Array.from({ length: Math.min(t.size, MAX_SHOWN) }, (_, i) => String(t.data[i]));
  return `${t.dtype}[${t.shape.join(',')}] [${items.join(', ')}${t.size > MAX_SHOWN ? ', …' : ''}]`;
}

const sameElement = (a: unknown, b: unknown): boolean => a === b || (Number.isNaN(a) && Number.isNaN(b));

/** A feed for an input compiled as a constant must be that constant exactly. */
function checkSpecialized(name: string, want: Tensor, got: Tensor): void {
  const equal = (got as { kind?: string }).kind === 'tensor' && got.dtype === want.dtype && got.rank === want.rank
    && got.shape.every((d, i) => d === want.shape[i]) && got.size === want.size
    && Array.prototype.every.call(want.data, (x: unknown, i: number) => sameElement(x, got.data[i]));
  if (equal) return;
  const fed = (got as { kind?: string }).kind === 'tensor' ? showTensor(got) : 'a non-tensor value';
  throw new TesseraError(`input '${name}' was compiled as the constant ${showTensor(want)} but was fed ${fed}; ` +
    `recompile with --value ${name}=… to run other values (or omit this input)`);
}

/** What a session needs of an executor (WasmExecutor, and CudaExecutor / WebGpuExecutor loaded on demand). */
interface ArenaExecutor {
  write(name: string, data: ArrayBufferView): void;
  /** Runs the dispatches, then copies each [from, to] buffer, then returns copies of the `read` buffers. */
  execute(steps: KernelCall[], read: readonly string[], copies: readonly (readonly [string, string])[]): Uint8Array[] | Promise<Uint8Array[]>;
  dispose?(): void;
}

/** The CPU-side executors run, copy and read synchronously. */
function syncExecutor(ex: {
  write(n: string, d: ArrayBufferView): void; bytes(n: string): Uint8Array; run(s: KernelCall[]): void;
  copy?(from: string, to: string): void; dispose?(): void;
}): ArenaExecutor {
  return {
    write: (n, d) => ex.write(n, d),
    execute(steps, read, copies) {
      ex.run(steps);
      // wasm: within its memory; cuda: through the host (a device round trip, fine for small state).
      for (const [from, to] of copies) {
        if (ex.copy) ex.copy(from, to);
        else ex.write(to, ex.bytes(from).slice());
      }
      return read.map((n) => ex.bytes(n).slice());
    },
    dispose: () => ex.dispose?.(),
  };
}

interface ShapeInstance {
  layout: ArenaLayout;
  executor: ArenaExecutor;
  /** The dispatches with this binding's sizes (the same array every run, so an executor may keep what it derived). */
  calls?: KernelCall[];
  /** The state copies of the last run (the same array while they do not change). */
  copies?: { key: string; list: readonly (readonly [string, string])[] };
}

/** The WGSL module of every kernel, from the artifact's 'wgsl' code file (a JSON object: kernel name → text). */
function wgslKernels(a: LoadedArtifact): Record<string, string> {
  let table: unknown;
  try { table = JSON.parse(new TextDecoder().decode(a.code.wgsl)); } catch (e) {
    throw new TesseraError(`invalid artifact: the WGSL code file is not JSON (${(e as Error).message})`);
  }
  if (typeof table !== 'object' || table === null) throw new TesseraError('invalid artifact: the WGSL code file is not an object');
  const t = table as Record<string, unknown>;
  for (const k of a.manifest.kernels) {
    if (typeof t[k.name] !== 'string') throw new TesseraError(`invalid artifact: no WGSL for kernel '${k.name}'`);
    if (!k.launch) throw new TesseraError(`invalid artifact: kernel '${k.name}' has no launch record`);
  }
  return t as Record<string, string>;
}

const fail = (reason: string): never => { throw new TesseraError(reason); };

export class Session {
  /** One executor per distinct binding of the symbolic dimensions (each with its own arena plan). */
  private readonly instances = new Map<string, ShapeInstance>();

  /** Inputs compiled as constants (`--value`), by name: a feed may omit them, or must equal them. */
  private readonly specialized: Map<string, Tensor>;

  /** The executor of the last run and its symbol binding (what readInputs reads). */
  private last?: { inst: ShapeInstance; symbols: Record<string, number> };

  private constructor(private readonly artifact: LoadedArtifact, private readonly options: SessionOptions) {
    this.specialized = new Map((artifact.manifest.specialized ?? []).map((s) => [s.name, specializedTensor(s)]));
  }

  /** Loads and validates an artifact: a folder path (Node), a base URL (browsers), or its files. */
  static async create(source: string | ArtifactFiles, options: SessionOptions): Promise<Session> {
    if (!SESSION_BACKENDS.includes(options.backend)) {
      throw new TesseraError(`unknown backend '${String(options.backend)}' (available: ${SESSION_BACKENDS.join(', ')})`);
    }
    let files: ArtifactFiles;
    if (typeof source === 'string') {
      const isNode = typeof process !== 'undefined' && !!process.versions?.node && !/^https?:/.test(source);
      files = isNode ? await readFolder(source) : await fetchArtifact(source);
    } else files = source;
    const artifact = await loadArtifact(files);
    if (artifact.manifest.target !== options.backend) {
      throw new TesseraError(`the artifact targets ${artifact.manifest.target}; this session's backend is ${options.backend}`);
    }
    if (options.backend === 'wasm' && !artifact.code.simd) throw new TesseraError("invalid artifact: no 'simd' code variant");
    if (options.backend === 'cuda') {
      if (!artifact.code.ptx) throw new TesseraError("invalid artifact: no 'ptx' code");
      // Load the driver now, so a machine without one fails at create, not at the first run.
      await (await import('./cuda/driver.ts')).cudaDriver();
    }
    if (options.backend === 'webgpu') {
      if (!artifact.code.wgsl) throw new TesseraError("invalid artifact: no 'wgsl' code");
      wgslKernels(artifact); // validates the shader table now, not at the first run
      options = { ...options, device: options.device ?? await (await import('./webgpu/device.ts')).defaultDevice() };
    }
    return new Session(artifact, options);
  }

  /** Every input of the model, including those compiled as constants (see specializedInputs). */
  get inputNames(): string[] { return [...this.artifact.manifest.inputs.map((i) => i.name), ...this.specialized.keys()]; }
  /** The inputs whose values were fixed at compile time, with those values. */
  get specializedInputs(): ReadonlyMap<string, Tensor> { return this.specialized; }
  get outputNames(): string[] { return this.artifact.manifest.outputs.map((o) => o.name); }
  /** The dtype and shape of every compiled input and output (a symbolic dimension shows as its name). */
  get signature(): { inputs: IoSignature[]; outputs: IoSignature[] } {
    const sig = (io: { name: string; dtype: DType; shape: Expr[] }): IoSignature =>
      ({ name: io.name, dtype: io.dtype, shape: io.shape.map((d) => (d.kind === 'const' ? Number(d.value) : d.kind === 'var' ? d.name : '?')) });
    return { inputs: this.artifact.manifest.inputs.map(sig), outputs: this.artifact.manifest.outputs.map(sig) };
  }

  /** Binds symbols from the feeds' shapes, checking names, dtypes, ranks and static dimensions. */
  private bind(feeds: Record<string, Tensor>, carried: ReadonlySet<string> = new Set()): Record<string, number> {
    const m = this.artifact.manifest;
    for (const name of Object.keys(feeds)) {
      const fixed = this.specialized.get(name);
      if (fixed) { checkSpecialized(name, fixed, feeds[name]!); continue; }
      if (!m.inputs.some((i) => i.name === name)) throw new TesseraError(`unknown input '${name}' (the model's inputs are ${this.inputNames.join(', ')})`);
    }
    const symbols: Record<string, number> = {};
    for (const s of m.symbols) {
      const t = feeds[s.from.input];
      if (!t && carried.has(s.from.input)) continue;
      if (!t) throw new TesseraError(`input '${s.from.input}' is missing`);
      const d = t.shape[s.from.axis];
      if (d === undefined) throw new TesseraError(`input '${s.from.input}' has rank ${t.rank}, too small for dimension ${s.from.axis}`);
      if (symbols[s.name] !== undefined && symbols[s.name] !== d) {
        throw new TesseraError(`dimension '${s.name}' is ${symbols[s.name]} in one input and ${d} in '${s.from.input}'`);
      }
      symbols[s.name] = d;
    }
    for (const io of m.inputs) {
      const t = feeds[io.name];
      if (!t && carried.has(io.name)) continue;
      if (!t) throw new TesseraError(`input '${io.name}' is missing`);
      if (!(t instanceof Tensor) && (t as { kind?: string }).kind !== 'tensor') throw new TesseraError(`input '${io.name}' must be a Tensor`);
      if (t.dtype !== io.dtype) throw new TesseraError(`input '${io.name}' must have dtype ${io.dtype}, got ${t.dtype}`);
      const want = io.shape.map((d) => evalSize(d, symbols));
      if (t.rank !== want.length || t.shape.some((d, i) => d !== want[i])) {
        throw new TesseraError(`input '${io.name}' must have shape [${want.join(',')}], got [${t.shape.join(',')}]`);
      }
    }
    return symbols;
  }

  private async instanceFor(symbols: Record<string, number>): Promise<ShapeInstance> {
    const key = JSON.stringify(symbols);
    let inst = this.instances.get(key);
    if (inst) return inst;
    const m = this.artifact.manifest;
    let layout: ArenaLayout;
    let executor: ArenaExecutor;
    if (this.options.backend === 'webgpu') {
      const { WebGpuExecutor } = await import('./webgpu/executor.ts');
      const { webgpuElemBytes } = await import('./webgpu/layout.ts');
      layout = planArena(m.buffers, symbols, m.dispatches.length, webgpuElemBytes);
      const code = wgslKernels(this.artifact);
      const elems = Object.fromEntries(m.buffers.map((b) => [b.name, b.elem]));
      executor = await WebGpuExecutor.create(this.options.device!, m.kernels.map((sig) => ({ sig, wgsl: code[sig.name]! })), layout, elems);
    } else {
      layout = planArena(m.buffers, symbols, m.dispatches.length);
      executor = syncExecutor(this.options.backend === 'cuda'
        ? await (await import('./cuda/executor.ts')).CudaExecutor.create(this.artifact.code.ptx!, layout, m.kernels)
        : await WasmExecutor.create({ simd: this.artifact.code.simd!, relaxed: this.artifact.code['relaxed-simd'] },
          layout, { variant: this.options.wasmVariant ?? 'auto' }));
    }
    for (const b of m.buffers) {
      if (!b.weight) continue;
      executor.write(b.name, this.artifact.weights.subarray(b.weight.offset, b.weight.offset + b.weight.byteLength));
    }
    inst = { layout, executor };
    this.instances.set(key, inst);
    return inst;
  }

  /** Peak arena bytes and the lower bound (largest simultaneously-live set) for the given feeds' shapes. */
  async memoryReport(feeds: Record<string, Tensor>): Promise<{ arenaBytes: number; peakLiveBytes: number }> {
    const { layout } = await this.instanceFor(this.bind(feeds));
    return { arenaBytes: layout.bytes, peakLiveBytes: layout.peakLiveBytes };
  }

  async run(feeds: Record<string, Tensor>, opts: RunOptions = {}): Promise<Record<string, Tensor>> {
    const m = this.artifact.manifest;
    const byName = <T extends { name: string }>(list: T[], name: string, what: string): T =>
      list.find((x) => x.name === name) ?? fail(`unknown ${what} '${name}' (the model's ${what}s are ${list.map((x) => x.name).join(', ')})`);
    const wanted = (opts.outputs ?? m.outputs.map((o) => o.name)).map((n) => byName(m.outputs, n, 'output'));
    const copies = Object.entries(opts.carry ?? {}).map(([o, i]) => [byName(m.outputs, o, 'output').buffer, byName(m.inputs, i, 'input').buffer] as const);
    const carried = new Set(Object.values(opts.carry ?? {}));
    const symbols = this.bind(feeds, carried);
    const inst = await this.instanceFor(symbols);
    this.last = { inst, symbols };
    const { executor } = inst;
    for (const io of m.inputs) if (feeds[io.name]) executor.write(io.buffer, toArenaBytes(feeds[io.name]!));
    const kernels = new Map(m.kernels.map((k) => [k.name, k]));
    inst.calls ??= m.dispatches.map((d) => {
      const k = kernels.get(d.kernel)!;
      return { kernel: d.kernel, buffers: k.buffers.map((p) => d.buffers[p]!), sizes: k.sizes.map((s) => evalSize(d.sizes[s]!, symbols)) };
    });
    const key = JSON.stringify(copies);
    if (inst.copies?.key !== key) inst.copies = { key, list: copies };
    const bytes = await executor.execute(inst.calls, wanted.map((io) => io.buffer), inst.copies.list);
    const out: Record<string, Tensor> = {};
    wanted.forEach((io, i) => { out[io.name] = fromArenaBytes(io.dtype, io.shape.map((d) => evalSize(d, symbols)), bytes[i]!); });
    return out;
  }

  /**
   * The inputs as the executor holds them now — state carried by `run`'s `carry`, or the last feed — read
   * without running anything: what the next run uses when it omits them. Reads the executor of the last
   * run (before any run, that of a model without symbolic dimensions, whose inputs hold zeros).
   */
  async readInputs(names: readonly string[]): Promise<Record<string, Tensor>> {
    const m = this.artifact.manifest;
    const ios = names.map((n) => m.inputs.find((i) => i.name === n)
      ?? fail(`unknown input '${n}' (the model's inputs are ${m.inputs.map((i) => i.name).join(', ')})`));
    if (!this.last && m.symbols.length > 0) {
      fail(`no run yet: the symbolic dimensions ${m.symbols.map((s) => s.name).join(', ')} are bound by the first run`);
    }
    const { inst, symbols } = this.last ?? { inst: await this.instanceFor({}), symbols: {} };
    const bytes = await inst.executor.execute([], ios.map((io) => io.buffer), []);
    const out: Record<string, Tensor> = {};
    ios.forEach((io, i) => { out[io.name] = fromArenaBytes(io.dtype, io.shape.map((d) => evalSize(d, symbols)), bytes[i]!); });
    return out;
  }

  /** Releases every executor (device memory and modules for cuda); a later run creates them again. */
  dispose(): void {
    for (const inst of this.instances.values()) inst.executor.dispose?.();
    this.instances.clear();
    this.last = undefined;
  }
}
