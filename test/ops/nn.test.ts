// Focused tests of the convolution, matrix, pooling, normalization and quantization ops in ir/ops/nn.ts.
import { describe, expect, it } from 'vitest';
import { importOnnx } from '../../compiler/onnx/import.ts';
import { makeRunContext } from '../../ir/context.ts';
import { Node, Value, type Attr } from '../../ir/graph.ts';
import { inferModel } from '../../ir/infer.ts';
import { seededRandom } from '../../ir/random.ts';
import { lookupOp } from '../../ir/registry.ts';
import { Tensor } from '../../ir/tensor.ts';
import type { DType } from '../../ir/dtype.ts';
import { typeToString } from '../../ir/types.ts';
import '../../ir/ops/nn.ts';
import { buildModel, type ModelSpec } from '../util/onnx-builder.ts';

type AttrValue = number | number[] | string | { float: number };

function toAttr(v: AttrValue): Attr {
  if (typeof v === 'number') return { kind: 'int', value: v };
  if (typeof v === 'string') return { kind: 'string', value: v };
  if (Array.isArray(v)) return { kind: 'ints', value: v };
  return { kind: 'float', value: v.float };
}

function run(op: string, inputs: (Tensor | undefined)[], attrs: Record<string, AttrValue> = {},
  opts: { opset?: number; outputs?: number } = {}): Tensor[] {
  const opset = opts.opset ?? 17;
  const schema = lookupOp('', op, opset);
  if (!schema) throw new Error(`no schema for ${op}`);
  const node = new Node('n', op, '',
    inputs.map((t, i) => (t ? new Value(`in${i}`, undefined) : null)),
    Array.from({ length: opts.outputs ?? 1 }, (_, i) => new Value(`out${i}`, undefined)),
    new Map(Object.entries(attrs).map(([k, v]) => [k, toAttr(v)])));
  const ctx = makeRunContext(node, schema, opset, inputs, () => { throw new Error('no sub-graphs'); }, () => 0.5);
  return schema.run(ctx) as Tensor[];
}

function inferOutputs(spec: ModelSpec): string[] {
  const model = importOnnx(buildModel(spec));
  inferModel(model);
  return model.graph.outputs.map((v) => typeToString(v.type));
}

const rand = seededRandom(7);
function randomTensor(dtype: DType, shape: number[]): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return Tensor.from(dtype, shape, Array.from({ length: n }, () => Math.round((rand() * 2 - 1) * 64) / 32));
}

const values = (t: Tensor) => Array.from(t.data as ArrayLike<number>);

function expectClose(actual: Tensor, expected: number[], tol = 1e-4): void {
  expect(actual.size).toBe(expected.length);
  const a = values(actual);
  for (let i = 0; i < a.length; i++) {
    if (Math.abs(a[i]! - expected[i]!) > tol * (1 + Math.abs(expected[i]!))) {
      throw new Error(`element ${i}: got ${a[i]}, expected ${expected[i]}`);
    }
  }
}

/** Odometer over a shape, calling f with each multi-index. */
function forEachIndex(shape: readonly number[], f: (idx: number[]) => void): void {
  const n = shape.reduce((a, b) => a * b, 1);
  const idx = new Array<number>(shape.length).fill(0);
  for (let i = 0; i < n; i++) {
    f(idx);
    for (let d = shape.length - 1; d >= 0; d--) { if (++idx[d]! < shape[d]!) break; idx[d] = 0; }
  }
}
const flat = (idx: readonly number[], shape: readonly number[]) => idx.reduce((acc, v, d) => acc * shape[d]! + v, 0);

interface ConvCase { x: number[]; w: number[]; group: number; strides: number[]; dilations: number[]; pads: number[] }

