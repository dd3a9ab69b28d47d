// The "null device": executes a Program with the kernel-IR interpreter (ir/kernel/interpret.ts) on the
// CPU. It binds the symbols from the input shapes, allocates every buffer, runs the dispatches in order
// and reads the outputs — the oracle path that tests the lowering without any real backend.
import { allocData } from '../../ir/dtype.ts';
import { TesseraError } from '../../ir/errors.ts';
import { allocBuffer, evalExpr, interpretKernel, type BufferData } from '../../ir/kernel/interpret.ts';
import type { Kernel } from '../../ir/kernel/ir.ts';
import type { Program } from '../../ir/kernel/program.ts';
import { verifyKernel } from '../../ir/kernel/verify.ts';
import { Tensor, type RuntimeValue } from '../../ir/tensor.ts';
import type { Model } from '../../ir/graph.ts';
import { decodeInto, isDataDependent } from './context.ts';
import { lower } from './lower.ts';
import { evalSize } from './memory.ts';
import { specializer } from './specialize.ts';

export interface NullDeviceOptions {
  /** Wall-clock limit per run in ms, checked between dispatches. */
  deadlineMs?: number;
  /** Most loop iterations one dispatch may run (default 2e9). */
  maxIterations?: number;
}

/** Binds each symbol from the input it comes from; checks every input against the program's shapes. */
export function bindSymbols(p: Program, feeds: Record<string, RuntimeValue>): Record<string, number> {
  const known = new Set(p.inputs.map((i) => i.name));
  for (const name of Object.keys(feeds)) {
    if (!known.has(name)) throw new TesseraError(`unknown input '${name}' (the program's inputs are ${p.inputs.map((i) => i.name).join(', ') || 'none'})`);
  }
  const tensors: Record<string, Tensor> = {};
  for (const io of p.inputs) {
    const x = feeds[io.name];
    if (x === undefined) throw new TesseraError(`input '${io.name}' is missing`);
    if (x.kind !== 'tensor') throw new TesseraError(`input '${io.name}' must be a tensor, got a ${x.kind}`);
    if (x.dtype !== io.dtype) throw new TesseraError(`input '${io.name}' must have dtype ${io.dtype}, got ${x.dtype}`);
    if (x.rank !== io.shape.length) throw new TesseraError(`input '${io.name}' must have rank ${io.shape.length}, got shape [${x.shape.join(',')}]`);
    tensors[io.name] = x;
  }
  const sym: Record<string, number> = {};
  for (const s of p.symbols) sym[s.name] = tensors[s.from.input]!.shape[s.from.axis]!;
  for (const io of p.inputs) {
    const x = tensors[io.name]!;
    io.shape.forEach((e, i) => {
      const want = Number(evalExpr(e, sym));
      if (x.shape[i] !== want) {
        throw new TesseraError(`input '${io.name}' has shape [${x.shape.join(',')}], but dimension ${i} must be ${want} (shape [${io.shape.map((d) => Number(evalExpr(d, sym))).join(',')}])`);
      }
    });
  }
  return sym;
}

/** Runs a program on the CPU through the kernel-IR interpreter. */
export class NullDevice {
  private readonly kernels = new Map<string, Kernel>();
  private readonly weights = new Map<string, BufferData>();

  constructor(readonly program: Program, private readonly opts: NullDeviceOptions = {}) {
    for (const k of program.kernels) {
      verifyKernel(k);
      this.kernels.set(k.name, k);
    }
    for (const b of program.buffers) {
      if (b.kind !== 'weight') continue;
      if (!b.weight) throw new TesseraError(`weight buffer '${b.name}' has no bytes in the blob`);
      const n = evalSize(b.size, {});
      const data = allocBuffer(b.elem, n);
      decodeInto(program.weights.subarray(b.weight.offset, b.weight.offset + b.weight.byteLength), b.elem, data as never, n);
      this.weights.set(b.name, data);
    }
  }

