// The state of one lowering: the Program under construction (symbols, buffers, kernels, dispatches,
// weights) and what is known about every graph value (its shape as index expressions, its buffer, or its
// value when it is known at compile time).
import { bf16BitsToF32, f16BitsToF32, f32ToBf16Bits, f32ToF16Bits, type DType } from '../../ir/dtype.ts';
import { TesseraError } from '../../ir/errors.ts';
import type { Node, Value } from '../../ir/graph.ts';
import { buffer as bufferParam, cast, kernel as makeKernel, store, type BufferRef } from '../../ir/kernel/build.ts';
import type { BufferParam, Expr, Kernel, KernelPattern, KScalar, Stmt } from '../../ir/kernel/ir.ts';
import type { Dispatch, Program, ProgramBuffer, ProgramBufferKind, SizeSymbol } from '../../ir/kernel/program.ts';
import { simplifyKernel } from '../../ir/kernel/simplify.ts';
import { verifyKernel } from '../../ir/kernel/verify.ts';
import type { Facts } from '../../ir/kernel/simplify.ts';
import type { Tensor } from '../../ir/tensor.ts';
import { constOf, exprVars, hoistForTarget, prod, simplifyIndex } from './index-math.ts';

/** What the lowering knows about one tensor value. */
export interface TensorRef {
  dtype: KScalar;
  /** Each dimension as an i32 expression over the size symbols. */
  shape: Expr[];
  /** The program buffer holding its elements (row-major, contiguous); absent until materialized. */
  buffer?: string;
  /** Its value when known at compile time (initializers, Constant, folded computations). */
  constant?: Tensor;
  /**
   * Its elements as i32 expressions over the symbols (small integer tensors computed from shapes, e.g.
   * Shape → Gather → Concat → Reshape), so shape arithmetic stays symbolic instead of data-dependent.
   */
  sym?: Expr[];
}

export const dataDependent = (op: string): TesseraError =>
  new TesseraError(`op ${op} with data-dependent output shape cannot be compiled ahead of time`);

/** Whether a lowering failed because an output shape depends on tensor data. */
export const isDataDependent = (e: unknown): boolean =>
  e instanceof TesseraError && e.reason.includes('data-dependent output shape');

export interface LowerOptions {
  /** Input name → concrete shape: binds that input's symbolic dimensions to constants (--shape). */
  shapes?: Map<string, number[]>;
  /**
   * Input name → its value, known at compile time: the input becomes a constant and is no longer an
   * input of the Program (value specialization, for inputs that decide shapes: Reshape targets, axes…).
   */
  values?: Map<string, Tensor>;
  /** The target named in "cannot be compiled for target X yet" messages. */
  target?: string;
  /** Run ir/kernel/simplify.ts over every kernel (default true). */
  simplify?: boolean;
  /** Run the kernel verifier on every kernel as it is built (default true). */
  verify?: boolean;
}

const sanitize = (s: string): string => {
  const t = s.replace(/[^A-Za-z0-9_]/g, '_');
  return /^[A-Za-z_]/.test(t) ? t : `_${t}`;
};

/** Builds one kernel: its buffer parameters bound to program buffers, fresh local names, the body. */
export class KernelBuilder {
  private readonly params: BufferParam[] = [];
  private readonly bindings: Record<string, string> = {};
  private readonly used = new Set<string>();

  constructor(private readonly L: Lowering, readonly name: string) {}

  /** A name not yet used in this kernel (loop variables, lets, locals, parameters). */
  fresh(hint: string): string {
    const base = sanitize(hint);
    let name = base;
    for (let i = 1; this.used.has(name) || this.L.isSymbol(name); i++) name = `${base}${i}`;
    this.used.add(name);
    return name;
  }

  private param(ref: TensorRef, hint: string, access: BufferParam['access']): BufferRef {
    const buf = this.L.bufferOf(ref);
    const name = this.fresh(hint);
    this.params.push(bufferParam(name, ref.dtype, prod(ref.shape), access));
    this.bindings[name] = buf;
    return { name, elem: ref.dtype };
  }

  input(ref: TensorRef, hint = 'x'): BufferRef { return this.param(ref, hint, 'read'); }
  output(ref: TensorRef, hint = 'y'): BufferRef { return this.param(ref, hint, 'write'); }
  /** A buffer this kernel reads and writes (in-place updates after a copy, e.g. Scatter). */
  inout(ref: TensorRef, hint = 'y'): BufferRef { return this.param(ref, hint, 'readwrite'); }