/** Direct-definition convolution (explicit pads). */
function naiveConv(x: Tensor, w: Tensor, b: Tensor | undefined, c: ConvCase): { shape: number[]; data: number[] } {
  const D = c.x.length - 2, [N, C] = c.x as [number, number], M = c.w[0]!, Cg = C / c.group, Mg = M / c.group;
  const k = c.w.slice(2);
  const out = c.x.slice(2).map((n, i) => Math.floor((n + c.pads[i]! + c.pads[i + D]! - ((k[i]! - 1) * c.dilations[i]! + 1)) / c.strides[i]!) + 1);
  const shape = [N, M, ...out];
  const data = new Array<number>(shape.reduce((a, v) => a * v, 1)).fill(0);
  const xd = values(x), wd = values(w), bd = b ? values(b) : undefined;
  forEachIndex(shape, (o) => {
    const [n, m] = o as [number, number];
    const g = Math.floor(m / Mg);
    let s = bd ? bd[m]! : 0;
    for (let ci = 0; ci < Cg; ci++) {
      forEachIndex(k, (kk) => {
        const pos = kk.map((kv, i) => o[i + 2]! * c.strides[i]! + kv * c.dilations[i]! - c.pads[i]!);
        if (pos.some((p, i) => p < 0 || p >= c.x[i + 2]!)) return;
        s += xd[flat([n, g * Cg + ci, ...pos], c.x)]! * wd[flat([m, ci, ...kk], c.w)]!;
      });
    }
    data[flat(o, shape)] = s;
  });
  return { shape, data };
}

/** Direct-definition transposed convolution: every input scatters through the kernel. */
function naiveConvTranspose(x: Tensor, w: Tensor, c: ConvCase & { outputPadding: number[] }): { shape: number[]; data: number[] } {
  const D = c.x.length - 2, [N, C] = c.x as [number, number], Mg = c.w[1]!, M = Mg * c.group, Cg = C / c.group;
  const k = c.w.slice(2);
  const out = c.x.slice(2).map((n, i) => c.strides[i]! * (n - 1) + c.outputPadding[i]! + (k[i]! - 1) * c.dilations[i]! + 1 - c.pads[i]! - c.pads[i + D]!);
  const shape = [N, M, ...out];
  const data = new Array<number>(shape.reduce((a, v) => a * v, 1)).fill(0);
  const xd = values(x), wd = values(w);
  forEachIndex(c.x, (xi) => {
    const [n, ci] = xi as [number, number];
    const g = Math.floor(ci / Cg);
    for (let mi = 0; mi < Mg; mi++) {
      forEachIndex(k, (kk) => {
        const pos = kk.map((kv, i) => xi[i + 2]! * c.strides[i]! + kv * c.dilations[i]! - c.pads[i]!);
        if (pos.some((p, i) => p < 0 || p >= out[i]!)) return;
        data[flat([n, g * Mg + mi, ...pos], shape)] += xd[flat(xi, c.x)]! * wd[flat([ci, mi, ...kk], c.w)]!;
      });
    }
  });
  return { shape, data };
}

