// Focused tests of the signal, text, random and training ops in ir/ops/misc.ts.
import { describe, expect, it } from 'vitest';
import { importOnnx } from '../../compiler/onnx/import.ts';
import { makeRunContext } from '../../ir/context.ts';
import { Node, Value, type Attr } from '../../ir/graph.ts';
import { inferModel } from '../../ir/infer.ts';
import { seededRandom } from '../../ir/random.ts';
import { lookupOp } from '../../ir/registry.ts';
import { Tensor } from '../../ir/tensor.ts';
import { typeToString } from '../../ir/types.ts';
import '../../ir/ops/misc.ts';
import { buildModel } from '../util/onnx-builder.ts';

type AttrValue = number | number[] | string | string[] | { float: number } | { floats: number[] };

function toAttr(v: AttrValue): Attr {
  if (typeof v === 'number') return { kind: 'int', value: v };
  if (typeof v === 'string') return { kind: 'string', value: v };
  if (Array.isArray(v)) {
    return v.every((x) => typeof x === 'string') ? { kind: 'strings', value: v as string[] } : { kind: 'ints', value: v as number[] };
  }
  return 'float' in v ? { kind: 'float', value: v.float } : { kind: 'floats', value: v.floats };
}

function run(
  op: string, inputs: (Tensor | undefined)[], attrs: Record<string, AttrValue> = {},
  opts: { domain?: string; opset?: number; outputs?: number; seed?: number } = {},
): Tensor[] {
  const domain = opts.domain ?? '';
  const opset = opts.opset ?? 17;
  const schema = lookupOp(domain, op, opset);
  if (!schema) throw new Error(`no schema for ${op}`);
  const node = new Node('n', op, domain,
    inputs.map((t, i) => (t ? new Value(`in${i}`, undefined) : null)),
    Array.from({ length: opts.outputs ?? 1 }, (_, i) => new Value(`out${i}`, undefined)),
    new Map(Object.entries(attrs).map(([k, v]) => [k, toAttr(v)])));
  const ctx = makeRunContext(node, schema, opset, inputs, () => { throw new Error('no sub-graphs'); }, seededRandom(opts.seed ?? 1));
  return schema.run(ctx) as Tensor[];
}

/** Naive complex DFT for checking (sign -1 forward). */
function naiveDft(re: number[], im: number[], inverse = false): [number[], number[]] {
  const n = re.length, s = inverse ? 1 : -1;
  const outRe: number[] = [], outIm: number[] = [];
  for (let k = 0; k < n; k++) {
    let sr = 0, si = 0;
    for (let j = 0; j < n; j++) {
      const a = (s * 2 * Math.PI * j * k) / n;
      sr += re[j]! * Math.cos(a) - im[j]! * Math.sin(a);
      si += re[j]! * Math.sin(a) + im[j]! * Math.cos(a);
    }
    outRe.push(inverse ? sr / n : sr); outIm.push(inverse ? si / n : si);
  }
  return [outRe, outIm];
}

