// Neural-network ops: convolutions, matrix products, pooling, normalization and quantization.
//
// Conv and MatMul dominate real models (PP-OCR conv nets), so they share one cache-friendly GEMM:
// Conv lowers to im2col + GEMM (1x1 stride-1 convolutions read the input in place, convolutions with
// one input channel per group run a direct loop), ConvTranspose to GEMM + col2im, MatMul and Gemm call
// the GEMM per batch. Sums accumulate in f64 and round once on store (f16/bf16 round at the end).
import { allocData, isFloat, roundFloatsInPlace, type DType, type NumberArray } from '../dtype.ts';
import { TesseraError } from '../errors.ts';
import type { Node } from '../graph.ts';
import { registerOps, type AttrSpec, type AttrView, type InferContext, type OpSchema, type RunContext } from '../registry.ts';
import { checkShape, stridesOf, Tensor } from '../tensor.ts';
import { tensorType, type Dim, type TensorType, type ValueType } from '../types.ts';
import { broadcastDims, broadcastIndexMap, broadcastShapes, normAxis } from './util.ts';

// ---------- dtypes and small helpers ----------

const F3: readonly DType[] = ['f16', 'f32', 'f64'];
const F4: readonly DType[] = ['f16', 'f32', 'f64', 'bf16'];
const MATMUL_9: readonly DType[] = ['f16', 'f32', 'f64', 'u32', 'u64', 'i32', 'i64'];
const MATMUL_13: readonly DType[] = [...MATMUL_9, 'bf16'];
const Q8: readonly DType[] = ['i8', 'u8'];

type FloatData = Float32Array | Float64Array;


function checkDtype(dtype: DType, allowed: readonly DType[], what: string): void {
  if (!allowed.includes(dtype)) throw new TesseraError(`${what} has type ${dtype}, expected one of ${allowed.join(', ')}`);
}

function checkSameDtype(a: DType, b: DType, what: string): void {
  if (a !== b) throw new TesseraError(`${what} has type ${b}, expected ${a} (the same type as input 0)`);
}

function product(xs: readonly number[]): number {
  let n = 1;
  for (const x of xs) n *= x;
  return n;
}

const shapeStr = (s: readonly Dim[]): string => `[${s.join(',')}]`;

/** Whether the node asked for output i (it may be omitted or named ''). */
const wantsOutput = (node: Node, i: number): boolean => i < node.outputs.length && node.outputs[i] !== null;