describe('Conv', () => {
  const cases: [string, ConvCase][] = [
    ['1-D strided, dilated', { x: [2, 4, 11], w: [6, 4, 3], group: 1, strides: [2], dilations: [2], pads: [1, 2] }],
    ['2-D im2col with asymmetric pads', { x: [1, 3, 7, 9], w: [5, 3, 3, 2], group: 1, strides: [2, 1], dilations: [1, 2], pads: [1, 0, 2, 1] }],
    ['2-D grouped', { x: [2, 6, 5, 5], w: [4, 3, 3, 3], group: 2, strides: [1, 1], dilations: [1, 1], pads: [1, 1, 1, 1] }],
    ['2-D 1x1 (read in place)', { x: [2, 8, 4, 6], w: [5, 8, 1, 1], group: 1, strides: [1, 1], dilations: [1, 1], pads: [0, 0, 0, 0] }],
    ['2-D 1x1 strided', { x: [1, 8, 5, 6], w: [3, 8, 1, 1], group: 1, strides: [2, 2], dilations: [1, 1], pads: [0, 0, 0, 0] }],
    ['depthwise 3x3', { x: [1, 4, 6, 7], w: [4, 1, 3, 3], group: 4, strides: [1, 1], dilations: [1, 1], pads: [1, 1, 1, 1] }],
    ['depthwise 5x5 strided', { x: [1, 3, 9, 8], w: [3, 1, 5, 5], group: 3, strides: [2, 1], dilations: [1, 1], pads: [2, 2, 2, 2] }],
    ['depthwise 7-wide dilated', { x: [1, 2, 5, 20], w: [2, 1, 1, 7], group: 2, strides: [1, 2], dilations: [1, 2], pads: [0, 3, 0, 4] }],
    ['depthwise with multiplier', { x: [2, 3, 5, 5], w: [6, 1, 3, 3], group: 3, strides: [1, 1], dilations: [1, 1], pads: [0, 1, 2, 0] }],
    ['window wider than the input row', { x: [1, 1, 3, 2], w: [2, 1, 3, 5], group: 1, strides: [1, 1], dilations: [1, 1], pads: [1, 2, 1, 2] }],
    ['3-D', { x: [1, 2, 4, 5, 3], w: [3, 2, 2, 3, 2], group: 1, strides: [1, 2, 1], dilations: [2, 1, 1], pads: [0, 1, 1, 1, 0, 0] }],
  ];
  for (const [name, c] of cases) {
    for (const dtype of ['f32', 'f64'] as const) {
      it(`matches the definition: ${name} (${dtype})`, () => {
        const x = randomTensor(dtype, c.x), w = randomTensor(dtype, c.w), b = randomTensor(dtype, [c.w[0]!]);
        const [y] = run('Conv', [x, w, b], { group: c.group, strides: c.strides, dilations: c.dilations, pads: c.pads });
        const ref = naiveConv(x, w, b, c);
        expect(y!.shape).toEqual(ref.shape);
        expectClose(y!, ref.data, dtype === 'f32' ? 1e-5 : 1e-12);
      });
    }
  }

  it('computes SAME_UPPER and SAME_LOWER pads', () => {
    const x = randomTensor('f32', [1, 1, 5, 5]), w = randomTensor('f32', [1, 1, 4, 4]);
    const [upper] = run('Conv', [x, w], { auto_pad: 'SAME_UPPER', strides: [2, 2] });
    const [lower] = run('Conv', [x, w], { auto_pad: 'SAME_LOWER', strides: [2, 2] });
    const base = { x: [1, 1, 5, 5], w: [1, 1, 4, 4], group: 1, strides: [2, 2], dilations: [1, 1] };
    // total pad (3-1)·2 + 4 − 5 = 3: the odd unit goes to the end for SAME_UPPER, the start for SAME_LOWER
    expectClose(upper!, naiveConv(x, w, undefined, { ...base, pads: [1, 1, 2, 2] }).data);
    expectClose(lower!, naiveConv(x, w, undefined, { ...base, pads: [2, 2, 1, 1] }).data);
    expect(upper!.shape).toEqual([1, 1, 3, 3]);
  });

  it('rounds f16 results to half precision', () => {
    const x = Tensor.from('f16', [1, 1, 1, 3], [1, 1, 1]), w = Tensor.from('f16', [1, 1, 1, 3], [0.1, 0.2, 0.3]);
    const [y] = run('Conv', [x, w]);
    expect(y!.dtype).toBe('f16');
    expect(y!.num(0)).toBe(0.60009765625); // 0.1+0.2+0.3 of f16 inputs, rounded to f16
  });

  it('rejects mismatched channels and bias', () => {
    expect(() => run('Conv', [randomTensor('f32', [1, 3, 4, 4]), randomTensor('f32', [2, 2, 3, 3])]))
      .toThrow('input has 3 channels but the weights expect 2');
    expect(() => run('Conv', [randomTensor('f32', [1, 2, 4, 4]), randomTensor('f32', [2, 2, 3, 3]), randomTensor('f32', [3])]))
      .toThrow('bias must have shape [2]');
    expect(() => run('Conv', [randomTensor('f32', [1, 2, 2, 2]), randomTensor('f32', [2, 2, 3, 3])]))
      .toThrow('larger than the padded input');
  });

  it('infers static and symbolic output shapes', () => {
    const spec = (x: (number | string)[], attrs: Record<string, number | number[] | string>): ModelSpec => ({
      inputs: [{ name: 'x', dtype: 'f32', shape: x }], outputs: [{ name: 'y', dtype: 'f32' }],
      initializers: { w: randomTensor('f32', [8, 4, 3, 3]) },
      nodes: [{ op: 'Conv', inputs: ['x', 'w'], outputs: ['y'], attrs }], opset: 11,
    });
    expect(inferOutputs(spec([1, 4, 10, 12], { strides: [2, 2], pads: [1, 1, 1, 1] }))).toEqual(['f32[1,8,5,6]']);
    expect(inferOutputs(spec(['N', 4, 'H', 'W'], { pads: [1, 1, 1, 1] }))).toEqual(['f32[N,8,H,W]']);
    expect(inferOutputs(spec(['N', 4, 'H', 7], { auto_pad: 'SAME_UPPER', strides: [1, 2] }))).toEqual(['f32[N,8,H,4]']);
  });
});