describe('DFT', () => {
  // Lengths exercise radix-2 (16), the direct sum (7) and Bluestein (100).
  for (const n of [16, 7, 100]) {
    it(`matches a naive complex DFT for length ${n}`, () => {
      const rnd = seededRandom(n);
      const re = Array.from({ length: n }, () => rnd() - 0.5), im = Array.from({ length: n }, () => rnd() - 0.5);
      const x = Tensor.from('f64', [1, n, 2], re.flatMap((r, i) => [r, im[i]!]));
      const [y] = run('DFT', [x]);
      const [er, ei] = naiveDft(re, im);
      expect(y!.shape).toEqual([1, n, 2]);
      for (let k = 0; k < n; k++) {
        expect(y!.data[2 * k] as number).toBeCloseTo(er[k]!, 9);
        expect(y!.data[2 * k + 1] as number).toBeCloseTo(ei[k]!, 9);
      }
      const [back] = run('DFT', [y], { inverse: 1 });
      for (let j = 0; j < n; j++) expect(back!.data[2 * j] as number).toBeCloseTo(re[j]!, 9);
    });
  }

  it('zero-pads to dft_length and keeps floor(n/2)+1 bins when onesided', () => {
    const x = Tensor.from('f32', [1, 3, 1], [1, 2, 3]);
    const [y] = run('DFT', [x, Tensor.scalar('i64', 6)], { onesided: 1 });
    expect(y!.shape).toEqual([1, 4, 2]);
    const [er, ei] = naiveDft([1, 2, 3, 0, 0, 0], [0, 0, 0, 0, 0, 0]);
    for (let k = 0; k < 4; k++) {
      expect(y!.data[2 * k] as number).toBeCloseTo(er[k]!, 5);
      expect(y!.data[2 * k + 1] as number).toBeCloseTo(ei[k]!, 5);
    }
  });

  it('transforms along an inner axis with a batch', () => {
    // [batch 2, 3, 2, real]: transform axis 1 (length 3) for each of the 2 columns.
    const vals = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];
    const [y] = run('DFT', [Tensor.from('f32', [2, 3, 2, 1], vals)], { axis: 1 });
    expect(y!.shape).toEqual([2, 3, 2, 2]);
    const [er] = naiveDft([8, 10, 12], [0, 0, 0]); // batch 1, column 1
    for (let k = 0; k < 3; k++) expect(y!.data[((1 * 3 + k) * 2 + 1) * 2] as number).toBeCloseTo(er[k]!, 4);
  });

  it('rejects the trailing real/imaginary axis and bad last dims', () => {
    expect(() => run('DFT', [Tensor.zeros('f32', [1, 4, 1])], { axis: 2 })).toThrow(/axis 2 is out of range for rank 3/);
    expect(() => run('DFT', [Tensor.zeros('f32', [1, 4, 3])])).toThrow(/must be 1 \(real\) or 2 \(complex\)/);
  });
});