/** Round half to even, the rounding of every ONNX quantization op. */
function roundHalfEven(v: number): number {
  const r = Math.round(v);
  return r - v === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

function quantRange(dtype: DType): [number, number] {
  return dtype === 'i8' ? [-128, 127] : [0, 255];
}

function allocFloat(dtype: DType, n: number): FloatData {
  return allocData(dtype, n) as FloatData;
}

// ---------- GEMM ----------

/** Columns per block: the accumulator rows stay in L1 and each panel of B is reused by four rows of A. */
const GEMM_BLOCK = 256;
const gemmAcc = [0, 1, 2, 3].map(() => new Float64Array(GEMM_BLOCK)) as [Float64Array, Float64Array, Float64Array, Float64Array];

/**
 * c[i, j] = bias[i] + Σ_k a[i, k] · b[k, j] for row-major operands with leading dimensions lda/ldb/ldc.
 * i-k-j order over four rows of A and four of B at a time (16 multiply-adds per pass over a block of
 * accumulators); a separate f64 kernel keeps this f32 path monomorphic for the JIT (f16/bf16 are
 * stored as Float32Array too).
 */
function gemmF32(
  M: number, N: number, K: number,
  a: Float32Array, aOff: number, lda: number,
  b: Float32Array, bOff: number, ldb: number,
  c: Float32Array, cOff: number, ldc: number,
  bias: Float32Array | null, biasOff: number,
): void {
  const [t0, t1, t2, t3] = gemmAcc;
  for (let jb = 0; jb < N; jb += GEMM_BLOCK) {
    const w = Math.min(GEMM_BLOCK, N - jb);
    let i = 0;
    for (; i + 3 < M; i += 4) {
      t0.fill(bias === null ? 0 : bias[biasOff + i]!, 0, w);
      t1.fill(bias === null ? 0 : bias[biasOff + i + 1]!, 0, w);
      t2.fill(bias === null ? 0 : bias[biasOff + i + 2]!, 0, w);
      t3.fill(bias === null ? 0 : bias[biasOff + i + 3]!, 0, w);
      const a0 = aOff + i * lda, a1 = a0 + lda, a2 = a1 + lda, a3 = a2 + lda;
      let k = 0;
      for (; k + 3 < K; k += 4) {
        const p0 = a[a0 + k]!, p1 = a[a0 + k + 1]!, p2 = a[a0 + k + 2]!, p3 = a[a0 + k + 3]!;
        const q0 = a[a1 + k]!, q1 = a[a1 + k + 1]!, q2 = a[a1 + k + 2]!, q3 = a[a1 + k + 3]!;
        const u0 = a[a2 + k]!, u1 = a[a2 + k + 1]!, u2 = a[a2 + k + 2]!, u3 = a[a2 + k + 3]!;
        const v0 = a[a3 + k]!, v1 = a[a3 + k + 1]!, v2 = a[a3 + k + 2]!, v3 = a[a3 + k + 3]!;
        const r0 = bOff + k * ldb + jb, r1 = r0 + ldb, r2 = r1 + ldb, r3 = r2 + ldb;
        for (let j = 0; j < w; j++) {
          const x0 = b[r0 + j]!, x1 = b[r1 + j]!, x2 = b[r2 + j]!, x3 = b[r3 + j]!;
          t0[j] += p0 * x0 + p1 * x1 + p2 * x2 + p3 * x3;
          t1[j] += q0 * x0 + q1 * x1 + q2 * x2 + q3 * x3;
          t2[j] += u0 * x0 + u1 * x1 + u2 * x2 + u3 * x3;
          t3[j] += v0 * x0 + v1 * x1 + v2 * x2 + v3 * x3;
        }
      }
      for (; k < K; k++) {
        const p = a[a0 + k]!, q = a[a1 + k]!, u = a[a2 + k]!, v = a[a3 + k]!;
        const r = bOff + k * ldb + jb;
        for (let j = 0; j < w; j++) { const x = b[r + j]!; t0[j] += p * x; t1[j] += q * x; t2[j] += u * x; t3[j] += v * x; }
      }
      const c0 = cOff + i * ldc + jb, c1 = c0 + ldc, c2 = c1 + ldc, c3 = c2 + ldc;
      for (let j = 0; j < w; j++) { c[c0 + j] = t0[j]!; c[c1 + j] = t1[j]!; c[c2 + j] = t2[j]!; c[c3 + j] = t3[j]!; }
    }
    for (; i < M; i++) {
      t0.fill(bias === null ? 0 : bias[biasOff + i]!, 0, w);
      const a0 = aOff + i * lda;
      let k = 0;
      for (; k + 3 < K; k += 4) {
        const p0 = a[a0 + k]!, p1 = a[a0 + k + 1]!, p2 = a[a0 + k + 2]!, p3 = a[a0 + k + 3]!;
        const r0 = bOff + k * ldb + jb, r1 = r0 + ldb, r2 = r1 + ldb, r3 = r2 + ldb;
        for (let j = 0; j < w; j++) t0[j] += p0 * b[r0 + j]! + p1 * b[r1 + j]! + p2 * b[r2 + j]! + p3 * b[r3 + j]!;
      }
      for (; k < K; k++) {
        const p = a[a0 + k]!;
        const r = bOff + k * ldb + jb;
        for (let j = 0; j < w; j++) t0[j] += p * b[r + j]!;
      }
      const c0 = cOff + i * ldc + jb;
      for (let j = 0; j < w; j++) c[c0 + j] = t0[j]!;
    }
  }
}

/** The f64 twin of gemmF32 (f64 tensors and the exact integer sums of ConvInteger/MatMulInteger). */
function gemmF64(
  M: number, N: number, K: number,
  a: Float64Array, aOff: number, lda: number,
  b: Float64Array, bOff: number, ldb: number,
  c: Float64Array, cOff: number, ldc: number,
  bias: Float64Array | null, biasOff: number,
): void {
  for (let i = 0; i < M; i++) {
    const c0 = cOff + i * ldc;
    c.fill(bias === null ? 0 : bias[biasOff + i]!, c0, c0 + N);
    const a0 = aOff + i * lda;
    let k = 0;
    for (; k + 1 < K; k += 2) {
      const p0 = a[a0 + k]!, p1 = a[a0 + k + 1]!;
      const r0 = bOff + k * ldb, r1 = r0 + ldb;
      for (let j = 0; j < N; j++) c[c0 + j] += p0 * b[r0 + j]! + p1 * b[r1 + j]!;
    }
    if (k < K) {
      const p = a[a0 + k]!;
      const r = bOff + k * ldb;
      for (let j = 0; j < N; j++) c[c0 + j] += p * b[r + j]!;
    }
  }
}

function gemm(
  M: number, N: number, K: number,
  a: FloatData, aOff: number, lda: number,
  b: FloatData, bOff: number, ldb: number,
  c: FloatData, cOff: number, ldc: number,
  bias: FloatData | null = null, biasOff = 0,
): void {
  if (M === 0 || N === 0) return;
  if (a instanceof Float32Array && b instanceof Float32Array && c instanceof Float32Array && (bias === null || bias instanceof Float32Array)) {
    gemmF32(M, N, K, a, aOff, lda, b, bOff, ldb, c, cOff, ldc, bias, biasOff);
  } else if (a instanceof Float64Array && b instanceof Float64Array && c instanceof Float64Array && (bias === null || bias instanceof Float64Array)) {
    gemmF64(M, N, K, a, aOff, lda, b, bOff, ldb, c, cOff, ldc, bias, biasOff);
  } else {
    throw new Error('gemm: operands must share one float storage type');
  }
}

/** Row-major transpose of a rows×cols matrix. */
function transpose2d<T extends NumberArray>(src: T, off: number, rows: number, cols: number, dst: T, dstOff = 0): T {
  for (let r = 0; r < rows; r++) {
    const s = off + r * cols;
    for (let c = 0; c < cols; c++) dst[dstOff + c * rows + r] = src[s + c]!;
  }
  return dst;
}

// ---------- MatMul family ----------

interface MatMulPlan {
  M: number; K: number; N: number;
  batch: number;
  /** Batch index → operand batch index under broadcasting (null: identity). */
  aMap: Int32Array | null; bMap: Int32Array | null;
  outShape: number[];
}

/** numpy.matmul shapes: 1-D operands gain (and lose) a unit dimension, batch dimensions broadcast. */
function planMatMul(a: readonly number[], b: readonly number[]): MatMulPlan {
  if (a.length === 0 || b.length === 0) throw new TesseraError('MatMul operands must have rank at least 1, got a scalar');
  const a2 = a.length === 1 ? [1, a[0]!] : a, b2 = b.length === 1 ? [b[0]!, 1] : b;
  const M = a2[a2.length - 2]!, K = a2[a2.length - 1]!, Kb = b2[b2.length - 2]!, N = b2[b2.length - 1]!;
  if (K !== Kb) throw new TesseraError(`MatMul inner dimensions differ: ${shapeStr(a)} × ${shapeStr(b)}`);
  const aBatch = a2.slice(0, -2), bBatch = b2.slice(0, -2);
  const batchShape = broadcastShapes(aBatch, bBatch);
  const outShape = [...batchShape];
  if (a.length > 1) outShape.push(M);
  if (b.length > 1) outShape.push(N);
  return {
    M, K, N, batch: product(batchShape), outShape,
    aMap: broadcastIndexMap(aBatch, batchShape), bMap: broadcastIndexMap(bBatch, batchShape),
  };
}

function inferMatMulShape(ctx: InferContext, a: Dim[] | undefined, b: Dim[] | undefined): Dim[] | undefined {
  if (!a || !b) return undefined;
  if (a.length === 0 || b.length === 0) throw new TesseraError('MatMul operands must have rank at least 1, got a scalar');
  const a2 = a.length === 1 ? [1, a[0]!] : a, b2 = b.length === 1 ? [b[0]!, 1] : b;
  const K = a2[a2.length - 1]!, Kb = b2[b2.length - 2]!;
  if (typeof K === 'number' && typeof Kb === 'number' && K !== Kb) {
    throw new TesseraError(`MatMul inner dimensions differ: ${shapeStr(a)} × ${shapeStr(b)}`);
  }
  const out = broadcastDims(ctx, a2.slice(0, -2), b2.slice(0, -2))!;
  if (a.length > 1) out.push(a2[a2.length - 2]!);
  if (b.length > 1) out.push(b2[b2.length - 1]!);
  return out;
}

/** Float matmul into a fresh output of dtype `dtype` (data already in float storage). */
function matmulFloatData(ad: FloatData, bd: FloatData, bRank: number, plan: MatMulPlan, dtype: DType): FloatData {
  const { M, K, N, batch, aMap, bMap } = plan;
  const out = allocFloat(dtype, checkShape(plan.outShape, 'MatMul output'));
  if (bRank <= 2) {
    // A shared right operand: the batch folds into the rows of one product.
    gemm(batch * M, N, K, ad, 0, K, bd, 0, N, out, 0, N);
  } else {
    for (let i = 0; i < batch; i++) {
      const ai = aMap ? aMap[i]! : i, bi = bMap ? bMap[i]! : i;
      gemm(M, N, K, ad, ai * M * K, K, bd, bi * K * N, N, out, i * M * N, N);
    }
  }
  return out;
}

/**
 * Integer matmul with the wrap-around of the element type. `transA`/`transB` read 2-D operands stored
 * transposed (integer Gemm).
 */
function matmulIntData(a: Tensor, b: Tensor, plan: MatMulPlan, transA = false, transB = false): Tensor {
  const { M, K, N, batch, aMap, bMap } = plan;
  const dtype = a.dtype;
  const out = Tensor.zeros(dtype, plan.outShape);
  const [aRow, aCol] = transA ? [1, M] : [K, 1];
  const [bRow, bCol] = transB ? [1, K] : [N, 1];
  for (let bt = 0; bt < batch; bt++) {
    const ao = (aMap ? aMap[bt]! : bt) * M * K, bo = (bMap ? bMap[bt]! : bt) * K * N, oo = bt * M * N;
    if (dtype === 'i64' || dtype === 'u64') {
      const ad = a.data as BigInt64Array, bd = b.data as BigInt64Array, od = out.data as BigInt64Array;
      for (let i = 0; i < M; i++) {
        for (let j = 0; j < N; j++) {
          let acc = 0n;
          for (let k = 0; k < K; k++) acc += ad[ao + i * aRow + k * aCol]! * bd[bo + k * bRow + j * bCol]!;
          od[oo + i * N + j] = dtype === 'i64' ? BigInt.asIntN(64, acc) : BigInt.asUintN(64, acc);
        }
      }
    } else {
      const ad = a.data as NumberArray, bd = b.data as NumberArray, od = out.data as NumberArray;
      const unsigned = dtype === 'u32';
      for (let i = 0; i < M; i++) {
        for (let j = 0; j < N; j++) {
          let acc = 0;
          for (let k = 0; k < K; k++) acc = (acc + Math.imul(ad[ao + i * aRow + k * aCol]!, bd[bo + k * bRow + j * bCol]!)) | 0;
          od[oo + i * N + j] = unsigned ? acc >>> 0 : acc;
        }
      }
    }
  }
  return out;
}

function runMatMul(a: Tensor, b: Tensor): Tensor {
  checkSameDtype(a.dtype, b.dtype, 'input 1');
  const plan = planMatMul(a.shape, b.shape);
  if (!isFloat(a.dtype)) return matmulIntData(a, b, plan);
  const out = matmulFloatData(a.data as FloatData, b.data as FloatData, b.rank, plan, a.dtype);
  roundFloatsInPlace(a.dtype, out);
  return new Tensor(a.dtype, plan.outShape, out);
}

function matMulSchema(since: number, dtypes: readonly DType[]): OpSchema {
  return {
    name: 'MatMul', since, inputs: [2, 2], outputs: [1, 1],
    infer(ctx) {
      const a = ctx.tensorInput(0), b = ctx.tensorInput(1);
      checkDtype(a.dtype, dtypes, 'input A');
      checkSameDtype(a.dtype, b.dtype, 'input B');
      return [tensorType(a.dtype, inferMatMulShape(ctx, a.shape, b.shape))];
    },
    run: (ctx) => [runMatMul(ctx.tensor(0), ctx.tensor(1))],
  };
}

/**
 * x − zero_point as f64, where the zero point is a scalar or varies along one axis of x (a per-row or
 * per-column quantization; `vectorAxis` is the axis a 1-D zero point runs along, N-D ones broadcast).
 */
function centered(x: Tensor, zp: Tensor | undefined, vectorAxis: number, what: string): Float64Array {
  const n = x.size;
  const out = new Float64Array(n);
  const xd = x.data as NumberArray;
  if (zp === undefined) { for (let i = 0; i < n; i++) out[i] = xd[i]!; return out; }
  if (zp.dtype !== x.dtype) throw new TesseraError(`${what} zero point has type ${zp.dtype}, expected ${x.dtype}`);
  const zd = zp.data as NumberArray;
  if (zp.size === 1) {
    const z = zd[0]!;
    for (let i = 0; i < n; i++) out[i] = xd[i]! - z;
    return out;
  }
  let zShape: number[] = [...zp.shape];
  if (zp.rank === 1) {
    const len = x.shape[vectorAxis];
    if (zp.size !== len) throw new TesseraError(`${what} zero point has ${zp.size} values, expected 1 or ${len}`);
    zShape = x.shape.map((_, i) => (i === vectorAxis ? len! : 1));
  }
  let map: Int32Array | null;
  try {
    if (broadcastShapes(zShape, x.shape).some((d, i) => d !== x.shape[i])) throw new Error();
    map = broadcastIndexMap(zShape, x.shape);
  } catch {
    throw new TesseraError(`${what} zero point of shape ${shapeStr(zp.shape)} does not fit input of shape ${shapeStr(x.shape)}`);
  }
  for (let i = 0; i < n; i++) out[i] = xd[i]! - zd[map ? map[i]! : i]!;
  return out;
}

/** Integer product (a − a_zero)·(b − b_zero) as exact f64 sums. */
function integerMatMul(a: Tensor, azp: Tensor | undefined, b: Tensor, bzp: Tensor | undefined): { plan: MatMulPlan; acc: FloatData } {
  const plan = planMatMul(a.shape, b.shape);
  const ac = centered(a, azp, Math.max(0, a.rank - 2), 'A');
  const bc = centered(b, bzp, b.rank - 1, 'B');
  return { plan, acc: matmulFloatData(ac, bc, b.rank, plan, 'f64') };
}

const matMulIntegerSchema: OpSchema = {
  name: 'MatMulInteger', since: 10, inputs: [2, 4], outputs: [1, 1],
  infer(ctx) {
    const a = ctx.tensorInput(0), b = ctx.tensorInput(1);
    checkDtype(a.dtype, Q8, 'input A');
    checkDtype(b.dtype, Q8, 'input B');
    if (ctx.inputType(2)) checkSameDtype(a.dtype, ctx.tensorInput(2).dtype, 'a_zero_point');
    if (ctx.inputType(3) && ctx.tensorInput(3).dtype !== b.dtype) throw new TesseraError(`b_zero_point has type ${ctx.tensorInput(3).dtype}, expected ${b.dtype}`);
    return [tensorType('i32', inferMatMulShape(ctx, a.shape, b.shape))];
  },
  run(ctx) {
    const { plan, acc } = integerMatMul(ctx.tensor(0), ctx.optTensor(2), ctx.tensor(1), ctx.optTensor(3));
    const out = new Int32Array(acc.length);
    for (let i = 0; i < acc.length; i++) out[i] = acc[i]! | 0;
    return [new Tensor('i32', plan.outShape, out)];
  },
};

/** A per-tensor scale as a number (QLinear ops and opset-10 quantization take scalars). */
function scalarOf(t: Tensor, what: string): number {
  if (t.size !== 1) throw new TesseraError(`${what} must be a scalar, got shape ${shapeStr(t.shape)}`);
  return t.num(0);
}

/**
 * Values of a scale or zero point that is a scalar or runs along `axis` of an output of shape `outShape`
 * (1-D of that axis' length, or N-D broadcastable): returns per-output-element lookup.
 */
function perAxisLookup(t: Tensor, outShape: readonly number[], axis: number, what: string): (i: number) => number {
  const d = t.data as NumberArray;
  if (t.size === 1) { const v = t.num(0); return () => v; }
  let shape: number[] = [...t.shape];
  if (t.rank === 1) {
    if (t.size !== outShape[axis]) throw new TesseraError(`${what} has ${t.size} values, expected 1 or ${outShape[axis]}`);
    shape = outShape.map((_, i) => (i === axis ? outShape[axis]! : 1));
  }
  let map: Int32Array | null;
  try {
    if (broadcastShapes(shape, outShape).some((x, i) => x !== outShape[i])) throw new Error();
    map = broadcastIndexMap(shape, outShape);
  } catch {
    throw new TesseraError(`${what} of shape ${shapeStr(t.shape)} does not fit output of shape ${shapeStr(outShape)}`);
  }
  return map ? (i) => d[map[i]!]! : (i) => d[i]!;
}

const qLinearMatMulSchema: OpSchema = {
  name: 'QLinearMatMul', since: 10, inputs: [8, 8], outputs: [1, 1],
  infer(ctx) {
    const a = ctx.tensorInput(0), b = ctx.tensorInput(3), yzp = ctx.tensorInput(7);
    checkDtype(a.dtype, Q8, 'input a');
    checkDtype(b.dtype, Q8, 'input b');
    checkDtype(yzp.dtype, Q8, 'y_zero_point');
    for (const i of [1, 4, 6]) checkDtype(ctx.tensorInput(i).dtype, ['f32'], `input ${i} (scale)`);
    checkSameDtype(a.dtype, ctx.tensorInput(2).dtype, 'a_zero_point');
    if (ctx.tensorInput(5).dtype !== b.dtype) throw new TesseraError(`b_zero_point has type ${ctx.tensorInput(5).dtype}, expected ${b.dtype}`);
    return [tensorType(yzp.dtype, inferMatMulShape(ctx, a.shape, b.shape))];
  },
  run(ctx) {
    const a = ctx.tensor(0), b = ctx.tensor(3), yzpT = ctx.tensor(7);
    const { plan, acc } = integerMatMul(a, ctx.tensor(2), b, ctx.tensor(5));
    const outShape = plan.outShape;
    // Per-row scales of a run along the output's row axis, per-column scales of b along its last axis.
    const rowAxis = a.rank > 1 ? outShape.length - (b.rank > 1 ? 2 : 1) : -1;
    const colAxis = b.rank > 1 ? outShape.length - 1 : -1;
    const scaleAt = (i: number, axis: number, what: string) => {
      if (axis >= 0) return perAxisLookup(ctx.tensor(i), outShape, axis, what);
      const v = scalarOf(ctx.tensor(i), what);
      return () => v;
    };
    const aScaleAt = scaleAt(1, rowAxis, 'a_scale'), bScaleAt = scaleAt(4, colAxis, 'b_scale');
    const yScale = scalarOf(ctx.tensor(6), 'y_scale');
    const yzp = scalarOf(yzpT, 'y_zero_point');
    const [lo, hi] = quantRange(yzpT.dtype);
    const out = Tensor.zeros(yzpT.dtype, outShape);
    const od = out.data as NumberArray;
    for (let i = 0; i < acc.length; i++) {
      // float32 arithmetic, as the reference kernels requantize
      const mult = Math.fround(Math.fround(aScaleAt(i) * bScaleAt(i)) / yScale);
      const v = roundHalfEven(Math.fround(Math.fround(acc[i]!) * mult)) + yzp;
      od[i] = v < lo ? lo : v > hi ? hi : v;
    }
    return [out];
  },
};

// ---------- Gemm ----------

function gemmAttrs(legacyBroadcast: boolean): Record<string, AttrSpec> {
  const attrs: Record<string, AttrSpec> = {
    alpha: { kind: 'float', default: 1 }, beta: { kind: 'float', default: 1 },
    transA: { kind: 'int', default: 0 }, transB: { kind: 'int', default: 0 },
  };
  if (legacyBroadcast) attrs.broadcast = { kind: 'int', default: 0 };
  return attrs;
}

/** Checks C against the [M, N] result: unidirectional broadcast, or an exact match for broadcast=0. */
function checkGemmC(c: readonly Dim[], M: Dim, N: Dim, exact: boolean): void {
  const want = [M, N];
  const bad = () => new TesseraError(exact
    ? `C has shape ${shapeStr(c)}, expected ${shapeStr(want)} (broadcast is 0)`
    : `C of shape ${shapeStr(c)} cannot be broadcast to the result shape ${shapeStr(want)}`);
  if (c.length > 2 || (exact && c.length !== 2)) throw bad();
  for (let i = 0; i < c.length; i++) {
    const d = c[i]!, w = want[2 - c.length + i]!;
    if (typeof d === 'number' && typeof w === 'number' && d !== w && (exact || d !== 1)) throw bad();
  }
}

function gemmSchema(since: number, dtypes: readonly DType[], minInputs: number, legacyBroadcast: boolean): OpSchema {
  return {
    name: 'Gemm', since, inputs: [minInputs, 3], outputs: [1, 1], attrs: gemmAttrs(legacyBroadcast),
    infer(ctx) {
      const a = ctx.tensorInput(0), b = ctx.tensorInput(1);
      checkDtype(a.dtype, dtypes, 'input A');
      checkSameDtype(a.dtype, b.dtype, 'input B');
      const c = ctx.inputType(2) ? ctx.tensorInput(2) : undefined;
      if (c) checkSameDtype(a.dtype, c.dtype, 'input C');
      if (a.shape && a.shape.length !== 2) throw new TesseraError(`A must be 2-D, got shape ${shapeStr(a.shape)}`);
      if (b.shape && b.shape.length !== 2) throw new TesseraError(`B must be 2-D, got shape ${shapeStr(b.shape)}`);
      const tA = ctx.attrs.int('transA') !== 0, tB = ctx.attrs.int('transB') !== 0;
      const M = a.shape ? a.shape[tA ? 1 : 0]! : ctx.freshDim();
      const N = b.shape ? b.shape[tB ? 0 : 1]! : ctx.freshDim();
      if (a.shape && b.shape) {
        const K = a.shape[tA ? 0 : 1]!, Kb = b.shape[tB ? 1 : 0]!;
        if (typeof K === 'number' && typeof Kb === 'number' && K !== Kb) {
          throw new TesseraError(`inner dimensions differ: A' is ${M}×${K}, B' is ${Kb}×${N}`);
        }
      }
      if (c?.shape) checkGemmC(c.shape, M, N, legacyBroadcast && ctx.attrs.int('broadcast') === 0);
      return [tensorType(a.dtype, [M, N])];
    },
    run(ctx) {
      const a = ctx.tensor(0), b = ctx.tensor(1), c = ctx.optTensor(2);
      checkSameDtype(a.dtype, b.dtype, 'input B');
      if (a.rank !== 2 || b.rank !== 2) throw new TesseraError(`A and B must be 2-D, got ${shapeStr(a.shape)} and ${shapeStr(b.shape)}`);
      const tA = ctx.attrs.int('transA') !== 0, tB = ctx.attrs.int('transB') !== 0;
      const alpha = ctx.attrs.float('alpha'), beta = ctx.attrs.float('beta');
      const [M, K] = tA ? [a.shape[1]!, a.shape[0]!] : [a.shape[0]!, a.shape[1]!];
      const [Kb, N] = tB ? [b.shape[1]!, b.shape[0]!] : [b.shape[0]!, b.shape[1]!];
      if (K !== Kb) throw new TesseraError(`inner dimensions differ: A' is ${M}×${K}, B' is ${Kb}×${N}`);
      if (c) {
        checkSameDtype(a.dtype, c.dtype, 'input C');
        checkGemmC(c.shape, M, N, legacyBroadcast && ctx.attrs.int('broadcast') === 0);
      }
      const outShape = [M, N];
      const cMap = c && beta !== 0 ? broadcastIndexMap(c.shape, outShape) : null;
      if (isFloat(a.dtype)) {
        const ad = tA ? transpose2d(a.data as FloatData, 0, K, M, allocFloat(a.dtype, M * K)) : a.data as FloatData;
        const bd = tB ? transpose2d(b.data as FloatData, 0, N, K, allocFloat(b.dtype, K * N)) : b.data as FloatData;
        const out = allocFloat(a.dtype, checkShape(outShape, 'Gemm output'));
        gemm(M, N, K, ad, 0, K, bd, 0, N, out, 0, N);
        if (alpha !== 1 || (c && beta !== 0)) {
          const cd = c && beta !== 0 ? (c.data as FloatData) : null;
          for (let i = 0; i < out.length; i++) {
            out[i] = alpha * out[i]! + (cd ? beta * cd[cMap ? cMap[i]! : i]! : 0);
          }
        }
        roundFloatsInPlace(a.dtype, out);
        return [new Tensor(a.dtype, outShape, out)];
      }
      // Integer Gemm: alpha and beta act as integers of the element type.
      const prod = matmulIntData(a, b, planMatMul([M, K], [K, N]), tA, tB);
      if (alpha === 1 && !(c && beta !== 0)) return [prod];
      const out = Tensor.zeros(a.dtype, outShape);
      if (a.dtype === 'i64' || a.dtype === 'u64') {
        const wrap = a.dtype === 'i64' ? (v: bigint) => BigInt.asIntN(64, v) : (v: bigint) => BigInt.asUintN(64, v);
        const al = BigInt(Math.trunc(alpha)), be = BigInt(Math.trunc(beta));
        const pd = prod.data as BigInt64Array, od = out.data as BigInt64Array, cd = c?.data as BigInt64Array | undefined;
        for (let i = 0; i < od.length; i++) od[i] = wrap(al * pd[i]! + (cd && beta !== 0 ? be * cd[cMap ? cMap[i]! : i]! : 0n));
      } else {
        const al = Math.trunc(alpha) | 0, be = Math.trunc(beta) | 0;
        const pd = prod.data as NumberArray, od = out.data as NumberArray, cd = c?.data as NumberArray | undefined;
        for (let i = 0; i < od.length; i++) {
          od[i] = (Math.imul(al, pd[i]!) + (cd && beta !== 0 ? Math.imul(be, cd[cMap ? cMap[i]! : i]!) : 0)) | 0;
        }
      }
      return [out];
    },
  };
}

// ---------- sliding windows (Conv and pooling) ----------

export type AutoPad = 'NOTSET' | 'SAME_UPPER' | 'SAME_LOWER' | 'VALID';

export interface WindowSpec {
  kernel: number[];
  strides: number[];
  dilations: number[];
  autoPad: AutoPad;
  /** Explicit pads [begin_0.., end_0..] (zeros when absent; ignored unless autoPad is NOTSET). */
  pads: number[];
  ceilMode: boolean;
}

function readAutoPad(attrs: AttrView): AutoPad {
  const v = attrs.string('auto_pad', 'NOTSET');
  if (v !== 'NOTSET' && v !== 'SAME_UPPER' && v !== 'SAME_LOWER' && v !== 'VALID') {
    throw new TesseraError(`auto_pad must be NOTSET, SAME_UPPER, SAME_LOWER or VALID, got '${v}'`);
  }
  return v;
}

function readInts(attrs: AttrView, name: string, length: number, fallback: number, min: number): number[] {
  const v = attrs.ints(name);
  if (v === undefined) return new Array<number>(length).fill(fallback);
  if (v.length !== length) throw new TesseraError(`${name} has ${v.length} values, expected ${length}`);
  for (const x of v) if (!Number.isInteger(x) || x < min) throw new TesseraError(`${name} values must be integers ≥ ${min}, got [${v.join(',')}]`);
  return [...v];
}

/**
 * Reads the window attributes for D spatial axes. `kernel` comes from the weights when there are any
 * (a kernel_shape attribute must then agree); undefined when unknown (symbolic weights).
 */
export function readWindow(attrs: AttrView, D: number, kernel: (number | undefined)[] | undefined): WindowSpec & { kernelKnown: boolean } {
  const ks = attrs.ints('kernel_shape');
  let k: (number | undefined)[];
  if (ks !== undefined) {
    if (ks.length !== D) throw new TesseraError(`kernel_shape has ${ks.length} values, expected ${D} (one per spatial axis)`);
    for (const x of ks) if (!Number.isInteger(x) || x < 1) throw new TesseraError(`kernel_shape values must be positive, got [${ks.join(',')}]`);
    kernel?.forEach((w, i) => {
      if (w !== undefined && w !== ks[i]) throw new TesseraError(`kernel_shape [${ks.join(',')}] does not match the weights' spatial shape [${kernel.join(',')}]`);
    });
    k = ks;
  } else if (kernel) {
    k = kernel;
  } else {
    throw new TesseraError('kernel_shape is required');
  }
  return {
    kernel: k.map((x) => x ?? 1),
    kernelKnown: k.every((x) => x !== undefined),
    strides: readInts(attrs, 'strides', D, 1, 1),
    dilations: readInts(attrs, 'dilations', D, 1, 1),
    autoPad: readAutoPad(attrs),
    pads: readInts(attrs, 'pads', 2 * D, 0, 0),
    ceilMode: attrs.int('ceil_mode', 0) !== 0,
  };
}

/** Output size and pads of one spatial axis of a sliding window (ONNX shape inference; PyTorch ceil rule). */
function windowAxis(spec: WindowSpec, i: number, inSize: number): { out: number; pb: number; pe: number } {
  const D = spec.kernel.length;
  const s = spec.strides[i]!;
  const ek = (spec.kernel[i]! - 1) * spec.dilations[i]! + 1;
  if (spec.autoPad === 'SAME_UPPER' || spec.autoPad === 'SAME_LOWER') {
    const out = Math.ceil(inSize / s);
    const total = Math.max(0, (out - 1) * s + ek - inSize);
    const small = Math.floor(total / 2);
    return spec.autoPad === 'SAME_UPPER' ? { out, pb: small, pe: total - small } : { out, pb: total - small, pe: small };
  }
  const pb = spec.autoPad === 'VALID' ? 0 : spec.pads[i]!;
  const pe = spec.autoPad === 'VALID' ? 0 : spec.pads[i + D]!;
  const span = inSize + pb + pe - ek;
  if (span < 0) {
    throw new TesseraError(`window of extent ${ek} on spatial axis ${i} is larger than the padded input (${inSize} + ${pb + pe} padding)`);
  }
  let out = (spec.ceilMode ? Math.ceil(span / s) : Math.floor(span / s)) + 1;
  // In ceil mode a last window that would start in the end padding is dropped.
  if (spec.ceilMode && (out - 1) * s >= inSize + pb) out--;
  return { out, pb, pe };
}

function inferWindowDims(ctx: InferContext, spec: WindowSpec & { kernelKnown: boolean }, inDims: readonly Dim[]): Dim[] {
  const D = spec.kernel.length;
  return inDims.map((d, i) => {
    if (!spec.kernelKnown) return ctx.freshDim();
    if (typeof d === 'number') return windowAxis(spec, i, d).out;
    // A symbolic size survives a stride-1 window that keeps the size (SAME, or pads covering the kernel).
    const ek = (spec.kernel[i]! - 1) * spec.dilations[i]! + 1;
    const pads = spec.autoPad === 'VALID' ? 0 : spec.pads[i]! + spec.pads[i + D]!;
    const keeps = spec.strides[i] === 1 && (spec.autoPad.startsWith('SAME') || pads === ek - 1);
    return keeps ? d : ctx.freshDim();
  });
}

// ---------- convolution kernels ----------

/**
 * Tap tables of a sliding window: `pos` positions (conv outputs, conv-transpose inputs) map with each
 * kernel offset onto `target` positions (conv inputs read, conv-transpose outputs written) by
 * target = pos·stride + k·dilation − padBegin on every axis. All axes but the last are resolved per
 * (kernel offset, row) to a row base offset (−1 when out of range); the last axis is a range [lo, hi)
 * of positions with target = pos·stride + shift, so inner loops run branch-free.
 */
interface Taps {
  kernelSize: number;
  /** Kernel extent along the last axis (kernel offsets run with that axis fastest). */
  kernelLast: number;
  /** Rows: the product of all position axes but the last. */
  rows: number;
  rowLen: number;
  rowBase: Int32Array;
  lo: Int32Array;
  hi: Int32Array;
  shift: Int32Array;
  stride: number;
}

function buildTaps(pos: readonly number[], target: readonly number[], kernel: readonly number[],
  strides: readonly number[], dilations: readonly number[], padsBegin: readonly number[]): Taps {
  const D = pos.length;
  const KS = product(kernel), R = product(pos.slice(0, D - 1)), L = pos[D - 1]!;
  const tStr = stridesOf(target);
  const rowBase = new Int32Array(KS * R), lo = new Int32Array(KS), hi = new Int32Array(KS), shift = new Int32Array(KS);
  const s = strides[D - 1]!, T = target[D - 1]!;
  const kIdx = new Array<number>(D).fill(0), pIdx = new Array<number>(D).fill(0);
  for (let ko = 0; ko < KS; ko++) {
    const sh = kIdx[D - 1]! * dilations[D - 1]! - padsBegin[D - 1]!;
    let l = sh >= 0 ? 0 : Math.ceil(-sh / s);
    let h = T - 1 - sh < 0 ? 0 : Math.floor((T - 1 - sh) / s) + 1;
    l = Math.min(l, L);
    h = Math.max(l, Math.min(h, L));
    lo[ko] = l; hi[ko] = h; shift[ko] = sh;
    pIdx.fill(0);
    for (let r = 0; r < R; r++) {
      let base = 0;
      for (let d = 0; d < D - 1; d++) {
        const t = pIdx[d]! * strides[d]! + kIdx[d]! * dilations[d]! - padsBegin[d]!;
        if (t < 0 || t >= target[d]!) { base = -1; break; }
        base += t * tStr[d]!;
      }
      rowBase[ko * R + r] = base;
      for (let d = D - 2; d >= 0; d--) { if (++pIdx[d]! < pos[d]!) break; pIdx[d] = 0; }
    }
    for (let d = D - 1; d >= 0; d--) { if (++kIdx[d]! < kernel[d]!) break; kIdx[d] = 0; }
  }
  return { kernelSize: KS, kernelLast: kernel[D - 1]!, rows: R, rowLen: L, rowBase, lo, hi, shift, stride: s };
}

/** Unfolds rows [r0, r1) of `channels` input planes into col: (channel, kernel offset) rows × positions. */
function im2col(x: FloatData, xOff: number, inPlane: number, channels: number, taps: Taps, r0: number, r1: number, col: FloatData): void {
  const { kernelSize: KS, rows: R, rowLen: L, rowBase, lo, hi, shift, stride: s } = taps;
  let dst = 0;
  for (let c = 0; c < channels; c++) {
    const xc = xOff + c * inPlane;
    for (let ko = 0; ko < KS; ko++) {
      const l = lo[ko]!, h = hi[ko]!, rb = ko * R;
      for (let r = r0; r < r1; r++, dst += L) {
        const base = rowBase[rb + r]!;
        if (base < 0) { col.fill(0, dst, dst + L); continue; }
        if (l > 0) col.fill(0, dst, dst + l);
        const src = xc + base + shift[ko]!;
        if (s === 1) for (let p = l; p < h; p++) col[dst + p] = x[src + p]!;
        else for (let p = l; p < h; p++) col[dst + p] = x[src + p * s]!;
        if (h < L) col.fill(0, dst + h, dst + L);
      }
    }
  }
}

/**
 * One output plane of a convolution over a single input channel (depthwise), accumulated in acc. Taps
 * along the last kernel axis are summed together over the positions where all of them are in range
 * (one accumulator update per kernel row); the few edge positions take them one at a time.
 */
function convSingleChannel(x: FloatData, xOff: number, w: FloatData, wOff: number, taps: Taps, acc: Float64Array, init: number): void {
  const { kernelSize: KS, kernelLast: KW, rows: R, rowLen: L, rowBase, lo, hi, shift, stride: s } = taps;
  acc.fill(init, 0, R * L);
  const d = KW > 1 ? shift[1]! - shift[0]! : 0;
  for (let k0 = 0; k0 < KS; k0 += KW) {
    let pLo = 0, pHi = L;
    for (let q = 0; q < KW; q++) { pLo = Math.max(pLo, lo[k0 + q]!); pHi = Math.min(pHi, hi[k0 + q]!); }
    if (pHi < pLo) pHi = pLo;
    const w0 = w[wOff + k0]!, w1 = KW > 1 ? w[wOff + k0 + 1]! : 0, w2 = KW > 2 ? w[wOff + k0 + 2]! : 0;
    const w3 = KW > 3 ? w[wOff + k0 + 3]! : 0, w4 = KW > 4 ? w[wOff + k0 + 4]! : 0;
    const rb = k0 * R;
    for (let r = 0; r < R; r++) {
      const base = rowBase[rb + r]!;
      if (base < 0) continue;
      const src = xOff + base + shift[k0]!, dst = r * L;
      if (KW === 3) {
        for (let p = pLo, xi = src + pLo * s; p < pHi; p++, xi += s) acc[dst + p] += w0 * x[xi]! + w1 * x[xi + d]! + w2 * x[xi + 2 * d]!;
      } else if (KW === 5) {
        for (let p = pLo, xi = src + pLo * s; p < pHi; p++, xi += s) {
          acc[dst + p] += w0 * x[xi]! + w1 * x[xi + d]! + w2 * x[xi + 2 * d]! + w3 * x[xi + 3 * d]! + w4 * x[xi + 4 * d]!;
        }
      } else {
        for (let q = 0; q < KW; q++) {
          const wv = w[wOff + k0 + q]!, sq = src + q * d;
          for (let p = pLo; p < pHi; p++) acc[dst + p] += wv * x[sq + p * s]!;
        }
      }
      for (let q = 0; q < KW; q++) {
        const wv = w[wOff + k0 + q]!, l = lo[k0 + q]!, h = hi[k0 + q]!, sq = xOff + base + shift[k0 + q]!;
        for (let p = l, e = Math.min(h, pLo); p < e; p++) acc[dst + p] += wv * x[sq + p * s]!;
        for (let p = Math.max(l, pHi); p < h; p++) acc[dst + p] += wv * x[sq + p * s]!;
      }
    }
  }
}

/** Elements of an im2col chunk: big enough to amortize the GEMM calls, small enough to stay in cache. */
const COL_CHUNK = 1 << 20;

interface ConvPlan {
  N: number; C: number; M: number; group: number;
  inDims: number[]; outDims: number[];
  kernel: number[]; strides: number[]; dilations: number[]; padsBegin: number[];
  outShape: number[];
}

function planConv(attrs: AttrView, x: readonly number[], w: readonly number[]): ConvPlan {
  if (x.length < 3) throw new TesseraError(`input must have rank at least 3 (N, C and a spatial axis), got shape ${shapeStr(x)}`);
  if (w.length !== x.length) throw new TesseraError(`weights of shape ${shapeStr(w)} do not match the rank of input ${shapeStr(x)}`);
  const group = attrs.int('group', 1);
  if (!Number.isInteger(group) || group < 1) throw new TesseraError(`group must be positive, got ${group}`);
  const [N, C] = [x[0]!, x[1]!];
  const M = w[0]!;
  if (C !== w[1]! * group) throw new TesseraError(`input has ${C} channels but the weights expect ${w[1]! * group} (${w[1]} per group × ${group} groups)`);
  if (M % group !== 0) throw new TesseraError(`${M} output channels cannot be split into ${group} groups`);
  const D = x.length - 2;
  const spec = readWindow(attrs, D, w.slice(2));
  const inDims = x.slice(2);
  const axes = inDims.map((d, i) => windowAxis(spec, i, d));
  const outDims = axes.map((a) => a.out);
  return {
    N, C, M, group, inDims, outDims, kernel: spec.kernel, strides: spec.strides, dilations: spec.dilations,
    padsBegin: axes.map((a) => a.pb), outShape: [N, M, ...outDims],
  };
}

/** y = conv(x, w) + bias over float storage (x, w, y of one storage type). */
function convForward(x: FloatData, w: FloatData, bias: FloatData | null, plan: ConvPlan, y: FloatData): void {
  const { N, C, M, group, inDims, outDims, kernel, strides, dilations, padsBegin } = plan;
  const Cg = C / group, Mg = M / group;
  const KS = product(kernel), P = product(outDims), inPlane = product(inDims);
  if (P === 0 || N === 0 || M === 0) return;
  const taps = buildTaps(outDims, inDims, kernel, strides, dilations, padsBegin);
  if (Cg === 1) {
    const acc = new Float64Array(P);
    for (let n = 0; n < N; n++) {
      for (let m = 0; m < M; m++) {
        const g = Math.floor(m / Mg);
        convSingleChannel(x, (n * C + g) * inPlane, w, m * KS, taps, acc, bias ? bias[m]! : 0);
        const yo = (n * M + m) * P;
        for (let i = 0; i < P; i++) y[yo + i] = acc[i]!;
      }
    }
    return;
  }
  const Kg = Cg * KS;
  const pointwise = KS === 1 && strides.every((s) => s === 1) && padsBegin.every((p) => p === 0)
    && outDims.every((d, i) => d === inDims[i]);
  if (pointwise) {
    for (let n = 0; n < N; n++) {
      for (let g = 0; g < group; g++) {
        gemm(Mg, P, Cg, w, g * Mg * Cg, Cg, x, (n * C + g * Cg) * inPlane, P, y, (n * M + g * Mg) * P, P, bias, g * Mg);
      }
    }
    return;
  }
  const { rows: R, rowLen: L } = taps;
  const chunkRows = Math.max(1, Math.min(R, Math.floor(COL_CHUNK / Math.max(1, Kg * L))));
  const col = x instanceof Float32Array ? new Float32Array(Kg * chunkRows * L) : new Float64Array(Kg * chunkRows * L);
  for (let n = 0; n < N; n++) {
    for (let g = 0; g < group; g++) {
      const xOff = (n * C + g * Cg) * inPlane, yOff = (n * M + g * Mg) * P;
      for (let r0 = 0; r0 < R; r0 += chunkRows) {
        const r1 = Math.min(R, r0 + chunkRows), width = (r1 - r0) * L;
        im2col(x, xOff, inPlane, Cg, taps, r0, r1, col);
        gemm(Mg, width, Kg, w, g * Mg * Kg, Kg, col, 0, width, y, yOff + r0 * L, P, bias, g * Mg);
      }
    }
  }
}

const CONV_ATTRS: Record<string, AttrSpec> = {
  auto_pad: { kind: 'string', default: 'NOTSET' }, dilations: { kind: 'ints' }, group: { kind: 'int', default: 1 },
  kernel_shape: { kind: 'ints' }, pads: { kind: 'ints' }, strides: { kind: 'ints' },
};

/** Output type of Conv-like ops from the types of x and w (static where the shapes allow). */
function inferConvType(ctx: InferContext, x: TensorType, w: TensorType, outDtype: DType): ValueType {
  const rank = x.shape?.length ?? w.shape?.length;
  if (rank === undefined) return tensorType(outDtype, undefined);
  if (rank < 3) throw new TesseraError(`input must have rank at least 3 (N, C and a spatial axis), got rank ${rank}`);
  if (x.shape && w.shape && w.shape.length !== rank) {
    throw new TesseraError(`weights of shape ${shapeStr(w.shape)} do not match the rank of input ${shapeStr(x.shape)}`);
  }
  const group = ctx.attrs.int('group', 1);
  if (!Number.isInteger(group) || group < 1) throw new TesseraError(`group must be positive, got ${group}`);
  const C = x.shape?.[1], Cw = w.shape?.[1], M = w.shape?.[0];
  if (typeof C === 'number' && typeof Cw === 'number' && C !== Cw * group) {
    throw new TesseraError(`input has ${C} channels but the weights expect ${Cw * group} (${Cw} per group × ${group} groups)`);
  }
  if (typeof M === 'number' && M % group !== 0) throw new TesseraError(`${M} output channels cannot be split into ${group} groups`);
  const D = rank - 2;
  const kernel = w.shape ? w.shape.slice(2).map((d) => (typeof d === 'number' ? d : undefined)) : undefined;
  let spatial: Dim[];
  if (!kernel && !ctx.attrs.has('kernel_shape')) spatial = Array.from({ length: D }, () => ctx.freshDim());
  else {
    const spec = readWindow(ctx.attrs, D, kernel);
    spatial = x.shape ? inferWindowDims(ctx, spec, x.shape.slice(2)) : Array.from({ length: D }, () => ctx.freshDim());
  }
  return tensorType(outDtype, [x.shape?.[0] ?? ctx.freshDim(), M ?? ctx.freshDim(), ...spatial]);
}

function checkBias(b: Tensor | undefined, M: number, what = 'bias'): void {
  if (b && (b.rank !== 1 || b.size !== M)) throw new TesseraError(`${what} must have shape [${M}], got ${shapeStr(b.shape)}`);
}

function convSchema(since: number): OpSchema {
  return {
    name: 'Conv', since, inputs: [2, 3], outputs: [1, 1], attrs: CONV_ATTRS,
    infer(ctx) {
      const x = ctx.tensorInput(0), w = ctx.tensorInput(1);
      checkDtype(x.dtype, F3, 'input X');
      checkSameDtype(x.dtype, w.dtype, 'input W');
      if (ctx.inputType(2)) checkSameDtype(x.dtype, ctx.tensorInput(2).dtype, 'input B');
      return [inferConvType(ctx, x, w, x.dtype)];
    },
    run(ctx) {
      const x = ctx.tensor(0), w = ctx.tensor(1), b = ctx.optTensor(2);
      checkSameDtype(x.dtype, w.dtype, 'input W');
      if (b) checkSameDtype(x.dtype, b.dtype, 'input B');
      const plan = planConv(ctx.attrs, x.shape, w.shape);
      checkBias(b, plan.M);
      const y = allocFloat(x.dtype, checkShape(plan.outShape, 'Conv output'));
      convForward(x.data as FloatData, w.data as FloatData, (b?.data as FloatData | undefined) ?? null, plan, y);
      roundFloatsInPlace(x.dtype, y);
      return [new Tensor(x.dtype, plan.outShape, y)];
    },
  };
}

/** Integer convolution Σ (x − x_zero)(w − w_zero) as exact f64 sums (per-output-channel w_zero allowed). */
function integerConv(attrs: AttrView, x: Tensor, xzp: Tensor | undefined, w: Tensor, wzp: Tensor | undefined): { plan: ConvPlan; acc: Float64Array } {
  const plan = planConv(attrs, x.shape, w.shape);
  if (xzp && xzp.size !== 1) throw new TesseraError(`x_zero_point must be a scalar, got shape ${shapeStr(xzp.shape)}`);
  const xc = centered(x, xzp, 1, 'x');
  const wc = centered(w, wzp, 0, 'w');
  const acc = new Float64Array(checkShape(plan.outShape, 'output'));
  convForward(xc, wc, null, plan, acc);
  return { plan, acc };
}

const convIntegerSchema: OpSchema = {
  name: 'ConvInteger', since: 10, inputs: [2, 4], outputs: [1, 1], attrs: CONV_ATTRS,
  infer(ctx) {
    const x = ctx.tensorInput(0), w = ctx.tensorInput(1);
    checkDtype(x.dtype, Q8, 'input x');
    checkDtype(w.dtype, Q8, 'input w');
    if (ctx.inputType(2)) checkSameDtype(x.dtype, ctx.tensorInput(2).dtype, 'x_zero_point');
    if (ctx.inputType(3) && ctx.tensorInput(3).dtype !== w.dtype) throw new TesseraError(`w_zero_point has type ${ctx.tensorInput(3).dtype}, expected ${w.dtype}`);
    return [inferConvType(ctx, x, w, 'i32')];
  },
  run(ctx) {
    const { plan, acc } = integerConv(ctx.attrs, ctx.tensor(0), ctx.optTensor(2), ctx.tensor(1), ctx.optTensor(3));
    const out = new Int32Array(acc.length);
    for (let i = 0; i < acc.length; i++) out[i] = acc[i]! | 0;
    return [new Tensor('i32', plan.outShape, out)];
  },
};

const qLinearConvSchema: OpSchema = {
  name: 'QLinearConv', since: 10, inputs: [8, 9], outputs: [1, 1], attrs: CONV_ATTRS,
  infer(ctx) {
    const x = ctx.tensorInput(0), w = ctx.tensorInput(3), yzp = ctx.tensorInput(7);
    checkDtype(x.dtype, Q8, 'input x');
    checkDtype(w.dtype, Q8, 'input w');
    checkDtype(yzp.dtype, Q8, 'y_zero_point');
    for (const i of [1, 4, 6]) checkDtype(ctx.tensorInput(i).dtype, ['f32'], `input ${i} (scale)`);
    checkSameDtype(x.dtype, ctx.tensorInput(2).dtype, 'x_zero_point');
    if (ctx.tensorInput(5).dtype !== w.dtype) throw new TesseraError(`w_zero_point has type ${ctx.tensorInput(5).dtype}, expected ${w.dtype}`);
    if (ctx.inputType(8)) checkDtype(ctx.tensorInput(8).dtype, ['i32'], 'input B');
    return [inferConvType(ctx, x, w, yzp.dtype)];
  },
  run(ctx) {
    const x = ctx.tensor(0), w = ctx.tensor(3), yzpT = ctx.tensor(7), b = ctx.optTensor(8);
    const { plan, acc } = integerConv(ctx.attrs, x, ctx.tensor(2), w, ctx.tensor(5));
    const { M, outShape } = plan;
    checkBias(b, M, 'B');
    const xScale = scalarOf(ctx.tensor(1), 'x_scale'), yScale = scalarOf(ctx.tensor(6), 'y_scale');
    const wScale = ctx.tensor(4);
    if (wScale.size !== 1 && wScale.size !== M) throw new TesseraError(`w_scale has ${wScale.size} values, expected 1 or ${M}`);
    const yzp = scalarOf(yzpT, 'y_zero_point');
    const [lo, hi] = quantRange(yzpT.dtype);
    const P = product(plan.outDims);
    const out = Tensor.zeros(yzpT.dtype, outShape);
    const od = out.data as NumberArray, bd = b?.data as Int32Array | undefined;
    for (let n = 0; n < plan.N; n++) {
      for (let m = 0; m < M; m++) {
        // float32 requantization, as the reference kernels do it
        const mult = Math.fround(Math.fround(xScale * wScale.num(wScale.size === 1 ? 0 : m)) / yScale);
        const bias = bd ? bd[m]! : 0;
        const o = (n * M + m) * P;
        for (let i = o; i < o + P; i++) {
          const v = roundHalfEven(Math.fround(Math.fround(acc[i]! + bias) * mult)) + yzp;
          od[i] = v < lo ? lo : v > hi ? hi : v;
        }
      }
    }
    return [out];
  },
};

// ---------- ConvTranspose ----------

const CONV_TRANSPOSE_ATTRS: Record<string, AttrSpec> = {
  ...CONV_ATTRS, output_padding: { kind: 'ints' }, output_shape: { kind: 'ints' },
};

interface ConvTransposeAxis { out: number; pb: number }

/**
 * Output size and begin pad of one ConvTranspose axis. An explicit output_shape (or SAME auto-padding,
 * whose output is input·stride) fixes the size and the total padding is split: opset 1 puts the extra
 * odd unit at the start for SAME_UPPER and at the end otherwise, opset 11 the other way round. A
 * requested size beyond the full result is filled with zeros (bias only) at the end.
 */
function convTransposeAxis(opset: number, spec: WindowSpec, outputPadding: number[], outputShape: number[] | undefined,
  i: number, inSize: number): ConvTransposeAxis {
  const D = spec.kernel.length;
  const s = spec.strides[i]!;
  const full = s * (inSize - 1) + outputPadding[i]! + (spec.kernel[i]! - 1) * spec.dilations[i]! + 1;
  const same = spec.autoPad === 'SAME_UPPER' || spec.autoPad === 'SAME_LOWER';
  if (outputShape || same) {
    const out = outputShape ? outputShape[i]! : inSize * s;
    const total = Math.max(0, full - out);
    const half = Math.floor(total / 2);
    const upper = spec.autoPad === 'SAME_UPPER';
    const pb = opset >= 11 ? (upper ? half : total - half) : (upper ? total - half : half);
    return { out, pb };
  }
  const pb = spec.autoPad === 'VALID' ? 0 : spec.pads[i]!;
  const pe = spec.autoPad === 'VALID' ? 0 : spec.pads[i + D]!;
  const out = full - pb - pe;
  if (out < 0) throw new TesseraError(`pads ${pb}+${pe} on spatial axis ${i} exceed the full output size ${full}`);
  return { out, pb };
}

function readConvTransposeExtras(attrs: AttrView, D: number): { outputPadding: number[]; outputShape: number[] | undefined } {
  const outputPadding = readInts(attrs, 'output_padding', D, 0, 0);
  let outputShape = attrs.ints('output_shape');
  if (outputShape !== undefined) {
    // Some exporters write the full N, C, spatial shape.
    if (outputShape.length === D + 2) outputShape = outputShape.slice(2);
    if (outputShape.length !== D) throw new TesseraError(`output_shape has ${outputShape.length} values, expected ${D}`);
    if (outputShape.some((d) => !Number.isInteger(d) || d < 0)) throw new TesseraError(`output_shape must hold sizes, got [${outputShape.join(',')}]`);
  }
  return { outputPadding, outputShape };
}

function planConvTranspose(ctx: RunContext, x: readonly number[], w: readonly number[]): ConvPlan {
  if (x.length < 3) throw new TesseraError(`input must have rank at least 3 (N, C and a spatial axis), got shape ${shapeStr(x)}`);
  if (w.length !== x.length) throw new TesseraError(`weights of shape ${shapeStr(w)} do not match the rank of input ${shapeStr(x)}`);
  const group = ctx.attrs.int('group', 1);
  if (!Number.isInteger(group) || group < 1) throw new TesseraError(`group must be positive, got ${group}`);
  const [N, C] = [x[0]!, x[1]!];
  if (w[0] !== C) throw new TesseraError(`input has ${C} channels but the weights of shape ${shapeStr(w)} expect ${w[0]}`);
  if (C % group !== 0) throw new TesseraError(`${C} input channels cannot be split into ${group} groups`);
  const M = w[1]! * group;
  const D = x.length - 2;
  const spec = readWindow(ctx.attrs, D, w.slice(2));
  const { outputPadding, outputShape } = readConvTransposeExtras(ctx.attrs, D);
  const inDims = x.slice(2);
  const axes = inDims.map((d, i) => convTransposeAxis(ctx.opset, spec, outputPadding, outputShape, i, d));
  const outDims = axes.map((a) => a.out);
  return {
    N, C, M, group, inDims, outDims, kernel: spec.kernel, strides: spec.strides, dilations: spec.dilations,
    padsBegin: axes.map((a) => a.pb), outShape: [N, M, ...outDims],
  };
}

/** Scatters col ((channel, kernel offset) rows × input positions of rows [r0, r1)) onto output planes. */
function col2im(col: FloatData, channels: number, taps: Taps, r0: number, r1: number, acc: Float64Array, outPlane: number): void {
  const { kernelSize: KS, rows: R, rowLen: L, rowBase, lo, hi, shift, stride: s } = taps;
  const width = (r1 - r0) * L;
  for (let m = 0; m < channels; m++) {
    for (let ko = 0; ko < KS; ko++) {
      const l = lo[ko]!, h = hi[ko]!, rb = ko * R;
      const srcRow = (m * KS + ko) * width;
      for (let r = r0; r < r1; r++) {
        const base = rowBase[rb + r]!;
        if (base < 0) continue;
        const dst = m * outPlane + base + shift[ko]!, src = srcRow + (r - r0) * L;
        for (let p = l; p < h; p++) acc[dst + p * s] += col[src + p]!;
      }
    }
  }
}

function convTransposeForward(x: FloatData, w: FloatData, bias: FloatData | null, plan: ConvPlan, y: FloatData): void {
  const { N, C, M, group, inDims, outDims, kernel, strides, dilations, padsBegin } = plan;
  const Cg = C / group, Mg = M / group;
  const KS = product(kernel), Pin = product(inDims), Pout = product(outDims);
  if (Pout === 0 || N === 0 || M === 0) return;
  const taps = buildTaps(inDims, outDims, kernel, strides, dilations, padsBegin);
  // Per group, W_g is Cg × (Mg·KS); the GEMM wants its transpose as the left operand.
  const rowsA = Mg * KS;
  const wt = x instanceof Float32Array ? new Float32Array(group * rowsA * Cg) : new Float64Array(group * rowsA * Cg);
  for (let g = 0; g < group; g++) transpose2d(w, g * Cg * rowsA, Cg, rowsA, wt, g * rowsA * Cg);
  const { rows: R, rowLen: L } = taps;
  const chunkRows = Math.max(1, Math.min(R, Math.floor(COL_CHUNK / Math.max(1, rowsA * L))));
  const col = x instanceof Float32Array ? new Float32Array(rowsA * chunkRows * L) : new Float64Array(rowsA * chunkRows * L);
  const acc = new Float64Array(Mg * Pout);
  for (let n = 0; n < N; n++) {
    for (let g = 0; g < group; g++) {
      acc.fill(0);
      const xOff = (n * C + g * Cg) * Pin;
      for (let r0 = 0; r0 < R; r0 += chunkRows) {
        const r1 = Math.min(R, r0 + chunkRows), width = (r1 - r0) * L;
        gemm(rowsA, width, Cg, wt, g * rowsA * Cg, Cg, x, xOff + r0 * L, Pin, col, 0, width);
        col2im(col, Mg, taps, r0, r1, acc, Pout);
      }
      for (let m = 0; m < Mg; m++) {
        const b = bias ? bias[g * Mg + m]! : 0, yo = (n * M + g * Mg + m) * Pout, ao = m * Pout;
        for (let i = 0; i < Pout; i++) y[yo + i] = acc[ao + i]! + b;
      }
    }
  }
}

function convTransposeSchema(since: number): OpSchema {
  return {
    name: 'ConvTranspose', since, inputs: [2, 3], outputs: [1, 1], attrs: CONV_TRANSPOSE_ATTRS,
    infer(ctx) {
      const x = ctx.tensorInput(0), w = ctx.tensorInput(1);
      checkDtype(x.dtype, F3, 'input X');
      checkSameDtype(x.dtype, w.dtype, 'input W');
      if (ctx.inputType(2)) checkSameDtype(x.dtype, ctx.tensorInput(2).dtype, 'input B');
      const rank = x.shape?.length ?? w.shape?.length;
      if (rank === undefined) return [tensorType(x.dtype, undefined)];
      if (rank < 3) throw new TesseraError(`input must have rank at least 3 (N, C and a spatial axis), got rank ${rank}`);
      if (x.shape && w.shape && w.shape.length !== rank) {
        throw new TesseraError(`weights of shape ${shapeStr(w.shape)} do not match the rank of input ${shapeStr(x.shape)}`);
      }
      const group = ctx.attrs.int('group', 1);
      if (!Number.isInteger(group) || group < 1) throw new TesseraError(`group must be positive, got ${group}`);
      const C = x.shape?.[1], Cw = w.shape?.[0];
      if (typeof C === 'number' && typeof Cw === 'number' && C !== Cw) {
        throw new TesseraError(`input has ${C} channels but the weights of shape ${shapeStr(w.shape!)} expect ${Cw}`);
      }
      const Mg = w.shape?.[1];
      const M: Dim = typeof Mg === 'number' ? Mg * group : ctx.freshDim();
      const D = rank - 2;
      const kernel = w.shape ? w.shape.slice(2).map((d) => (typeof d === 'number' ? d : undefined)) : undefined;
      const fresh = () => Array.from({ length: D }, () => ctx.freshDim());
      let spatial: Dim[];
      if (!kernel && !ctx.attrs.has('kernel_shape')) spatial = fresh();
      else {
        const spec = readWindow(ctx.attrs, D, kernel);
        const { outputPadding, outputShape } = readConvTransposeExtras(ctx.attrs, D);
        if (outputShape) spatial = outputShape;
        else if (!x.shape || !spec.kernelKnown) spatial = fresh();
        else {
          spatial = x.shape.slice(2).map((d, i) =>
            typeof d === 'number' ? convTransposeAxis(ctx.opset, spec, outputPadding, undefined, i, d).out : ctx.freshDim());
        }
      }
      return [tensorType(x.dtype, [x.shape?.[0] ?? ctx.freshDim(), M, ...spatial])];
    },
    run(ctx) {
      const x = ctx.tensor(0), w = ctx.tensor(1), b = ctx.optTensor(2);
      checkSameDtype(x.dtype, w.dtype, 'input W');
      if (b) checkSameDtype(x.dtype, b.dtype, 'input B');
      const plan = planConvTranspose(ctx, x.shape, w.shape);
      checkBias(b, plan.M);
      const y = allocFloat(x.dtype, checkShape(plan.outShape, 'ConvTranspose output'));
      convTransposeForward(x.data as FloatData, w.data as FloatData, (b?.data as FloatData | undefined) ?? null, plan, y);
      roundFloatsInPlace(x.dtype, y);
      return [new Tensor(x.dtype, plan.outShape, y)];
    },
  };
}

// ---------- pooling ----------

interface PoolPlan {
  planes: number;
  inDims: number[];
  outDims: number[];
  kernel: number[]; strides: number[]; dilations: number[];
  padsBegin: number[]; padsEnd: number[];
}

function planPool(attrs: AttrView, x: readonly number[]): PoolPlan {
  if (x.length < 3) throw new TesseraError(`input must have rank at least 3 (N, C and a spatial axis), got shape ${shapeStr(x)}`);
  const D = x.length - 2;
  const spec = readWindow(attrs, D, undefined);
  const inDims = x.slice(2);
  const axes = inDims.map((d, i) => windowAxis(spec, i, d));
  return {
    planes: x[0]! * x[1]!, inDims, outDims: axes.map((a) => a.out),
    kernel: spec.kernel, strides: spec.strides, dilations: spec.dilations,
    padsBegin: axes.map((a) => a.pb), padsEnd: axes.map((a) => a.pe),
  };
}

type PoolMode = 'max' | 'avg' | 'lp';

interface PoolOptions {
  mode: PoolMode;
  countIncludePad?: boolean;
  p?: number;
  /** Where MaxPool writes argmax indices (flat over the input; storage order 1 is column-major). */
  indices?: BigInt64Array;
  storageOrder?: number;
}

/** Output positions, and window offsets, per batch of precomputed windows (bounds their memory). */
const POOL_CHUNK = 4096;
const POOL_OFFSETS = 1 << 22;

/** Pools every (n, c) plane of x into y; windows are precomputed per chunk of output positions. */
function poolForward(x: NumberArray, plan: PoolPlan, y: NumberArray, opts: PoolOptions): void {
  const { planes, inDims, outDims, kernel, strides, dilations, padsBegin, padsEnd } = plan;
  const D = inDims.length;
  const inPlane = product(inDims), outPlane = product(outDims);
  const inStr = stridesOf(inDims);
  const colStr = new Array<number>(D);
  for (let d = 0, acc = 1; d < D; d++) { colStr[d] = acc; acc *= inDims[d]!; }
  const needIdx = opts.indices !== undefined;
  const colMajor = needIdx && opts.storageOrder === 1;
  // Per axis and output position: the valid input coordinates (solved for the tap range, so huge
  // kernels cost nothing), and the window size within the padded extent (for count_include_pad).
  const axisCoords: number[][][] = [], axisPadded: number[][] = [];
  for (let d = 0; d < D; d++) {
    const cs: number[][] = [], pc: number[] = [];
    const s = strides[d]!, dil = dilations[d]!, k = kernel[d]!, n = inDims[d]!;
    for (let o = 0; o < outDims[d]!; o++) {
      const start = o * s - padsBegin[d]!;
      const kLo = start >= 0 ? 0 : Math.ceil(-start / dil);
      const kHi = Math.min(k, Math.floor((n - 1 - start) / dil) + 1);
      const list: number[] = [];
      for (let t = kLo; t < kHi; t++) list.push(start + t * dil);
      cs.push(list);
      pc.push(Math.max(0, Math.min(k, Math.floor((n + padsEnd[d]! - 1 - start) / dil) + 1)));
    }
    axisCoords.push(cs); axisPadded.push(pc);
  }
  const windowMax = product(kernel.map((k, d) => Math.min(k, inDims[d]!)));
  const chunk = Math.max(1, Math.min(outPlane, POOL_CHUNK, Math.floor(POOL_OFFSETS / Math.max(1, windowMax))));
  const starts = new Int32Array(chunk + 1);
  const offs = new Int32Array(chunk * windowMax), idxOffs = needIdx ? new Int32Array(chunk * windowMax) : null;
  const divisors = new Float64Array(chunk);
  let scratchA = new Int32Array(windowMax), scratchB = new Int32Array(windowMax);
  let scratchIa = new Int32Array(windowMax), scratchIb = new Int32Array(windowMax);
  const oIdx = new Array<number>(D).fill(0);
  const p = opts.p ?? 2, invP = 1 / p;
  for (let o0 = 0; o0 < outPlane; o0 += chunk) {
    const o1 = Math.min(outPlane, o0 + chunk);
    let total = 0;
    for (let o = o0; o < o1; o++) {
      // Window offsets: the product of the per-axis coordinate lists.
      let len = 1, padded = 1;
      scratchA[0] = 0; scratchIa[0] = 0;
      for (let d = 0; d < D; d++) {
        const list = axisCoords[d]![oIdx[d]!]!;
        padded *= axisPadded[d]![oIdx[d]!]!;
        let nl = 0;
        for (let e = 0; e < len; e++) {
          for (const c of list) {
            scratchB[nl] = scratchA[e]! + c * inStr[d]!;
            scratchIb[nl] = scratchIa[e]! + c * (colMajor ? colStr[d]! : inStr[d]!);
            nl++;
          }
        }
        [scratchA, scratchB] = [scratchB, scratchA];
        [scratchIa, scratchIb] = [scratchIb, scratchIa];
        len = nl;
      }
      starts[o - o0] = total;
      offs.set(scratchA.subarray(0, len), total);
      if (idxOffs) idxOffs.set(scratchIa.subarray(0, len), total);
      divisors[o - o0] = opts.countIncludePad ? padded : len;
      total += len;
      for (let d = D - 1; d >= 0; d--) { if (++oIdx[d]! < outDims[d]!) break; oIdx[d] = 0; }
    }
    starts[o1 - o0] = total;
    for (let pl = 0; pl < planes; pl++) {
      const xb = pl * inPlane, yb = pl * outPlane;
      for (let o = o0; o < o1; o++) {
        const s0 = starts[o - o0]!, s1 = starts[o - o0 + 1]!;
        if (opts.mode === 'max') {
          let best = -Infinity, bi = s0;
          for (let t = s0; t < s1; t++) { const v = x[xb + offs[t]!]!; if (v > best) { best = v; bi = t; } }
          y[yb + o] = best;
          if (opts.indices) opts.indices[yb + o] = BigInt(s1 > s0 ? xb + idxOffs![bi]! : -1);
        } else if (opts.mode === 'avg') {
          let sum = 0;
          for (let t = s0; t < s1; t++) sum += x[xb + offs[t]!]!;
          y[yb + o] = sum / divisors[o - o0]!;
        } else {
          let sum = 0;
          for (let t = s0; t < s1; t++) sum += Math.abs(x[xb + offs[t]!]!) ** p;
          y[yb + o] = sum ** invP;
        }
      }
    }
  }
}

const POOL_ATTRS: Record<string, AttrSpec> = {
  auto_pad: { kind: 'string', default: 'NOTSET' }, kernel_shape: { kind: 'ints', required: true },
  pads: { kind: 'ints' }, strides: { kind: 'ints' },
};

function inferPool(ctx: InferContext, dtypes: readonly DType[]): (ValueType | undefined)[] {
  const x = ctx.tensorInput(0);
  checkDtype(x.dtype, dtypes, 'input X');
  let shape: Dim[] | undefined;
  if (x.shape) {
    if (x.shape.length < 3) throw new TesseraError(`input must have rank at least 3 (N, C and a spatial axis), got shape ${shapeStr(x.shape)}`);
    const spec = readWindow(ctx.attrs, x.shape.length - 2, undefined);
    shape = [x.shape[0]!, x.shape[1]!, ...inferWindowDims(ctx, spec, x.shape.slice(2))];
  }
  const out: (ValueType | undefined)[] = [tensorType(x.dtype, shape)];
  if (wantsOutput(ctx.node, 1)) out.push(tensorType('i64', shape ? [...shape] : undefined));
  return out;
}

function averagePoolSchema(since: number, extra: Record<string, AttrSpec>): OpSchema {
  return {
    name: 'AveragePool', since, inputs: [1, 1], outputs: [1, 1], attrs: { ...POOL_ATTRS, ...extra },
    infer: (ctx) => inferPool(ctx, F3),
    run(ctx) {
      const x = ctx.tensor(0);
      const plan = planPool(ctx.attrs, x.shape);
      const outShape = [x.shape[0]!, x.shape[1]!, ...plan.outDims];
      const y = allocFloat(x.dtype, checkShape(outShape, 'AveragePool output'));
      poolForward(x.data as NumberArray, plan, y, { mode: 'avg', countIncludePad: ctx.attrs.int('count_include_pad', 0) !== 0 });
      roundFloatsInPlace(x.dtype, y);
      return [new Tensor(x.dtype, outShape, y)];
    },
  };
}

function maxPoolSchema(since: number, extra: Record<string, AttrSpec>, dtypes: readonly DType[], maxOutputs: number): OpSchema {
  return {
    name: 'MaxPool', since, inputs: [1, 1], outputs: [1, maxOutputs], attrs: { ...POOL_ATTRS, ...extra },
    infer: (ctx) => inferPool(ctx, dtypes),
    run(ctx) {
      const x = ctx.tensor(0);
      const plan = planPool(ctx.attrs, x.shape);
      const outShape = [x.shape[0]!, x.shape[1]!, ...plan.outDims];
      const y = Tensor.zeros(x.dtype, outShape);
      const storageOrder = ctx.attrs.int('storage_order', 0);
      if (storageOrder !== 0 && storageOrder !== 1) throw new TesseraError(`storage_order must be 0 or 1, got ${storageOrder}`);
      const indices = wantsOutput(ctx.node, 1) ? Tensor.zeros('i64', outShape) : undefined;
      poolForward(x.data as NumberArray, plan, y.data as NumberArray,
        { mode: 'max', indices: indices?.data as BigInt64Array | undefined, storageOrder });
      return indices ? [y, indices] : [y];
    },
  };
}

function lpPoolSchema(since: number): OpSchema {
  const attrs: Record<string, AttrSpec> = since === 1
    ? { ...POOL_ATTRS, kernel_shape: { kind: 'ints' }, p: { kind: 'float', default: 2 } }
    : since >= 18 // LpPool-18 adds ceil_mode and dilations (the window reader already handles both)
      ? { ...POOL_ATTRS, p: { kind: 'int', default: 2 }, ceil_mode: { kind: 'int', default: 0 }, dilations: { kind: 'ints' } }
      : { ...POOL_ATTRS, p: { kind: 'int', default: 2 } };
  return {
    name: 'LpPool', since, inputs: [1, 1], outputs: [1, 1], attrs,
    infer: (ctx) => inferPool(ctx, F3),
    run(ctx) {
      const x = ctx.tensor(0);
      const plan = planPool(ctx.attrs, x.shape);
      const outShape = [x.shape[0]!, x.shape[1]!, ...plan.outDims];
      const y = allocFloat(x.dtype, checkShape(outShape, 'LpPool output'));
      poolForward(x.data as NumberArray, plan, y, { mode: 'lp', p: readP(ctx.attrs) });
      roundFloatsInPlace(x.dtype, y);
      return [new Tensor(x.dtype, outShape, y)];
    },
  };
}

function readP(attrs: AttrView): number {
  const p = attrs.float('p', 2);
  if (!(p > 0)) throw new TesseraError(`p must be positive, got ${p}`);
  return p;
}

function globalPoolSchema(name: string, since: number, mode: PoolMode, attrs?: Record<string, AttrSpec>): OpSchema {
  return {
    name, since, inputs: [1, 1], outputs: [1, 1], attrs,
    infer(ctx) {
      const x = ctx.tensorInput(0);
      checkDtype(x.dtype, F3, 'input X');
      if (x.shape && x.shape.length < 2) throw new TesseraError(`input must have rank at least 2 (N, C), got shape ${shapeStr(x.shape)}`);
      return [tensorType(x.dtype, x.shape?.map((d, i) => (i < 2 ? d : 1)))];
    },
    run(ctx) {
      const x = ctx.tensor(0);
      if (x.rank < 2) throw new TesseraError(`input must have rank at least 2 (N, C), got shape ${shapeStr(x.shape)}`);
      const outShape = x.shape.map((d, i) => (i < 2 ? d : 1));
      const planes = x.shape[0]! * x.shape[1]!, plane = product(x.shape.slice(2));
      const y = allocFloat(x.dtype, planes);
      const xd = x.data as FloatData;
      const p = mode === 'lp' ? readP(ctx.attrs) : 2;
      for (let pl = 0; pl < planes; pl++) {
        const b = pl * plane;
        if (mode === 'max') {
          let m = -Infinity;
          for (let i = b; i < b + plane; i++) { const v = xd[i]!; if (v > m) m = v; }
          y[pl] = m;
        } else if (mode === 'avg') {
          let s = 0;
          for (let i = b; i < b + plane; i++) s += xd[i]!;
          y[pl] = s / plane;
        } else {
          let s = 0;
          for (let i = b; i < b + plane; i++) s += Math.abs(xd[i]!) ** p;
          y[pl] = s ** (1 / p);
        }
      }
      roundFloatsInPlace(x.dtype, y);
      return [new Tensor(x.dtype, outShape, y)];
    },
  };
}

// ---------- MaxUnpool ----------

const maxUnpoolAttrs: Record<string, AttrSpec> = {
  kernel_shape: { kind: 'ints', required: true }, pads: { kind: 'ints' }, strides: { kind: 'ints' },
};

function unpoolDims(attrs: AttrView, x: readonly Dim[], fresh: () => Dim): Dim[] {
  const D = x.length - 2;
  const spec = readWindow(attrs, D, undefined);
  return x.map((d, i) => {
    if (i < 2) return d;
    const a = i - 2;
    return typeof d === 'number' ? (d - 1) * spec.strides[a]! + spec.kernel[a]! - spec.pads[a]! - spec.pads[a + D]! : fresh();
  });
}

function maxUnpoolSchema(since: number): OpSchema {
  return {
    name: 'MaxUnpool', since, inputs: [2, 3], outputs: [1, 1], attrs: maxUnpoolAttrs,
    infer(ctx) {
      const x = ctx.tensorInput(0);
      checkDtype(x.dtype, F3, 'input X');
      checkDtype(ctx.tensorInput(1).dtype, ['i64'], 'input I');
      if (x.shape && x.shape.length < 3) throw new TesseraError(`input must have rank at least 3 (N, C and a spatial axis), got shape ${shapeStr(x.shape)}`);
      if (ctx.inputType(2)) {
        checkDtype(ctx.tensorInput(2).dtype, ['i64'], 'output_shape');
        const c = ctx.constant(2);
        if (c) return [tensorType(x.dtype, c.toNumbers())];
        const len = ctx.tensorInput(2).shape?.[0];
        return [tensorType(x.dtype, typeof len === 'number' ? Array.from({ length: len }, () => ctx.freshDim()) : undefined)];
      }
      return [tensorType(x.dtype, x.shape ? unpoolDims(ctx.attrs, x.shape, () => ctx.freshDim()) : undefined)];
    },
    run(ctx) {
      const x = ctx.tensor(0), idx = ctx.tensor(1), os = ctx.optTensor(2);
      if (x.rank < 3) throw new TesseraError(`input must have rank at least 3 (N, C and a spatial axis), got shape ${shapeStr(x.shape)}`);
      if (idx.dtype !== 'i64') throw new TesseraError(`indices must be i64, got ${idx.dtype}`);
      if (idx.shape.length !== x.rank || idx.shape.some((d, i) => d !== x.shape[i])) {
        throw new TesseraError(`indices of shape ${shapeStr(idx.shape)} must match input shape ${shapeStr(x.shape)}`);
      }
      // Indices address the unpooled shape the attributes imply; an explicit output_shape then holds that
      // result at its origin (zeros beyond it, or cropped), as the ONNX reference does.
      const inferred = unpoolDims(ctx.attrs, x.shape, () => 0) as number[];
      const outShape = os ? os.toNumbers() : inferred;
      if (outShape.length !== x.rank) throw new TesseraError(`output_shape has ${outShape.length} values, expected ${x.rank}`);
      const u = allocFloat(x.dtype, checkShape(inferred, 'MaxUnpool output'));
      const xd = x.data as FloatData, id = idx.data as BigInt64Array;
      for (let i = 0; i < xd.length; i++) {
        const j = Number(id[i]!);
        if (j < 0 || j >= u.length) throw new TesseraError(`index ${j} is out of bounds for an unpooled output of ${u.length} elements`);
        u[j] = xd[i]!;
      }
      if (outShape.every((d, i) => d === inferred[i])) return [new Tensor(x.dtype, outShape, u)];
      const y = allocFloat(x.dtype, checkShape(outShape, 'MaxUnpool output'));
      const yStr = stridesOf(outShape), pos = new Array<number>(inferred.length).fill(0);
      for (let i = 0; i < u.length; i++) {
        let off = 0, inside = true;
        for (let d = 0; d < pos.length; d++) { if (pos[d]! >= outShape[d]!) { inside = false; break; } off += pos[d]! * yStr[d]!; }
        if (inside) y[off] = u[i]!;
        for (let d = pos.length - 1; d >= 0; d--) { if (++pos[d]! < inferred[d]!) break; pos[d] = 0; }
      }
      return [new Tensor(x.dtype, outShape, y)];
    },
  };
}

// ---------- normalization ----------

interface BatchNormVersion {
  since: number;
  attrs: Record<string, AttrSpec>;
  outputs: number;
  /** Whether this node computes batch statistics (training) rather than using the given ones. */
  training(node: Node, attrs: AttrView): boolean;
  /** Type-constraint group of X, of scale/B and of mean/var: inputs in one group share a dtype. */
  groups: [number, number, number];
  dtypes: readonly DType[];
}

const requestedOutputs = (node: Node): number => node.outputs.filter((v) => v !== null).length;

function batchNormSchema(v: BatchNormVersion): OpSchema {
  return {
    name: 'BatchNormalization', since: v.since, inputs: [5, 5], outputs: [1, v.outputs], attrs: v.attrs,
    infer(ctx) {
      const ts = [0, 1, 2, 3, 4].map((i) => ctx.tensorInput(i));
      const x = ts[0]!;
      const groupDtype: DType[] = [];
      const group = [v.groups[0], v.groups[1], v.groups[1], v.groups[2], v.groups[2]];
      ts.forEach((t, i) => {
        checkDtype(t.dtype, v.dtypes, `input ${i}`);
        const g = group[i]!;
        if (groupDtype[g] === undefined) groupDtype[g] = t.dtype;
        else if (groupDtype[g] !== t.dtype) throw new TesseraError(`input ${i} has type ${t.dtype}, expected ${groupDtype[g]}`);
      });
      if (x.shape && x.shape.length < 2) throw new TesseraError(`input must have rank at least 2 (N, C), got shape ${shapeStr(x.shape)}`);
      const training = v.training(ctx.node, ctx.attrs);
      if (!training && v.since >= 14 && requestedOutputs(ctx.node) > 1) {
        throw new TesseraError('running_mean and running_var outputs need training_mode=1');
      }
      const statShape = ts[3]!.shape ?? (x.shape ? [x.shape[1]!] : undefined);
      const out: (ValueType | undefined)[] = [tensorType(x.dtype, x.shape)];
      for (let i = 1; i < ctx.node.outputs.length; i++) out.push(tensorType(ts[3]!.dtype, statShape ? [...statShape] : undefined));
      return out;
    },
    run(ctx) {
      const [x, scale, bias, mean, variance] = [0, 1, 2, 3, 4].map((i) => ctx.tensor(i)) as [Tensor, Tensor, Tensor, Tensor, Tensor];
      if (x.rank < 2) throw new TesseraError(`input must have rank at least 2 (N, C), got shape ${shapeStr(x.shape)}`);
      const N = x.shape[0]!, C = x.shape[1]!, inner = product(x.shape.slice(2));
      // spatial=0 (opsets before 9) normalizes every (channel, position) feature on its own.
      const perFeature = ctx.attrs.int('spatial', 1) === 0;
      const F = perFeature ? C * inner : C;
      const featureOf = perFeature ? (c: number, i: number) => c * inner + i : (c: number) => c;
      for (const [t, name] of [[scale, 'scale'], [bias, 'B'], [mean, 'mean'], [variance, 'var']] as const) {
        if (t.size !== F) throw new TesseraError(`${name} has ${t.size} values, expected ${F}`);
      }
      const eps = ctx.attrs.float('epsilon');
      const xd = x.data as FloatData;
      const training = v.training(ctx.node, ctx.attrs);
      let useMean = mean.data as FloatData, useVar = variance.data as FloatData;
      let batchMean: Float64Array | undefined, batchVar: Float64Array | undefined;
      if (training) {
        batchMean = new Float64Array(F); batchVar = new Float64Array(F);
        const count = new Float64Array(F);
        for (let n = 0; n < N; n++) for (let c = 0; c < C; c++) {
          const b = (n * C + c) * inner;
          for (let i = 0; i < inner; i++) { const f = featureOf(c, i); batchMean[f] += xd[b + i]!; count[f]++; }
        }
        for (let f = 0; f < F; f++) batchMean[f] /= count[f]!;
        for (let n = 0; n < N; n++) for (let c = 0; c < C; c++) {
          const b = (n * C + c) * inner;
          for (let i = 0; i < inner; i++) { const f = featureOf(c, i); const d = xd[b + i]! - batchMean[f]!; batchVar[f] += d * d; }
        }
        for (let f = 0; f < F; f++) batchVar[f] /= count[f]!;
        useMean = batchMean; useVar = batchVar;
      }
      const sd = scale.data as FloatData, bd = bias.data as FloatData;
      const mul = new Float64Array(F), add = new Float64Array(F);
      for (let f = 0; f < F; f++) {
        mul[f] = sd[f]! / Math.sqrt(useVar[f]! + eps);
        add[f] = bd[f]! - useMean[f]! * mul[f]!;
      }
      const y = allocFloat(x.dtype, x.size);
      for (let n = 0; n < N; n++) for (let c = 0; c < C; c++) {
        const b = (n * C + c) * inner;
        if (perFeature) for (let i = 0; i < inner; i++) y[b + i] = xd[b + i]! * mul[c * inner + i]! + add[c * inner + i]!;
        else { const m = mul[c]!, a = add[c]!; for (let i = b; i < b + inner; i++) y[i] = xd[i]! * m + a; }
      }
      roundFloatsInPlace(x.dtype, y);
      const outs: (Tensor | undefined)[] = [new Tensor(x.dtype, x.shape, y)];
      if (training && ctx.node.outputs.length > 1) {
        const momentum = ctx.attrs.float('momentum');
        const stat = (vals: ArrayLike<number>) => {
          const t = allocFloat(mean.dtype, F);
          for (let f = 0; f < F; f++) t[f] = vals[f]!;
          roundFloatsInPlace(mean.dtype, t);
          return new Tensor(mean.dtype, mean.shape, t);
        };
        const running = (given: FloatData, current: Float64Array) =>
          stat(Array.from(given, (g, f) => g * momentum + current[f]! * (1 - momentum)));
        outs.push(running(mean.data as FloatData, batchMean!), running(variance.data as FloatData, batchVar!));
        if (v.since < 14) outs.push(stat(batchMean!), stat(batchVar!));
        outs.length = Math.min(outs.length, ctx.node.outputs.length);
      }
      return outs;
    },
  };
}

const multipleOutputs = (node: Node) => requestedOutputs(node) > 1;

const BATCH_NORM_VERSIONS: BatchNormVersion[] = [
  {
    since: 1, outputs: 5, groups: [0, 0, 0], dtypes: F3,
    attrs: {
      consumed_inputs: { kind: 'ints', required: true }, epsilon: { kind: 'float', default: 1e-5 },
      is_test: { kind: 'int', default: 0 }, momentum: { kind: 'float', default: 0.9 }, spatial: { kind: 'int', default: 1 },
    },
    training: (node, attrs) => attrs.int('is_test') === 0 && multipleOutputs(node),
  },
  {
    since: 6, outputs: 5, groups: [0, 0, 0], dtypes: F3,
    attrs: {
      epsilon: { kind: 'float', default: 1e-5 }, is_test: { kind: 'int', default: 0 },
      momentum: { kind: 'float', default: 0.9 }, spatial: { kind: 'int', default: 1 },
    },
    training: (node, attrs) => attrs.int('is_test') === 0 && multipleOutputs(node),
  },
  {
    since: 7, outputs: 5, groups: [0, 0, 0], dtypes: F3,
    attrs: { epsilon: { kind: 'float', default: 1e-5 }, momentum: { kind: 'float', default: 0.9 }, spatial: { kind: 'int', default: 1 } },
    training: multipleOutputs,
  },
  {
    since: 9, outputs: 5, groups: [0, 0, 0], dtypes: F3,
    attrs: { epsilon: { kind: 'float', default: 1e-5 }, momentum: { kind: 'float', default: 0.9 } },
    training: multipleOutputs,
  },
  {
    since: 14, outputs: 3, groups: [0, 0, 1], dtypes: F4,
    attrs: { epsilon: { kind: 'float', default: 1e-5 }, momentum: { kind: 'float', default: 0.9 }, training_mode: { kind: 'int', default: 0 } },
    training: (_, attrs) => attrs.int('training_mode') !== 0,
  },
  {
    since: 15, outputs: 3, groups: [0, 1, 2], dtypes: F4,
    attrs: { epsilon: { kind: 'float', default: 1e-5 }, momentum: { kind: 'float', default: 0.9 }, training_mode: { kind: 'int', default: 0 } },
    training: (_, attrs) => attrs.int('training_mode') !== 0,
  },
];

function instanceNormSchema(since: number, attrs: Record<string, AttrSpec>): OpSchema {
  return {
    name: 'InstanceNormalization', since, inputs: [3, 3], outputs: [1, 1], attrs,
    infer(ctx) {
      const x = ctx.tensorInput(0);
      checkDtype(x.dtype, F3, 'input');
      checkSameDtype(x.dtype, ctx.tensorInput(1).dtype, 'scale');
      checkSameDtype(x.dtype, ctx.tensorInput(2).dtype, 'B');
      if (x.shape && x.shape.length < 2) throw new TesseraError(`input must have rank at least 2 (N, C), got shape ${shapeStr(x.shape)}`);
      return [tensorType(x.dtype, x.shape)];
    },
    run(ctx) {
      const x = ctx.tensor(0), scale = ctx.tensor(1), bias = ctx.tensor(2);
      if (x.rank < 2) throw new TesseraError(`input must have rank at least 2 (N, C), got shape ${shapeStr(x.shape)}`);
      const N = x.shape[0]!, C = x.shape[1]!, inner = product(x.shape.slice(2));
      if (scale.size !== C || bias.size !== C) throw new TesseraError(`scale and B must have ${C} values, got ${scale.size} and ${bias.size}`);
      const eps = ctx.attrs.float('epsilon');
      const xd = x.data as FloatData, sd = scale.data as FloatData, bd = bias.data as FloatData;
      const y = allocFloat(x.dtype, x.size);
      for (let n = 0; n < N; n++) for (let c = 0; c < C; c++) {
        const b = (n * C + c) * inner;
        let mean = 0;
        for (let i = b; i < b + inner; i++) mean += xd[i]!;
        mean /= inner;
        let v = 0;
        for (let i = b; i < b + inner; i++) { const d = xd[i]! - mean; v += d * d; }
        v /= inner;
        const mul = sd[c]! / Math.sqrt(v + eps), add = bd[c]!;
        for (let i = b; i < b + inner; i++) y[i] = (xd[i]! - mean) * mul + add;
      }
      roundFloatsInPlace(x.dtype, y);
      return [new Tensor(x.dtype, x.shape, y)];
    },
  };
}

function lrnSchema(since: number, dtypes: readonly DType[]): OpSchema {
  return {
    name: 'LRN', since, inputs: [1, 1], outputs: [1, 1],
    attrs: {
      alpha: { kind: 'float', default: 1e-4 }, beta: { kind: 'float', default: 0.75 },
      bias: { kind: 'float', default: 1 }, size: { kind: 'int', required: true },
    },
    infer(ctx) {
      const x = ctx.tensorInput(0);
      checkDtype(x.dtype, dtypes, 'input X');
      if (x.shape && x.shape.length < 2) throw new TesseraError(`input must have rank at least 2 (N, C), got shape ${shapeStr(x.shape)}`);
      return [tensorType(x.dtype, x.shape)];
    },
    run(ctx) {
      const x = ctx.tensor(0);
      if (x.rank < 2) throw new TesseraError(`input must have rank at least 2 (N, C), got shape ${shapeStr(x.shape)}`);
      const size = ctx.attrs.int('size');
      if (size < 1) throw new TesseraError(`size must be positive, got ${size}`);
      const alpha = ctx.attrs.float('alpha'), beta = ctx.attrs.float('beta'), bias = ctx.attrs.float('bias');
      const N = x.shape[0]!, C = x.shape[1]!, inner = product(x.shape.slice(2));
      const before = Math.floor((size - 1) / 2), after = Math.ceil((size - 1) / 2);
      const xd = x.data as FloatData;
      const sq = new Float64Array(x.size);
      for (let i = 0; i < sq.length; i++) sq[i] = xd[i]! * xd[i]!;
      const y = allocFloat(x.dtype, x.size);
      const k = alpha / size;
      for (let n = 0; n < N; n++) for (let c = 0; c < C; c++) {
        const c0 = Math.max(0, c - before), c1 = Math.min(C - 1, c + after);
        const b = (n * C + c) * inner;
        for (let i = 0; i < inner; i++) {
          let s = 0;
          for (let cc = c0; cc <= c1; cc++) s += sq[(n * C + cc) * inner + i]!;
          y[b + i] = xd[b + i]! / (bias + k * s) ** beta;
        }
      }
      roundFloatsInPlace(x.dtype, y);
      return [new Tensor(x.dtype, x.shape, y)];
    },
  };
}

// ---------- quantization ----------

/** Scale and zero point lookups of (De)QuantizeLinear: per tensor, or per slice along `axis` (opset 13). */
function quantParams(ctx: RunContext, x: Tensor, scale: Tensor, zp: Tensor | undefined): { axis: number; inner: number; len: number } {
  if (scale.size === 1 && (zp === undefined || zp.size === 1)) return { axis: -1, inner: 1, len: 1 };
  if (ctx.opset < 13) throw new TesseraError(`scale and zero point must be scalars before opset 13, got shape ${shapeStr(scale.shape)}`);
  const axis = normAxis(ctx.attrs.int('axis', 1), x.rank);
  const len = x.shape[axis]!;
  if (scale.rank !== 1 || scale.size !== len) throw new TesseraError(`scale must be a scalar or have shape [${len}] (axis ${axis}), got ${shapeStr(scale.shape)}`);
  if (zp && (zp.rank !== 1 || zp.size !== len) && zp.size !== 1) throw new TesseraError(`zero point must match the scale's shape [${len}], got ${shapeStr(zp.shape)}`);
  return { axis, inner: product(x.shape.slice(axis + 1)), len };
}

function quantizeSchema(since: number): OpSchema {
  return {
    name: 'QuantizeLinear', since, inputs: [2, 3], outputs: [1, 1],
    attrs: since >= 13 ? { axis: { kind: 'int', default: 1 } } : undefined,
    infer(ctx) {
      const x = ctx.tensorInput(0);
      checkDtype(x.dtype, ['f32', 'i32'], 'input x');
      checkDtype(ctx.tensorInput(1).dtype, ['f32'], 'y_scale');
      const zp = ctx.inputType(2) ? ctx.tensorInput(2) : undefined;
      if (zp) checkDtype(zp.dtype, Q8, 'y_zero_point');
      return [tensorType(zp?.dtype ?? 'u8', x.shape)];
    },
    run(ctx) {
      const x = ctx.tensor(0), scale = ctx.tensor(1), zp = ctx.optTensor(2);
      const dtype = zp?.dtype ?? 'u8';
      const { axis, inner, len } = quantParams(ctx, x, scale, zp);
      const [lo, hi] = quantRange(dtype);
      const out = Tensor.zeros(dtype, x.shape);
      const xd = x.data as NumberArray, sd = scale.data as Float32Array, zd = zp?.data as NumberArray | undefined, od = out.data as NumberArray;
      // float32 division for float input; numpy divides int32 input in float64
      const f32 = x.dtype === 'f32';
      for (let i = 0; i < xd.length; i++) {
        const k = axis < 0 ? 0 : Math.floor(i / inner) % len;
        const q = f32 ? Math.fround(xd[i]! / sd[k]!) : xd[i]! / sd[k]!;
        const v = roundHalfEven(q) + (zd ? zd[zd.length === 1 ? 0 : k]! : 0);
        od[i] = v < lo ? lo : v > hi ? hi : v;
      }
      return [out];
    },
  };
}

function dequantizeSchema(since: number): OpSchema {
  return {
    name: 'DequantizeLinear', since, inputs: [2, 3], outputs: [1, 1],
    attrs: since >= 13 ? { axis: { kind: 'int', default: 1 } } : undefined,
    infer(ctx) {
      const x = ctx.tensorInput(0);
      checkDtype(x.dtype, ['i8', 'u8', 'i32'], 'input x');
      checkDtype(ctx.tensorInput(1).dtype, ['f32'], 'x_scale');
      if (ctx.inputType(2)) checkSameDtype(x.dtype, ctx.tensorInput(2).dtype, 'x_zero_point');
      return [tensorType('f32', x.shape)];
    },
    run(ctx) {
      const x = ctx.tensor(0), scale = ctx.tensor(1), zp = ctx.optTensor(2);
      if (zp) checkSameDtype(x.dtype, zp.dtype, 'x_zero_point');
      const { axis, inner, len } = quantParams(ctx, x, scale, zp);
      const xd = x.data as NumberArray, sd = scale.data as Float32Array, zd = zp?.data as NumberArray | undefined;
      const y = new Float32Array(x.size);
      for (let i = 0; i < xd.length; i++) {
        const k = axis < 0 ? 0 : Math.floor(i / inner) % len;
        const z = zd ? zd[zd.length === 1 ? 0 : k]! : 0;
        y[i] = Math.fround(Math.fround(xd[i]! - z) * sd[k]!);
      }
      return [new Tensor('f32', x.shape, y)];
    },
  };
}

const dynamicQuantizeSchema: OpSchema = {
  name: 'DynamicQuantizeLinear', since: 11, inputs: [1, 1], outputs: [3, 3],
  infer(ctx) {
    const x = ctx.tensorInput(0);
    checkDtype(x.dtype, ['f32'], 'input x');
    return [tensorType('u8', x.shape), tensorType('f32', []), tensorType('u8', [])];
  },
  run(ctx) {
    const x = ctx.tensor(0);
    const xd = x.data as Float32Array;
    let mn = 0, mx = 0;
    for (let i = 0; i < xd.length; i++) { const v = xd[i]!; if (v < mn) mn = v; if (v > mx) mx = v; }
    // float32 steps of the ONNX reference; an all-zero input gets scale 1/255 rather than 0
    const scale = Math.fround(Math.fround(mx === mn ? 1 : mx - mn) / 255);
    const zpf = Math.fround(0 - Math.fround(mn / scale));
    const zp = roundHalfEven(Math.min(255, Math.max(0, zpf)));
    const y = new Uint8Array(xd.length);
    for (let i = 0; i < xd.length; i++) {
      const v = roundHalfEven(Math.fround(xd[i]! / scale)) + zp;
      y[i] = v < 0 ? 0 : v > 255 ? 255 : v;
    }
    return [new Tensor('u8', x.shape, y), Tensor.scalar('f32', scale), Tensor.scalar('u8', zp)];
  },
};

// ---------- registration ----------

registerOps([
  convSchema(1), convSchema(11),
  convTransposeSchema(1), convTransposeSchema(11),
  convIntegerSchema, qLinearConvSchema,
  matMulSchema(1, F3), matMulSchema(9, MATMUL_9), matMulSchema(13, MATMUL_13),
  matMulIntegerSchema, qLinearMatMulSchema,
  gemmSchema(1, F3, 3, true), gemmSchema(6, F3, 3, true), gemmSchema(7, F3, 3, false),
  gemmSchema(9, MATMUL_9, 3, false), gemmSchema(11, MATMUL_9, 2, false), gemmSchema(13, MATMUL_13, 2, false),
  averagePoolSchema(1, {}),
  averagePoolSchema(7, { count_include_pad: { kind: 'int', default: 0 } }),
  averagePoolSchema(10, { count_include_pad: { kind: 'int', default: 0 }, ceil_mode: { kind: 'int', default: 0 } }),
  averagePoolSchema(11, { count_include_pad: { kind: 'int', default: 0 }, ceil_mode: { kind: 'int', default: 0 } }),
  maxPoolSchema(1, {}, F3, 1),
  maxPoolSchema(8, { storage_order: { kind: 'int', default: 0 } }, F3, 2),
  ...[10, 11].map((s) => maxPoolSchema(s, {
    storage_order: { kind: 'int', default: 0 }, ceil_mode: { kind: 'int', default: 0 }, dilations: { kind: 'ints' },
  }, F3, 2)),
  maxPoolSchema(12, {
    storage_order: { kind: 'int', default: 0 }, ceil_mode: { kind: 'int', default: 0 }, dilations: { kind: 'ints' },
  }, [...F3, 'i8', 'u8'], 2),
  maxUnpoolSchema(9), maxUnpoolSchema(11),
  lpPoolSchema(1), lpPoolSchema(2), lpPoolSchema(11), lpPoolSchema(18),
  globalPoolSchema('GlobalAveragePool', 1, 'avg'),
  globalPoolSchema('GlobalMaxPool', 1, 'max'),
  globalPoolSchema('GlobalLpPool', 1, 'lp', { p: { kind: 'float', default: 2 } }),
  globalPoolSchema('GlobalLpPool', 2, 'lp', { p: { kind: 'int', default: 2 } }),
  ...BATCH_NORM_VERSIONS.map(batchNormSchema),
  instanceNormSchema(1, { consumed_inputs: { kind: 'ints' }, epsilon: { kind: 'float', default: 1e-5 } }),
  instanceNormSchema(6, { epsilon: { kind: 'float', default: 1e-5 } }),
  lrnSchema(1, F3), lrnSchema(13, F4),
  quantizeSchema(10), quantizeSchema(13),
  dequantizeSchema(10), dequantizeSchema(13),
  dynamicQuantizeSchema,
]);