describe('ConvTranspose', () => {
  const cases: [string, ConvCase & { outputPadding: number[] }][] = [
    ['1-D', { x: [1, 2, 5], w: [2, 3, 3], group: 1, strides: [2], dilations: [1], pads: [0, 0], outputPadding: [1] }],
    ['2-D pads, dilation, output padding', { x: [2, 3, 4, 3], w: [3, 2, 3, 2], group: 1, strides: [3, 2], dilations: [1, 2], pads: [1, 0, 2, 1], outputPadding: [2, 1] }],
    ['2-D grouped', { x: [1, 4, 3, 3], w: [4, 3, 2, 2], group: 2, strides: [2, 2], dilations: [1, 1], pads: [0, 0, 0, 0], outputPadding: [0, 0] }],
    ['3-D', { x: [1, 2, 2, 3, 2], w: [2, 2, 2, 2, 3], group: 1, strides: [1, 2, 1], dilations: [1, 1, 2], pads: [0, 1, 0, 0, 0, 1], outputPadding: [0, 1, 0] }],
  ];
  for (const [name, c] of cases) {
    it(`matches the definition: ${name}`, () => {
      const x = randomTensor('f32', c.x), w = randomTensor('f32', c.w);
      const [y] = run('ConvTranspose', [x, w], { group: c.group, strides: c.strides, dilations: c.dilations, pads: c.pads, output_padding: c.outputPadding });
      const ref = naiveConvTranspose(x, w, c);
      expect(y!.shape).toEqual(ref.shape);
      expectClose(y!, ref.data, 1e-5);
    });
  }

  it('splits output_shape padding by opset (11: extra unit at the start unless SAME_UPPER)', () => {
    const x = randomTensor('f32', [1, 1, 3]), w = randomTensor('f32', [1, 1, 3]);
    const full = naiveConvTranspose(x, w, { x: [1, 1, 3], w: [1, 1, 3], group: 1, strides: [2], dilations: [1], pads: [0, 0], outputPadding: [0] }).data;
    // full length 7, requested 4: total padding 3
    expectClose(run('ConvTranspose', [x, w], { strides: [2], output_shape: [4] }, { opset: 11 })[0]!, full.slice(2, 6));
    expectClose(run('ConvTranspose', [x, w], { strides: [2], output_shape: [4], auto_pad: 'SAME_UPPER' }, { opset: 11 })[0]!, full.slice(1, 5));
    expectClose(run('ConvTranspose', [x, w], { strides: [2], output_shape: [4] }, { opset: 1 })[0]!, full.slice(1, 5));
    // larger than the full result: zeros (plus bias) at the end
    const [big] = run('ConvTranspose', [x, w, Tensor.from('f32', [1], [0.5])], { strides: [2], output_shape: [9] });
    expectClose(big!, [...full.map((v) => v + 0.5), 0.5, 0.5]);
  });
});