  run(feeds: Record<string, RuntimeValue>): Record<string, Tensor> {
    const p = this.program;
    const deadline = this.opts.deadlineMs ? Date.now() + this.opts.deadlineMs : Infinity;
    const sym = bindSymbols(p, feeds);
    const store = new Map<string, BufferData>();
    for (const b of p.buffers) {
      if (b.kind === 'weight') { store.set(b.name, this.weights.get(b.name)!); continue; }
      if (b.aliasOf !== undefined) continue;
      const n = evalSize(b.size, sym);
      if (b.kind === 'input') {
        const x = feeds[b.value!] as Tensor;
        if (x.size !== n) throw new TesseraError(`input '${b.value}' has ${x.size} elements, the program expects ${n}`);
        store.set(b.name, x.data as BufferData);
      } else {
        store.set(b.name, allocBuffer(b.elem, n));
      }
    }
    for (const b of p.buffers) if (b.aliasOf !== undefined) store.set(b.name, store.get(b.aliasOf)!);
    for (const d of p.dispatches) {
      if (Date.now() > deadline) throw new TesseraError(`run exceeded its time limit of ${this.opts.deadlineMs} ms (at kernel '${d.kernel}')`);
      const k = this.kernels.get(d.kernel);
      if (!k) throw new TesseraError(`dispatch of unknown kernel '${d.kernel}'`);
      const buffers: Record<string, BufferData> = {};
      for (const [param, name] of Object.entries(d.buffers)) {
        const data = store.get(name);
        if (!data) throw new TesseraError(`kernel '${k.name}': program buffer '${name}' does not exist`);
        buffers[param] = data;
      }
      const sizes: Record<string, number> = {};
      for (const [name, e] of Object.entries(d.sizes)) sizes[name] = Number(evalExpr(e, sym));
      interpretKernel(k, { buffers, sizes, verified: true, maxIterations: this.opts.maxIterations ?? 2e9 });
    }
    const out: Record<string, Tensor> = {};
    for (const io of p.outputs) {
      const shape = io.shape.map((e) => Number(evalExpr(e, sym)));
      const data = store.get(io.buffer)!;
      const n = shape.reduce((a, b) => a * b, 1);
      const copy = allocData(io.dtype, n);
      (copy as unknown as { set(a: ArrayLike<unknown>): void }).set((data as unknown as { subarray(a: number, b: number): ArrayLike<unknown> }).subarray(0, n));
      out[io.name] = new Tensor(io.dtype, shape, copy);
    }
    return out;
  }
}

/** Runs a program once (see NullDevice). */
export function runProgram(p: Program, feeds: Record<string, RuntimeValue>, opts: NullDeviceOptions = {}): Record<string, Tensor> {
  return new NullDevice(p, opts).run(feeds);
}

export interface KernelRunnerOptions extends NullDeviceOptions {
  shapes?: Map<string, number[]>;
}

/**
 * Compiles a model for the null device. When an output shape depends on the value of an input (a
 * Reshape target, Slice bounds, axes given as inputs), the program is compiled at the first run instead,
 * specialized on the values of the inputs that are such shape-deciding operands and on the shapes of the
 * others (one program per distinct value and shape set) — what `--shape` is for dimensions, applied to
 * values (see specialize.ts; the wasm target does the same in the driver, and takes them as compile options).
 */
export function kernelRunner(model: Model, opts: KernelRunnerOptions = {}): { run(feeds: Record<string, RuntimeValue>): Record<string, Tensor> } {
  try {
    const device = new NullDevice(lower(model, { shapes: opts.shapes }), opts);
    return { run: (feeds) => device.run(feeds) };
  } catch (e) {
    if (!isDataDependent(e)) throw e;
    const specialize = specializer(model, opts.shapes);
    const cache = new Map<string, NullDevice>();
    return {
      run: (feeds) => {
        const { key, values, shapes, rest } = specialize(feeds);
        let device = cache.get(key);
        if (!device) {
          device = new NullDevice(lower(model, { shapes, values }), opts);
          cache.set(key, device);
        }
        return device.run(rest);
      },
    };
  }
}