  /**
   * Finishes the kernel and appends its dispatch to the program (with what it computes, when recognized).
   * Loop-invariant index math is hoisted here, once for every op (see hoistInvariants).
   */
  finish(body: Stmt[], pattern?: KernelPattern): void {
    this.L.addKernel(this.name, this.params, this.bindings, hoistForTarget(this.L.target, body, (h) => this.fresh(h)), pattern);
  }
}

export class Lowering {
  readonly symbols: SizeSymbol[] = [];
  readonly buffers: ProgramBuffer[] = [];
  readonly kernels: Kernel[] = [];
  readonly dispatches: Dispatch[] = [];
  readonly values = new Map<Value, TensorRef>();
  /** The node being lowered (for error places and kernel names). */
  node: Node | undefined;
  facts: Facts = new Map();
  readonly target: string;
  private readonly bufferMap = new Map<string, ProgramBuffer>();
  private readonly symbolNames = new Set<string>();
  private readonly symbolOfDim = new Map<string, string>();
  private readonly weightChunks: Uint8Array[] = [];
  private weightBytes = 0;
  private readonly weightOf = new Map<object, string>();
  private kernelCount = 0;
  private readonly kernelByBody = new Map<string, Kernel>();

  constructor(readonly opts: LowerOptions) {
    this.target = opts.target ?? 'kernel';
  }

  // ---------------------------------------------------------------- symbols

  isSymbol(name: string): boolean { return this.symbolNames.has(name); }

  /** The symbol of a graph dimension name, created on first use. */
  symbol(dim: string, from: SizeSymbol['from']): Expr {
    let name = this.symbolOfDim.get(dim);
    if (name === undefined) {
      name = sanitize(dim);
      for (let i = 1; this.symbolNames.has(name); i++) name = `${sanitize(dim)}_${i}`;
      this.symbolNames.add(name);
      this.symbolOfDim.set(dim, name);
      this.symbols.push({ name, from });
    }
    this.facts = new Map([...this.symbolNames].map((n) => [n, { lo: 0n, hi: 2n ** 31n - 1n }]));
    return { kind: 'var', type: { elem: 'i32', lanes: 1 }, name };
  }

  /** Simplifies a shape-level expression. */
  dim(e: Expr): Expr { return simplifyIndex(e, this.facts); }

  /** Records the result of a node's output i (checked against the static shape inference found). */
  setOutput(node: Node, i: number, ref: TensorRef): void {
    const v = node.outputs[i];
    if (!v || v.name === '') return;
    const t = v.type;
    if (t?.kind === 'tensor') {
      if (t.dtype !== ref.dtype) throw new Error(`internal: lowering of output ${i} gives ${ref.dtype}, inference says ${t.dtype}`);
      if (t.shape) {
        const bad = t.shape.length !== ref.shape.length ||
          t.shape.some((d, k) => typeof d === 'number' && constOf(ref.shape[k]!) !== undefined && constOf(ref.shape[k]!) !== d);
        if (bad) {
          throw new Error(`internal: lowering of output ${i} gives shape [${ref.shape.map((d) => constOf(d) ?? '?').join(',')}], inference says [${t.shape.join(',')}]`);
        }
      }
    }
    this.values.set(v, ref);
  }

  // ---------------------------------------------------------------- buffers

  newBuffer(kind: ProgramBufferKind, elem: KScalar, shape: readonly Expr[], hint: string, value?: string): string {
    let name = sanitize(hint);
    for (let i = 1; this.bufferMap.has(name); i++) name = `${sanitize(hint)}_${i}`;
    const b: ProgramBuffer = { name, elem, size: this.dim(prod(shape)), kind };
    if (value !== undefined) b.value = value;
    this.buffers.push(b);
    this.bufferMap.set(name, b);
    return name;
  }

  buffer(name: string): ProgramBuffer {
    const b = this.bufferMap.get(name);
    if (!b) throw new Error(`internal: no program buffer '${name}'`);
    return b;
  }

  /** A fresh temp tensor of the given type and shape (its buffer is written by the next kernel). */
  temp(dtype: KScalar, shape: readonly Expr[], hint?: string): TensorRef {
    const s = shape.map((d) => this.dim(d));
    return { dtype, shape: s, buffer: this.newBuffer('temp', dtype, s, hint ?? this.hint()) };
  }