describe('MatMul and Gemm', () => {
  it('broadcasts batches and handles 1-D operands like numpy', () => {
    const a = randomTensor('f32', [2, 1, 3, 4]), b = randomTensor('f32', [3, 4, 5]);
    const [y] = run('MatMul', [a, b]);
    expect(y!.shape).toEqual([2, 3, 3, 5]);
    const av = values(a), bv = values(b), yv = values(y!);
    for (const [i, j, r, c] of [[1, 2, 0, 4], [0, 1, 2, 3]] as const) {
      let s = 0;
      for (let k = 0; k < 4; k++) s += av[(i * 3 + r) * 4 + k]! * bv[(j * 4 + k) * 5 + c]!;
      expect(yv[((i * 3 + j) * 3 + r) * 5 + c]).toBeCloseTo(s, 5);
    }
    expect(run('MatMul', [randomTensor('f32', [4]), randomTensor('f32', [2, 4, 3])])[0]!.shape).toEqual([2, 3]);
    expect(run('MatMul', [randomTensor('f32', [2, 3, 4]), randomTensor('f32', [4])])[0]!.shape).toEqual([2, 3]);
    expect(run('MatMul', [randomTensor('f32', [4]), randomTensor('f32', [4])])[0]!.shape).toEqual([]);
    expect(() => run('MatMul', [randomTensor('f32', [2, 3]), randomTensor('f32', [4, 2])])).toThrow('inner dimensions differ');
  });

  it('wraps integer products like C', () => {
    const a = Tensor.from('i32', [1, 2], [65536, 3]), b = Tensor.from('i32', [2, 1], [65536, 5]);
    expect(values(run('MatMul', [a, b])[0]!)).toEqual([15]); // 2^32 wraps to 0
    const u = run('MatMul', [Tensor.from('u32', [1, 1], [4294967295]), Tensor.from('u32', [1, 1], [2])])[0]!;
    expect(values(u)).toEqual([4294967294]);
    const big = run('MatMul', [Tensor.from('i64', [1, 1], [2n ** 62n]), Tensor.from('i64', [1, 1], [4n])])[0]!;
    expect(big.data[0]).toBe(0n);
  });

  it('applies transA, transB, alpha, beta and a broadcast C', () => {
    const a = Tensor.from('f32', [3, 2], [1, 2, 3, 4, 5, 6]); // A' = [[1,3,5],[2,4,6]]
    const b = Tensor.from('f32', [2, 3], [1, 0, 1, 0, 1, 1]); // B' = [[1,0],[0,1],[1,1]]
    const c = Tensor.from('f32', [2, 1], [10, 20]);
    const [y] = run('Gemm', [a, b, c], { transA: 1, transB: 1, alpha: { float: 2 }, beta: { float: 0.5 } });
    // A'B' = [[6, 8], [8, 10]]
    expect(values(y!)).toEqual([17, 21, 26, 30]);
    expect(() => run('Gemm', [a, b, c], { transA: 1, transB: 1, broadcast: 0 }, { opset: 6 })).toThrow('expected [2,2] (broadcast is 0)');
    expect(values(run('Gemm', [a, b, c], { transA: 1, transB: 1, broadcast: 1 }, { opset: 6 })[0]!)).toEqual([16, 18, 28, 30]);
  });

  it('quantized matmul rounds half to even and saturates', () => {
    const a = Tensor.from('u8', [1, 2], [3, 4]), b = Tensor.from('u8', [2, 2], [1, 0, 0, 100]);
    const s = (v: number) => Tensor.scalar('f32', v);
    const zp = (v: number) => Tensor.scalar('u8', v);
    // (a−1)·(b−0) = [2, 300]; ×0.25 → [0.5, 75] → round-even [0, 75] + 128 → [128, 203]
    const [y] = run('QLinearMatMul', [a, s(0.5), zp(1), b, s(1), zp(0), s(2), zp(128)]);
    expect(values(y!)).toEqual([128, 203]);
    const [mi] = run('MatMulInteger', [a, Tensor.from('u8', [2, 2], [1, 0, 0, 100]), zp(1)]);
    expect(mi!.dtype).toBe('i32');
    expect(values(mi!)).toEqual([2, 300]);
  });
});