describe('STFT', () => {
  it('frames a signal and checks window against frame_length', () => {
    const sig = Tensor.from('f32', [1, 10, 1], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const [y] = run('STFT', [sig, Tensor.scalar('i64', 3), undefined, Tensor.scalar('i64', 4)]);
    expect(y!.shape).toEqual([1, 3, 3, 2]);
    // Frame 1 is [3,4,5,6]; its DC bin is their sum.
    expect(y!.data[(1 * 3 + 0) * 2]).toBeCloseTo(18, 5);
    expect(() => run('STFT', [sig, Tensor.scalar('i64', 3), Tensor.zeros('f32', [5]), Tensor.scalar('i64', 4)]))
      .toThrow(/window length 5 differs from frame_length 4/);
    expect(() => run('STFT', [sig, Tensor.scalar('i64', 3), undefined, Tensor.scalar('i64', 11)]))
      .toThrow(/shorter than the frame length/);
  });

  it('infers static shapes from constant inputs and symbolic ones otherwise', () => {
    const bytes = buildModel({
      inputs: [{ name: 's', dtype: 'f32', shape: [2, 64, 1] }, { name: 'step', dtype: 'i64', shape: [] }],
      outputs: [{ name: 'y', dtype: 'f32' }, { name: 'z', dtype: 'f32' }],
      initializers: { len: Tensor.scalar('i64', 16), step8: Tensor.scalar('i64', 8) },
      nodes: [
        { op: 'STFT', inputs: ['s', 'step8', '', 'len'], outputs: ['y'] },
        { op: 'STFT', inputs: ['s', 'step', '', 'len'], outputs: ['z'] },
      ],
    });
    const model = importOnnx(bytes);
    inferModel(model);
    const [y, z] = model.graph.outputs;
    expect(typeToString(y!.type)).toBe('f32[2,7,9,2]');
    expect(typeToString(z!.type)).toMatch(/^f32\[2,_d\d+,9,2\]$/);
  });
});

describe('window functions', () => {
  it('computes periodic and symmetric windows', () => {
    const [hann] = run('HannWindow', [Tensor.scalar('i32', 4)]);
    expect(Array.from(hann!.data as Float32Array)).toEqual([0, 0.5, 1, 0.5]);
    const [sym] = run('HannWindow', [Tensor.scalar('i64', 3)], { periodic: 0 });
    expect(Array.from(sym!.data as Float32Array)).toEqual([0, 1, 0]);
    const [one] = run('BlackmanWindow', [Tensor.scalar('i32', 1)], { periodic: 0 });
    expect(Array.from(one!.data as Float32Array)).toEqual([1]);
  });

  it('casts to the requested output_datatype', () => {
    const [w] = run('HammingWindow', [Tensor.scalar('i32', 4)], { output_datatype: 7 });
    expect(w!.dtype).toBe('i64');
    expect(Array.from(w!.data as BigInt64Array)).toEqual([0n, 0n, 1n, 0n]);
    expect(() => run('HannWindow', [Tensor.scalar('i32', -2)])).toThrow(/size must be an integer ≥ 0/);
  });
});

describe('MelWeightMatrix', () => {
  it('rejects an upper edge above the Nyquist frequency', () => {
    const ins = [Tensor.scalar('i32', 8), Tensor.scalar('i32', 16), Tensor.scalar('i32', 8000), Tensor.scalar('f32', 0), Tensor.scalar('f32', 8000)];
    expect(() => run('MelWeightMatrix', ins)).toThrow(/beyond the last of 9 bins/);
  });
});

describe('TfIdfVectorizer', () => {
  const common = { min_gram_length: 1, max_gram_length: 2, max_skip_count: 0, ngram_counts: [0, 3] };

  it('matches string pools and applies weights per output coordinate', () => {
    const attrs = { ...common, mode: 'TFIDF', pool_strings: ['a', 'b', 'c', 'a', 'b'], ngram_indexes: [0, 1, 2, 3], weights: { floats: [1, 2, 3, 0.5] } };
    const x = Tensor.from('string', [2, 4], ['a', 'b', 'a', 'b', 'c', 'c', 'x', 'a']);
    const [y] = run('TfIdfVectorizer', [x], attrs, { opset: 9 });
    expect(y!.shape).toEqual([2, 4]);
    // Row 0: a×2, b×2, (a b)×2. Row 1: c×2, a×1.
    expect(Array.from(y!.data as Float32Array)).toEqual([2, 4, 0, 1, 1, 0, 6, 0]);
    const [idf] = run('TfIdfVectorizer', [x], { ...attrs, mode: 'IDF' }, { opset: 9 });
    expect(Array.from(idf!.data as Float32Array)).toEqual([1, 2, 0, 0.5, 1, 0, 3, 0]);
  });

  it('counts skip-grams and validates the pool against its input type', () => {
    const attrs = { min_gram_length: 2, max_gram_length: 2, max_skip_count: 1, ngram_counts: [0, 0], mode: 'TF', pool_int64s: [1, 2], ngram_indexes: [0] };
    const [y] = run('TfIdfVectorizer', [Tensor.from('i64', [4], [1, 9, 2, 2])], attrs, { opset: 9 });
    expect(Array.from(y!.data as Float32Array)).toEqual([1]);
    expect(() => run('TfIdfVectorizer', [Tensor.from('string', [1], ['a'])], attrs, { opset: 9 })).toThrow(/pool_int64s needs i32 or i64/);
  });
});

describe('StringNormalizer', () => {
  it('drops stopwords case-insensitively and returns [1,1] of "" when all are dropped', () => {
    const [y] = run('StringNormalizer', [Tensor.from('string', [1, 2], ['MONDAY', 'Monday'])], { stopwords: ['monday'] }, { opset: 10 });
    expect(y!.shape).toEqual([1, 1]);
    expect(y!.data).toEqual(['']);
    const [z] = run('StringNormalizer', [Tensor.from('string', [3], ['Straße', 'éa', 'x'])], { case_change_action: 'UPPER' }, { opset: 10 });
    expect(z!.data).toEqual(['STRAßE', 'ÉA', 'X']);
    expect(() => run('StringNormalizer', [Tensor.from('string', [2, 2], ['a', 'b', 'c', 'd'])], {}, { opset: 10 }))
      .toThrow(/\[C\] or \[1, C\]/);
  });
});

describe('random ops', () => {
  it('produce the requested dtype, shape and range', () => {
    const [u] = run('RandomUniform', [], { shape: [3, 4], dtype: 11, low: { float: 2 }, high: { float: 3 } });
    expect(u!.dtype).toBe('f64');
    expect(u!.shape).toEqual([3, 4]);
    for (const v of u!.data as Float64Array) expect(v >= 2 && v < 3).toBe(true);
    const [n] = run('RandomNormalLike', [Tensor.zeros('f16', [5])]);
    expect(n!.dtype).toBe('f16');
    expect(() => run('RandomUniformLike', [Tensor.zeros('i32', [2])])).toThrow(/must be one of f16, f32, f64/);
    expect(lookupOp('', 'RandomNormal', 17)!.nondeterministic).toBe(true);
  });

  it('Bernoulli is exact at p = 0 and 1; Multinomial picks a dominant class', () => {
    const [b] = run('Bernoulli', [Tensor.from('f32', [4], [0, 1, 1, 0])], { dtype: 9 }, { opset: 15 });
    expect(b!.dtype).toBe('bool');
    expect(Array.from(b!.data as Uint8Array)).toEqual([0, 1, 1, 0]);
    expect(() => run('Bernoulli', [Tensor.from('f32', [1], [1.5])], {}, { opset: 15 })).toThrow(/outside \[0, 1\]/);
    const [m] = run('Multinomial', [Tensor.from('f32', [2, 3], [0, 100, 0, -100, -100, 0])], { sample_size: 3, dtype: 7 });
    expect(m!.shape).toEqual([2, 3]);
    expect(Array.from(m!.data as BigInt64Array)).toEqual([1n, 1n, 1n, 2n, 2n, 2n]);
  });
});

describe('ai.onnx.preview.training', () => {
  it('Momentum broadcasts and takes the full gradient at T = 0', () => {
    const outs = run('Momentum', [Tensor.scalar('f32', 0.1), Tensor.scalar('i64', 0), Tensor.from('f32', [2], [1, 2]),
      Tensor.from('f32', [2], [0.5, -1]), Tensor.scalar('f32', 1)],
    { alpha: { float: 0.5 }, beta: { float: 0.25 }, mode: 'standard', norm_coefficient: { float: 0 } },
    { domain: 'ai.onnx.preview.training', opset: 1, outputs: 2 });
    expect(Array.from(outs[1]!.data as Float32Array)).toEqual([1, -0.5]); // 0.5·1 + 1·g
    expect(outs[0]!.data[0]).toBeCloseTo(0.9, 6);
  });

  it('Gradient is a clean unsupported error, not an unknown op', () => {
    const bytes = buildModel({
      inputs: [{ name: 'a', dtype: 'f32', shape: [] }],
      outputs: [{ name: 'g', dtype: 'f32', shape: [] }],
      nodes: [{ op: 'Gradient', domain: 'ai.onnx.preview.training', inputs: ['a'], outputs: ['g'], attrs: { xs: ['a'], y: 'a' } }],
      extraOpsets: { 'ai.onnx.preview.training': 1 },
    });
    expect(() => inferModel(importOnnx(bytes))).toThrow(/training-only ops are out of scope for an inference compiler/);
  });
});