  private hint(): string {
    const v = this.node?.outputs.find((o) => o)?.name;
    return v ? `t_${v}` : 't';
  }

  /** The buffer holding a value's elements, materializing compile-time values (weights, symbolic ints). */
  bufferOf(ref: TensorRef): string {
    if (ref.buffer) return ref.buffer;
    if (ref.constant) {
      const known = this.weightOf.get(ref.constant.data);
      if (known) return (ref.buffer = known);
      const name = this.addWeight(ref.constant, ref.dtype, ref.shape, this.hint().replace(/^t_/, 'w_'));
      this.weightOf.set(ref.constant.data, name);
      return (ref.buffer = name);
    }
    if (ref.sym) {
      const out = this.temp(ref.dtype, ref.shape);
      const kb = this.kernel('materialize');
      const y = kb.output(out);
      kb.finish(ref.sym.map((e, i) => store(y, i, ref.dtype === 'i32' ? e : cast(ref.dtype, e))));
      return (ref.buffer = out.buffer!);
    }
    throw new Error('internal: a tensor without buffer, constant or symbolic value');
  }

  addWeight(t: Tensor, elem: KScalar, shape: readonly Expr[], hint: string): string {
    const bytes = encodeTensor(t, elem);
    const pad = (16 - (this.weightBytes % 16)) % 16;
    if (pad) { this.weightChunks.push(new Uint8Array(pad)); this.weightBytes += pad; }
    const name = this.newBuffer('weight', elem, shape, hint);
    this.buffer(name).weight = { offset: this.weightBytes, byteLength: bytes.length };
    this.weightChunks.push(bytes);
    this.weightBytes += bytes.length;
    return name;
  }

  // ---------------------------------------------------------------- kernels

  kernel(hint?: string): KernelBuilder {
    const op = hint ?? this.node?.op ?? 'kernel';
    return new KernelBuilder(this, `${sanitize(op)}_${this.kernelCount++}`);
  }

  addKernel(name: string, params: BufferParam[], bindings: Record<string, string>, body: Stmt[], pattern?: KernelPattern): void {
    const symbolsUsed = new Set<string>();
    const scan = (e: Expr) => { for (const n of exprVars(e)) if (this.symbolNames.has(n)) symbolsUsed.add(n); };
    for (const p of params) scan(p.size);
    scanStmts(body, scan);
    const sizes = this.symbols.map((s) => s.name).filter((n) => symbolsUsed.has(n));
    let k = makeKernel(name, { buffers: params, sizes, body, pattern });
    if (this.opts.verify !== false) verifyKernel(k);
    if (this.opts.simplify !== false) {
      try {
        const s = simplifyKernel(k);
        verifyKernel(s);
        k = s;
      } catch {
        // The simplifier is an optimization: a kernel it cannot handle stays as built.
      }
    }
    // Structurally identical kernels (the same op on the same shapes) are emitted once and dispatched twice.
    const key = JSON.stringify([k.buffers, k.sizes, k.body, k.pattern ?? null], (_, x) => (typeof x === 'bigint' ? `${x}n` : x));
    const same = this.kernelByBody.get(key);
    if (same) k = same;
    else {
      this.kernelByBody.set(key, k);
      this.kernels.push(k);
    }
    const dsizes: Record<string, Expr> = {};
    for (const n of k.sizes.map((s) => s.name)) dsizes[n] = { kind: 'var', type: { elem: 'i32', lanes: 1 }, name: n };
    this.dispatches.push({ kernel: k.name, buffers: bindings, sizes: dsizes });
  }

  // ---------------------------------------------------------------- the program

  weights(): Uint8Array {
    const out = new Uint8Array(this.weightBytes);
    let at = 0;
    for (const ch of this.weightChunks) { out.set(ch, at); at += ch.length; }
    return out;
  }

  program(inputs: Program['inputs'], outputs: Program['outputs']): Program {
    return {
      symbols: this.symbols,
      inputs, outputs, buffers: this.buffers, kernels: this.kernels, dispatches: this.dispatches, weights: this.weights(),
    };
  }
}