/** Direct-definition pooling with explicit pads and output size. */
function naivePool(x: Tensor, mode: 'max' | 'avg' | 'avgpad' | 'lp3', kernel: number[], strides: number[], dilations: number[],
  pads: number[], out: number[]): number[] {
  const D = kernel.length, xs = x.shape, xd = values(x);
  const shape = [xs[0]!, xs[1]!, ...out];
  const res: number[] = [];
  forEachIndex(shape, (o) => {
    const vals: number[] = [];
    let padded = 0;
    forEachIndex(kernel, (kk) => {
      const pos = kk.map((kv, i) => o[i + 2]! * strides[i]! + kv * dilations[i]! - pads[i]!);
      if (pos.every((p, i) => p < xs[i + 2]! + pads[i + D]!)) padded++;
      if (pos.some((p, i) => p < 0 || p >= xs[i + 2]!)) return;
      vals.push(xd[flat([o[0]!, o[1]!, ...pos], xs)]!);
    });
    if (mode === 'max') res.push(Math.max(...vals));
    else if (mode === 'lp3') res.push(vals.reduce((a, v) => a + Math.abs(v) ** 3, 0) ** (1 / 3));
    else res.push(vals.reduce((a, v) => a + v, 0) / (mode === 'avgpad' ? padded : vals.length));
  });
  return res;
}

describe('pooling', () => {
  const cases: { name: string; x: number[]; kernel: number[]; strides: number[]; dilations: number[]; pads: number[]; ceil: number; out: number[] }[] = [
    { name: '2-D padded, strided', x: [1, 2, 6, 7], kernel: [3, 2], strides: [2, 3], dilations: [1, 1], pads: [1, 0, 1, 1], ceil: 0, out: [3, 3] },
    { name: '2-D dilated, ceil mode', x: [2, 1, 7, 6], kernel: [2, 3], strides: [2, 2], dilations: [2, 1], pads: [0, 1, 1, 1], ceil: 1, out: [4, 4] },
    { name: '3-D', x: [1, 2, 4, 5, 3], kernel: [2, 3, 2], strides: [1, 2, 1], dilations: [1, 1, 1], pads: [1, 1, 0, 0, 1, 1], ceil: 0, out: [4, 3, 3] },
  ];
  for (const c of cases) {
    it(`matches the definition: ${c.name}`, () => {
      const x = randomTensor('f32', c.x);
      const common = { kernel_shape: c.kernel, strides: c.strides, pads: c.pads, ceil_mode: c.ceil };
      const dilated = c.dilations.some((d) => d !== 1);
      const [mx] = run('MaxPool', [x], { ...common, dilations: c.dilations });
      expect(mx!.shape).toEqual([c.x[0], c.x[1], ...c.out]);
      expectClose(mx!, naivePool(x, 'max', c.kernel, c.strides, c.dilations, c.pads, c.out));
      if (dilated) return; // AveragePool and LpPool gain dilations only after opset 17
      expectClose(run('AveragePool', [x], common)[0]!, naivePool(x, 'avg', c.kernel, c.strides, c.dilations, c.pads, c.out));
      expectClose(run('AveragePool', [x], { ...common, count_include_pad: 1 })[0]!, naivePool(x, 'avgpad', c.kernel, c.strides, c.dilations, c.pads, c.out));
      if (!c.ceil) {
        expectClose(run('LpPool', [x], { kernel_shape: c.kernel, strides: c.strides, pads: c.pads, p: 3 })[0]!,
          naivePool(x, 'lp3', c.kernel, c.strides, c.dilations, c.pads, c.out));
      }
    });
  }


  it('MaxPool reports argmax indices in row- and column-major order', () => {
    const x = Tensor.from('f32', [1, 1, 2, 3], [1, 9, 2, 7, 3, 8]);
    const [y, i0] = run('MaxPool', [x], { kernel_shape: [2, 2] }, { outputs: 2 });
    expect(values(y!)).toEqual([9, 9]);
    expect(Array.from(i0!.data as BigInt64Array)).toEqual([1n, 1n]);
    const [, i1] = run('MaxPool', [x], { kernel_shape: [2, 2], storage_order: 1 }, { outputs: 2 });
    expect(Array.from(i1!.data as BigInt64Array)).toEqual([2n, 2n]); // (h=0, w=1) → 0 + 1·2
  });

  it('ceil_mode keeps partial windows but drops ones starting in the padding', () => {
    const x = Tensor.from('f32', [1, 1, 5], [1, 2, 3, 4, 5]);
    expect(values(run('MaxPool', [x], { kernel_shape: [2], strides: [2], ceil_mode: 1 })[0]!)).toEqual([2, 4, 5]);
    expect(values(run('MaxPool', [x], { kernel_shape: [2], strides: [2] })[0]!)).toEqual([2, 4]);
    // with a pad of 1 at the end a third window would start in the padding: 2 windows either way
    expect(run('AveragePool', [Tensor.from('f32', [1, 1, 4], [1, 2, 3, 4])], { kernel_shape: [2], strides: [2], pads: [0, 1], ceil_mode: 1 })[0]!.shape).toEqual([1, 1, 2]);
  });

  it('AveragePool counts padding only when asked', () => {
    const x = Tensor.from('f32', [1, 1, 3], [3, 6, 9]);
    expect(values(run('AveragePool', [x], { kernel_shape: [3], pads: [1, 1] })[0]!)).toEqual([4.5, 6, 7.5]);
    expect(values(run('AveragePool', [x], { kernel_shape: [3], pads: [1, 1], count_include_pad: 1 })[0]!)).toEqual([3, 6, 5]);
  });

  it('MaxPool keeps integer dtypes from opset 12', () => {
    const [y] = run('MaxPool', [Tensor.from('i8', [1, 1, 4], [-5, -3, -8, -1])], { kernel_shape: [2], strides: [2] }, { opset: 12 });
    expect(y!.dtype).toBe('i8');
    expect(values(y!)).toEqual([-3, -1]);
  });

  it('MaxUnpool places values at their indices and honours output_shape', () => {
    const x = Tensor.from('f32', [1, 1, 1, 2], [5, 6]), idx = Tensor.from('i64', [1, 1, 1, 2], [1n, 2n]);
    const [y] = run('MaxUnpool', [x, idx], { kernel_shape: [2, 2], strides: [2, 2] });
    expect(y!.shape).toEqual([1, 1, 2, 4]);
    expect(values(y!)).toEqual([0, 5, 6, 0, 0, 0, 0, 0]);
    const [z] = run('MaxUnpool', [x, idx, Tensor.from('i64', [4], [1, 1, 3, 5])], { kernel_shape: [2, 2], strides: [2, 2] });
    expect(values(z!)).toEqual([0, 5, 6, 0, 0, /**/ 0, 0, 0, 0, 0, /**/ 0, 0, 0, 0, 0]);
    expect(() => run('MaxUnpool', [x, Tensor.from('i64', [1, 1, 1, 2], [1n, 8n])], { kernel_shape: [2, 2], strides: [2, 2] }))
      .toThrow('index 8 is out of bounds');
  });

  it('global pools reduce every spatial axis', () => {
    const x = Tensor.from('f32', [1, 2, 2, 2], [1, 2, 3, 4, -1, -2, -3, 5]);
    expect(values(run('GlobalAveragePool', [x])[0]!)).toEqual([2.5, -0.25]);
    expect(values(run('GlobalMaxPool', [x])[0]!)).toEqual([4, 5]);
    expectClose(run('GlobalLpPool', [x], { p: 1 })[0]!, [10, 11]);
    expect(run('GlobalAveragePool', [x])[0]!.shape).toEqual([1, 2, 1, 1]);
  });
});

