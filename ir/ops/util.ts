// Shared building blocks for op definitions: broadcasting, elementwise kernels, axis handling, inference.
import { allocData, isBigInt, roundFloatsInPlace, type DType, type TensorData } from '../dtype.ts';
import { TesseraError } from '../errors.ts';
import type { InferContext, OpSchema, RunContext } from '../registry.ts';
import { checkShape, sizeOf, stridesOf, Tensor } from '../tensor.ts';
import { tensorType, type Dim, type TensorType, type ValueType } from '../types.ts';

// ---------- shapes ----------

/** Numpy-style broadcast of static shapes; error names both shapes. */
export function broadcastShapes(...shapes: (readonly number[])[]): number[] {
  const rank = Math.max(0, ...shapes.map((s) => s.length));
  const out = new Array<number>(rank).fill(1);
  for (const s of shapes) {
    for (let i = 0; i < s.length; i++) {
      const o = rank - s.length + i;
      const d = s[i]!;
      if (d === out[o] || d === 1) continue;
      if (out[o] === 1) out[o] = d;
      else throw new TesseraError(`shapes ${shapes.map((x) => `[${x.join(',')}]`).join(' and ')} cannot be broadcast`);
    }
  }
  return out;
}

/** Broadcast over possibly symbolic dims; unknown rank gives unknown shape. */
export function broadcastDims(ctx: InferContext | undefined, ...shapes: (Dim[] | undefined)[]): Dim[] | undefined {
  if (shapes.some((s) => s === undefined)) return undefined;
  const ss = shapes as Dim[][];
  const rank = Math.max(0, ...ss.map((s) => s.length));
  const out: Dim[] = new Array<Dim>(rank).fill(1);
  for (const s of ss) {
    for (let i = 0; i < s.length; i++) {
      const o = rank - s.length + i;
      const d = s[i]!;
      const cur = out[o]!;
      if (d === cur || d === 1) continue;
      if (cur === 1) { out[o] = d; continue; }
      if (typeof d === 'number' && typeof cur === 'number') {
        throw new TesseraError(`shapes ${ss.map((x) => `[${x.join(',')}]`).join(' and ')} cannot be broadcast`);
      }
      // One side symbolic: the static side wins when it is not 1 (the symbolic one must be 1 or equal).
      if (typeof d === 'number') out[o] = d;
      else if (typeof cur !== 'number') out[o] = ctx ? ctx.freshDim() : d;
    }
  }
  return out;
}

/** Normalizes a possibly negative axis against rank; error when out of range. */
export function normAxis(axis: number, rank: number, what = 'axis'): number {
  const a = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(a) || a < 0 || a >= rank) {
    throw new TesseraError(`${what} ${axis} is out of range for rank ${rank}`);
  }
  return a;
}

/** For each output index, the input flat index under broadcasting of `inShape` to `outShape`. */
export function broadcastIndexMap(inShape: readonly number[], outShape: readonly number[]): Int32Array | null {
  const n = sizeOf(outShape);
  if (inShape.length === outShape.length && inShape.every((d, i) => d === outShape[i])) return null; // identity
  const rank = outShape.length;
  const inStr = stridesOf(inShape);
  const eff = new Array<number>(rank).fill(0);
  for (let i = 0; i < inShape.length; i++) {
    const o = rank - inShape.length + i;
    eff[o] = inShape[i] === 1 ? 0 : inStr[i]!;
  }
  const map = new Int32Array(n);
  const idx = new Array<number>(rank).fill(0);
  let off = 0;
  for (let k = 0; k < n; k++) {
    map[k] = off;
    for (let d = rank - 1; d >= 0; d--) {
      idx[d]!++;
      off += eff[d]!;
      if (idx[d]! < outShape[d]!) break;
      off -= eff[d]! * outShape[d]!;
      idx[d] = 0;
    }
  }
  if (__testHooks.broadcastOffByOne) plantBroadcastOffByOne(map, outShape);
  return map;
}

/**
 * Test-only switches that plant known bugs, so tests can show the fuzzer finds them (test/fuzz/). Off in
 * production; reading one costs a property load per broadcast plan, not per element.
 */
export const __testHooks = { broadcastOffByOne: false };