export function scanStmts(stmts: Stmt[], f: (e: Expr) => void): void {
  for (const s of stmts) {
    switch (s.kind) {
      case 'let': f(s.value); break;
      case 'local': f(s.init); break;
      case 'assign': f(s.value); break;
      case 'store': f(s.index); f(s.value); break;
      case 'loop': f(s.start); f(s.end); scanStmts(s.body, f); break;
      case 'if': f(s.cond); scanStmts(s.then, f); scanStmts(s.else, f); break;
      case 'atomic': f(s.index); f(s.value); break;
      default: break;
    }
  }
}

/** The little-endian bytes of a tensor stored as `elem` (f16/bf16 as their bit patterns, bool as bytes). */
export function encodeTensor(t: Tensor, elem: KScalar): Uint8Array {
  const n = t.size;
  const src = t.data as ArrayLike<number | bigint>;
  const bytesPer = elem === 'bool' || elem === 'i8' || elem === 'u8' ? 1 : elem === 'i16' || elem === 'u16' || elem === 'f16' || elem === 'bf16' ? 2
    : elem === 'i64' || elem === 'u64' || elem === 'f64' ? 8 : 4;
  const out = new Uint8Array(n * bytesPer);
  const dv = new DataView(out.buffer);
  for (let i = 0; i < n; i++) {
    const x = src[i]!;
    const at = i * bytesPer;
    switch (elem) {
      case 'bool': dv.setUint8(at, x ? 1 : 0); break;
      case 'i8': case 'u8': dv.setUint8(at, Number(x) & 0xff); break;
      case 'i16': case 'u16': dv.setUint16(at, Number(x) & 0xffff, true); break;
      case 'i32': case 'u32': dv.setUint32(at, Number(x) >>> 0, true); break;
      case 'i64': case 'u64': dv.setBigUint64(at, BigInt.asUintN(64, BigInt(x)), true); break;
      case 'f16': dv.setUint16(at, f32ToF16Bits(Number(x)), true); break;
      case 'bf16': dv.setUint16(at, f32ToBf16Bits(Number(x)), true); break;
      case 'f32': dv.setFloat32(at, Number(x), true); break;
      case 'f64': dv.setFloat64(at, Number(x), true); break;
    }
  }
  return out;
}

/** Reads `n` elements of `elem` from little-endian bytes into interpreter storage (ir/dtype.ts). */
export function decodeInto(bytes: Uint8Array, elem: KScalar, out: ArrayLike<number | bigint> & { [i: number]: number | bigint }, n: number): void {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < n; i++) {
    switch (elem) {
      case 'bool': case 'u8': out[i] = dv.getUint8(i); break;
      case 'i8': out[i] = dv.getInt8(i); break;
      case 'i16': out[i] = dv.getInt16(i * 2, true); break;
      case 'u16': out[i] = dv.getUint16(i * 2, true); break;
      case 'i32': out[i] = dv.getInt32(i * 4, true); break;
      case 'u32': out[i] = dv.getUint32(i * 4, true); break;
      case 'i64': out[i] = dv.getBigInt64(i * 8, true); break;
      case 'u64': out[i] = dv.getBigUint64(i * 8, true); break;
      case 'f16': out[i] = f16BitsToF32(dv.getUint16(i * 2, true)); break;
      case 'bf16': out[i] = bf16BitsToF32(dv.getUint16(i * 2, true)); break;
      case 'f32': out[i] = dv.getFloat32(i * 4, true); break;
      case 'f64': out[i] = dv.getFloat64(i * 8, true); break;
    }
  }
}

/** The dtype of a tensor as a kernel element type (strings have none). */
export function kscalar(d: DType, what: string): KScalar {
  if (d === 'string') throw new TesseraError(`${what} is a string tensor; strings cannot be compiled`);
  return d;
}


/** The same elements viewed with another shape (Reshape/Squeeze/Unsqueeze/Flatten share the buffer). */
export function viewAs(ref: TensorRef, shape: Expr[]): TensorRef {
  const out: TensorRef = { dtype: ref.dtype, shape };
  if (ref.buffer !== undefined) out.buffer = ref.buffer;
  if (ref.sym) out.sym = ref.sym;
  if (ref.constant) {
    const dims = shape.map(constOf);
    if (dims.some((d) => d === undefined)) throw new Error('internal: a compile-time tensor viewed with a symbolic shape');
    out.constant = ref.constant.reshape(dims as number[]);
  }
  return out;
}
