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
import { Tensor } from '../ir/tensor.ts';
import { loadArtifact, specializedTensor, type ArtifactFiles, type LoadedArtifact } from './artifact.ts';
import { evalSize, planArena, type ArenaLayout } from './plan.ts';
import { WasmExecutor, type KernelCall } from './wasm/executor.ts';

export type SessionBackend = 'wasm' | 'cuda';

export interface SessionOptions {
  backend: SessionBackend;
  /** WASM: 'auto' picks relaxed SIMD when the engine supports it correctly. */
  wasmVariant?: 'auto' | 'simd' | 'relaxed';
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

/** What a session needs of an executor (WasmExecutor, and CudaExecutor loaded on demand). */
interface ArenaExecutor {
  write(name: string, data: ArrayBufferView): void;
  bytes(name: string): Uint8Array;
  run(steps: KernelCall[]): void;
  dispose?(): void;
}

interface ShapeInstance {
  layout: ArenaLayout;
  executor: ArenaExecutor;
  /** The dispatches with this binding's sizes (the same array every run, so an executor may keep what it derived). */
  calls?: KernelCall[];
}

export class Session {
  /** One executor per distinct binding of the symbolic dimensions (each with its own arena plan). */
  private readonly instances = new Map<string, ShapeInstance>();

  /** Inputs compiled as constants (`--value`), by name: a feed may omit them, or must equal them. */
  private readonly specialized: Map<string, Tensor>;

  private constructor(private readonly artifact: LoadedArtifact, private readonly options: SessionOptions) {
    this.specialized = new Map((artifact.manifest.specialized ?? []).map((s) => [s.name, specializedTensor(s)]));
  }

  /** Loads and validates an artifact: a folder path (Node), a base URL (browsers), or its files. */
  static async create(source: string | ArtifactFiles, options: SessionOptions): Promise<Session> {
    if (options.backend !== 'wasm' && options.backend !== 'cuda') {
      throw new TesseraError(`backend '${String(options.backend)}' is not available in the runtime yet (available: wasm, cuda)`);
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
    return new Session(artifact, options);
  }

  /** Every input of the model, including those compiled as constants (see specializedInputs). */
  get inputNames(): string[] { return [...this.artifact.manifest.inputs.map((i) => i.name), ...this.specialized.keys()]; }
  /** The inputs whose values were fixed at compile time, with those values. */
  get specializedInputs(): ReadonlyMap<string, Tensor> { return this.specialized; }
  get outputNames(): string[] { return this.artifact.manifest.outputs.map((o) => o.name); }

  /** Binds symbols from the feeds' shapes, checking names, dtypes, ranks and static dimensions. */
  private bind(feeds: Record<string, Tensor>): Record<string, number> {
    const m = this.artifact.manifest;
    for (const name of Object.keys(feeds)) {
      const fixed = this.specialized.get(name);
      if (fixed) { checkSpecialized(name, fixed, feeds[name]!); continue; }
      if (!m.inputs.some((i) => i.name === name)) throw new TesseraError(`unknown input '${name}' (the model's inputs are ${this.inputNames.join(', ')})`);
    }
    const symbols: Record<string, number> = {};
    for (const s of m.symbols) {
      const t = feeds[s.from.input];
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
    const layout = planArena(m.buffers, symbols, m.dispatches.length);
    const executor: ArenaExecutor = this.options.backend === 'cuda'
      ? await (await import('./cuda/executor.ts')).CudaExecutor.create(this.artifact.code.ptx!, layout, m.kernels)
      : await WasmExecutor.create({ simd: this.artifact.code.simd!, relaxed: this.artifact.code['relaxed-simd'] },
        layout, { variant: this.options.wasmVariant ?? 'auto' });
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

  async run(feeds: Record<string, Tensor>): Promise<Record<string, Tensor>> {
    const symbols = this.bind(feeds);
    const inst = await this.instanceFor(symbols);
    const { executor } = inst;
    const m = this.artifact.manifest;
    for (const io of m.inputs) executor.write(io.buffer, toArenaBytes(feeds[io.name]!));
    const kernels = new Map(m.kernels.map((k) => [k.name, k]));
    inst.calls ??= m.dispatches.map((d) => {
      const k = kernels.get(d.kernel)!;
      return { kernel: d.kernel, buffers: k.buffers.map((p) => d.buffers[p]!), sizes: k.sizes.map((s) => evalSize(d.sizes[s]!, symbols)) };
    });
    executor.run(inst.calls);
    const out: Record<string, Tensor> = {};
    for (const io of m.outputs) {
      out[io.name] = fromArenaBytes(io.dtype, io.shape.map((d) => evalSize(d, symbols)), executor.bytes(io.buffer));
    }
    return out;
  }

  /** Releases every executor (device memory and modules for cuda); a later run creates them again. */
  dispose(): void {
    for (const inst of this.instances.values()) inst.executor.dispose?.();
    this.instances.clear();
  }
}