describe('normalization', () => {
  it('BatchNormalization training mode uses population statistics', () => {
    const x = Tensor.from('f32', [2, 1, 2], [1, 2, 3, 6]);
    const one = Tensor.from('f32', [1], [1]), zero = Tensor.from('f32', [1], [0]);
    const [y, rm, rv] = run('BatchNormalization', [x, one, zero, zero, one], { training_mode: 1, epsilon: { float: 0 }, momentum: { float: 0.5 } }, { opset: 15, outputs: 3 });
    // batch mean 3, population variance 3.5
    expectClose(y!, [1, 2, 3, 6].map((v) => (v - 3) / Math.sqrt(3.5)), 1e-6);
    expectClose(rm!, [1.5]);
    expectClose(rv!, [2.25]);
  });

  it('BatchNormalization opset 6 with spatial=0 normalizes each feature', () => {
    const x = Tensor.from('f32', [1, 1, 2], [4, 9]);
    const f = (a: number[]) => Tensor.from('f32', [1, 2], a);
    const [y] = run('BatchNormalization', [x, f([1, 2]), f([0, 1]), f([2, 1]), f([4, 16])], { is_test: 1, spatial: 0, epsilon: { float: 0 } }, { opset: 6 });
    expectClose(y!, [1, 5]); // (4−2)/2·1 + 0, (9−1)/4·2 + 1
  });

  it('LRN sums squares over neighbouring channels', () => {
    const x = Tensor.from('f32', [1, 3, 1, 1], [1, 2, 3]);
    const [y] = run('LRN', [x], { size: 2, alpha: { float: 2 }, beta: { float: 1 }, bias: { float: 1 } });
    // size 2: channel c sums c−0 … c+1
    expectClose(y!, [1 / (1 + 5), 2 / (1 + 13), 3 / (1 + 9)]);
  });

  it('InstanceNormalization normalizes each (n, c) plane', () => {
    const x = Tensor.from('f32', [1, 2, 2], [1, 3, 10, 10]);
    const [y] = run('InstanceNormalization', [x, Tensor.from('f32', [2], [2, 1]), Tensor.from('f32', [2], [0, 7])], { epsilon: { float: 0 } });
    expectClose(y!, [-2, 2, 7, 7]);
  });
});

