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

/** Inputs of at most this many elements may be specialized on their values. */
const SPECIALIZE_LIMIT = 64;

/** Operand positions that decide an op's output shape or loop structure (its compile-time parameters). */
const SHAPE_OPERANDS: Record<string, number[]> = {
  Reshape: [1], Expand: [1], Tile: [1, 2], Slice: [1, 2, 3, 4], Squeeze: [1], Unsqueeze: [1], Pad: [1, 2, 3],
  ConstantOfShape: [0], Range: [0, 1, 2], Split: [1], OneHot: [1], Resize: [1, 2, 3], Upsample: [1], CumSum: [1],
  TopK: [1], Dropout: [1, 2], Trilu: [1], HannWindow: [0], HammingWindow: [0], BlackmanWindow: [0], MelWeightMatrix: [0, 1, 2, 3, 4], If: [0],
  ReduceSum: [1], ReduceMean: [1], ReduceMax: [1], ReduceMin: [1], ReduceProd: [1], ReduceL1: [1], ReduceL2: [1],
  ReduceLogSum: [1], ReduceLogSumExp: [1], ReduceSumSquare: [1],
};

/**
 * Graph inputs a shape-deciding operand depends on (directly, or through small computations such as
 * Cast/Sub/Concat on tensors of at most SPECIALIZE_LIMIT elements): the inputs value specialization binds.
 */
function shapeInputs(model: Model): Set<string> {
  const g = model.graph;
  const formal = new Set(g.inputs.filter((v) => !g.initializers.has(v)));
  const producer = new Map<object, (typeof g.nodes)[number]>();
  for (const node of g.nodes) for (const o of node.outputs) if (o) producer.set(o, node);
  const small = (v: (typeof g.inputs)[number]) => {
    const t = v.type;
    return t?.kind === 'tensor' && !!t.shape && t.shape.every((d) => typeof d === 'number') && (t.shape as number[]).reduce((a, b) => a * b, 1) <= SPECIALIZE_LIMIT;
  };
  const out = new Set<string>();
  const seen = new Set<object>();
  const visit = (v: (typeof g.inputs)[number] | null | undefined) => {
    if (!v || seen.has(v) || !small(v)) return;
    seen.add(v);
    if (formal.has(v)) { out.add(v.name); return; }
    const p = producer.get(v);
    if (p) for (const i of p.inputs) visit(i);
  };
  for (const node of g.nodes) for (const i of SHAPE_OPERANDS[node.op] ?? []) visit(node.inputs[i]);
  return out;
}

export interface KernelRunnerOptions extends NullDeviceOptions {
  shapes?: Map<string, number[]>;
}

/**
 * Compiles a model for the null device. When an output shape depends on the value of an input (a
 * Reshape target, Slice bounds, axes given as inputs), the program is compiled at the first run instead,
 * specialized on the values of the inputs that are such shape-deciding operands and on the shapes of the
 * others (one program per distinct value and shape set) — what `--shape` is for dimensions, applied to
 * values. (A real target would take these as compile options; the null device can defer compilation.)
 */
export function kernelRunner(model: Model, opts: KernelRunnerOptions = {}): { run(feeds: Record<string, RuntimeValue>): Record<string, Tensor> } {
  try {
    const device = new NullDevice(lower(model, { shapes: opts.shapes }), opts);
    return { run: (feeds) => device.run(feeds) };
  } catch (e) {
    if (!isDataDependent(e)) throw e;
    const names = shapeInputs(model);
    const candidates = model.graph.inputs.filter((v) => names.has(v.name));
    const cache = new Map<string, NullDevice>();
    return {
      run: (feeds) => {
        const values = new Map<string, Tensor>();
        for (const v of candidates) {
          const x = feeds[v.name];
          if (x?.kind === 'tensor' && x.size <= SPECIALIZE_LIMIT) values.set(v.name, x);
        }
        // The other inputs' shapes are bound too (as --shape would): a branch may depend on them.
        const shapes = new Map(opts.shapes ?? []);
        for (const [k, x] of Object.entries(feeds)) if (!values.has(k) && x.kind === 'tensor' && !shapes.has(k)) shapes.set(k, [...x.shape]);
        const key = JSON.stringify([[...shapes], ...[...values].map(([k, t]) => [k, t.dtype, t.shape, Array.from(t.data as ArrayLike<number | bigint>, String)])]);
        let device = cache.get(key);
        if (!device) {
          device = new NullDevice(lower(model, { shapes, values }), opts);
          cache.set(key, device);
        }
        const rest: Record<string, RuntimeValue> = {};
        for (const [k, x] of Object.entries(feeds)) if (!values.has(k)) rest[k] = x;
        return device.run(rest);
      },
    };
  }
}