/** The planted bug: the last element along the innermost output axis reads its neighbour's input element. */
function plantBroadcastOffByOne(map: Int32Array, outShape: readonly number[]): void {
  const w = outShape[outShape.length - 1] ?? 1;
  for (let k = w - 1; k < map.length; k += w) if (k > 0) map[k] = map[k - 1]!;
}

// ---------- elementwise ----------

export type Scalar = number | bigint | string;
type Fn1 = (x: any) => any;
type FnN = (...xs: any[]) => any;

/** Allocates the output, applies f per element with numpy broadcasting, rounds f16/bf16. */
export function mapBroadcast(inputs: Tensor[], outDtype: DType, f: FnN): Tensor {
  const outShape = broadcastShapes(...inputs.map((t) => t.shape));
  const n = checkShape(outShape);
  const out = allocData(outDtype, n) as any;
  const maps = inputs.map((t) => broadcastIndexMap(t.shape, outShape));
  const datas = inputs.map((t) => t.data as any);
  if (inputs.length === 2) {
    const [a, b] = datas; const [ma, mb] = maps;
    if (!ma && !mb) for (let i = 0; i < n; i++) out[i] = f(a[i], b[i]);
    else for (let i = 0; i < n; i++) out[i] = f(a[ma ? ma[i] : i], b[mb ? mb[i] : i]);
  } else if (inputs.length === 1) {
    const a = datas[0];
    for (let i = 0; i < n; i++) out[i] = f(a[i]);
  } else {
    const args = new Array(inputs.length);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < inputs.length; j++) args[j] = datas[j][maps[j] ? maps[j]![i]! : i];
      out[i] = f(...args);
    }
  }
  roundFloatsInPlace(outDtype, out as TensorData);
  return new Tensor(outDtype, outShape, out as TensorData);
}

export function mapUnary(x: Tensor, outDtype: DType, f: Fn1): Tensor {
  return mapBroadcast([x], outDtype, f);
}

/** Converts a JS value into the storage domain of dtype d (bigint for 64-bit ints, wrap for ints). */
export function toStorage(d: DType, v: number | bigint | boolean): number | bigint {
  if (isBigInt(d)) return typeof v === 'bigint' ? v : BigInt(Math.trunc(Number(v)));
  return typeof v === 'bigint' ? Number(v) : Number(v);
}

// ---------- inference helpers ----------

export function sameAsInput(i = 0) {
  return (ctx: InferContext): ValueType[] => [ctx.tensorInput(i)];
}

/** Output: broadcast of all tensor inputs, dtype of input 0 (or `dtype`). Checks input dtypes agree. */
export function inferBroadcast(dtype?: DType) {
  return (ctx: InferContext): ValueType[] => {
    const ts: TensorType[] = [];
    for (let i = 0; i < ctx.inputCount; i++) if (ctx.inputType(i)) ts.push(ctx.tensorInput(i));
    const d0 = ts[0]!.dtype;
    for (const t of ts) {
      if (t.dtype !== d0) throw new TesseraError(`input types differ: ${d0} and ${t.dtype}`);
    }
    return [tensorType(dtype ?? d0, broadcastDims(ctx, ...ts.map((t) => t.shape)))];
  };
}

/** Shape of a tensor type as numbers when fully static. */
export function staticShape(t: TensorType): number[] | undefined {
  return t.shape && t.shape.every((d) => typeof d === 'number') ? (t.shape as number[]) : undefined;
}

/** A unary elementwise op: same shape, output dtype = input dtype unless given. */
export function unaryOp(
  name: string, since: number | number[], f: Fn1,
  opts: { dtypes?: readonly DType[]; out?: DType; attrs?: OpSchema['attrs']; fWithCtx?: (ctx: RunContext) => Fn1 } = {},
): OpSchema[] {
  const sinces = Array.isArray(since) ? since : [since];
  return sinces.map((s) => ({
    name, since: s, inputs: [1, 1], outputs: [1, 1], attrs: opts.attrs,
    infer(ctx) {
      const t = ctx.tensorInput(0);
      if (opts.dtypes && !opts.dtypes.includes(t.dtype)) throw new TesseraError(`${name} does not accept ${t.dtype}`);
      return [tensorType(opts.out ?? t.dtype, t.shape)];
    },
    run(ctx) {
      const x = ctx.tensor(0);
      return [mapUnary(x, opts.out ?? x.dtype, opts.fWithCtx ? opts.fWithCtx(ctx) : f)];
    },
  }));
}