describe('quantization', () => {
  it('QuantizeLinear rounds half to even and saturates', () => {
    const x = Tensor.from('f32', [6], [0.5, 1.5, 2.5, -0.5, 300, -300]);
    const [y] = run('QuantizeLinear', [x, Tensor.scalar('f32', 1), Tensor.scalar('i8', 0)]);
    expect(y!.dtype).toBe('i8');
    expect(values(y!)).toEqual([0, 2, 2, 0, 127, -128]);
    const [u] = run('QuantizeLinear', [x, Tensor.scalar('f32', 1)], {}, { opset: 10 });
    expect(u!.dtype).toBe('u8');
    expect(values(u!)).toEqual([0, 2, 2, 0, 255, 0]);
  });

  it('QuantizeLinear and DequantizeLinear work per axis from opset 13', () => {
    const x = Tensor.from('f32', [2, 2], [1, 2, 3, 4]);
    const scale = Tensor.from('f32', [2], [1, 0.5]), zp = Tensor.from('u8', [2], [10, 20]);
    const [q] = run('QuantizeLinear', [x, scale, zp], { axis: 0 });
    expect(values(q!)).toEqual([11, 12, 26, 28]);
    expectClose(run('DequantizeLinear', [q!, scale, zp], { axis: 0 })[0]!, [1, 2, 3, 4]);
    expect(() => run('QuantizeLinear', [x, scale, zp], {}, { opset: 10 })).toThrow('must be scalars before opset 13');
  });

  it('DynamicQuantizeLinear maps the range including zero onto uint8', () => {
    const [y, scale, zp] = run('DynamicQuantizeLinear', [Tensor.from('f32', [3], [-1, 0, 3])], {}, { outputs: 3 });
    expect(scale!.num(0)).toBe(Math.fround(4 / 255));
    expect(zp!.num(0)).toBe(64); // 1 / (4/255) = 63.75
    expect(values(y!)).toEqual([0, 64, 255]);
  });

  it('QLinearConv requantizes per output channel', () => {
    const x = Tensor.from('u8', [1, 1, 1, 2], [12, 14]), w = Tensor.from('i8', [2, 1, 1, 1], [3, -2]);
    const s = (v: number[]) => Tensor.from('f32', [v.length], v);
    const [y] = run('QLinearConv', [x, Tensor.scalar('f32', 1), Tensor.scalar('u8', 10), w, s([1, 2]), Tensor.from('i8', [2], [0, 0]),
      Tensor.scalar('f32', 2), Tensor.scalar('u8', 100), Tensor.from('i32', [2], [1, 0])]);
    // channel 0: (x−10)·3 + 1 = [7, 13] × 0.5 → [4, 6] (3.5 → 4, 6.5 → 6); channel 1: (x−10)·−2 × 1 = [−4, −8]
    expect(values(y!)).toEqual([104, 106, 96, 92]);
  });
});
