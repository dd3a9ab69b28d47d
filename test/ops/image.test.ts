// Tricky semantics of the image ops: Resize coordinate rules (legacy opset-10 nearest, align_corners on a
// non-integer resized length, tf_crop_and_resize extrapolation), shape inference over symbolic dims,
// GridSample padding/rounding, RoiAlign and NonMaxSuppression edge cases, and error messages.
import { describe, expect, it } from 'vitest';
import { makeInferContext, makeRunContext } from '../../ir/context.ts';
import { TesseraError } from '../../ir/errors.ts';
import { Node, Value, type Attr } from '../../ir/graph.ts';
import '../../ir/ops/index.ts';
import { lookupOp } from '../../ir/registry.ts';
import { Tensor } from '../../ir/tensor.ts';
import { tensorType, typeToString, type ValueType } from '../../ir/types.ts';

type Attrs = Record<string, Attr>;
const int = (value: number): Attr => ({ kind: 'int', value });
const float = (value: number): Attr => ({ kind: 'float', value });
const str = (value: string): Attr => ({ kind: 'string', value });

function makeNode(op: string, inputs: unknown[], attrs: Attrs): Node {
  const ins = inputs.map((t, i) => (t === undefined ? null : new Value(`in${i}`, undefined)));
  return new Node('n', op, '', ins, [new Value('out', undefined)], new Map(Object.entries(attrs)));
}

function run(op: string, opset: number, inputs: (Tensor | undefined)[], attrs: Attrs = {}): Tensor {
  const schema = lookupOp('', op, opset)!;
  const ctx = makeRunContext(makeNode(op, inputs, attrs), schema, opset, inputs, () => [], () => 0.5);
  return schema.run(ctx)[0] as Tensor;
}

function infer(op: string, opset: number, types: (ValueType | undefined)[], consts: (Tensor | undefined)[], attrs: Attrs = {}): string {
  const schema = lookupOp('', op, opset)!;
  let n = 0;
  const ctx = makeInferContext(makeNode(op, types, attrs), schema, opset, types, consts, () => `s${n++}`, () => []);
  return typeToString(schema.infer(ctx)[0]);
}

function errorOf(fn: () => unknown): string {
  try { fn(); } catch (e) {
    expect(e).toBeInstanceOf(TesseraError);
    return (e as TesseraError).message;
  }
  throw new Error('expected an error');
}

const values = (t: Tensor) => Array.from(t.data as ArrayLike<number | bigint>, Number);
const f32 = (shape: number[], v: number[]) => Tensor.from('f32', shape, v);
const empty = f32([0], []);

describe('Resize', () => {
  it('opset 10 nearest floors when enlarging and takes the ceiling when shrinking an axis', () => {
    const x = f32([1, 5], [0, 1, 2, 3, 4]);
    expect(values(run('Resize', 10, [x, f32([2], [1, 3])]))).toEqual([0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4]);
    // 5 * 0.6 = 3 outputs at x = 0, 1.67, 3.33 → ceil → 0, 2, 4
    expect(values(run('Resize', 10, [x, f32([2], [1, 0.6])]))).toEqual([0, 2, 4]);
  });

  it('align_corners divides by input*scale, not the integer output length (ONNX test data)', () => {
    const x = f32([1, 1, 2, 4], [1, 2, 3, 4, 5, 6, 7, 8]);
    const y = run('Resize', 13, [x, undefined, f32([4], [1, 1, 0.6, 0.6])],
      { mode: str('linear'), coordinate_transformation_mode: str('align_corners') });
    expect(y.shape).toEqual([1, 1, 1, 2]);
    expect(values(y)[1]).toBeCloseTo(3.142857, 5);
  });

  it('tf_crop_and_resize samples the roi and extrapolates outside the input', () => {
    const x = f32([1, 4], [0, 10, 20, 30]);
    const roi = f32([4], [0, 0.5, 1, 1.5]);
    const y = run('Resize', 13, [x, roi, undefined, Tensor.from('i64', [2], [1, 5])],
      { mode: str('linear'), coordinate_transformation_mode: str('tf_crop_and_resize'), extrapolation_value: float(-1) });
    // x positions 1.5, 2.25, 3, 3.75, 4.5: the last two fall past the input (length 4).
    expect(values(y)).toEqual([15, 22.5, 30, -1, -1]);
  });

  it('cubic on integers truncates and saturates the overshoot', () => {
    const x = Tensor.from('u8', [1, 4], [0, 255, 255, 0]);
    const y = run('Resize', 13, [x, undefined, f32([2], [1, 2])], { mode: str('cubic') });
    const v = values(y);
    expect(v.every((e) => e >= 0 && e <= 255 && Number.isInteger(e))).toBe(true);
    expect(v).toContain(255);
  });

  it('nearest resizes strings and keeps unchanged axes identical', () => {
    const x = Tensor.from('string', [2, 2], ['a', 'b', 'c', 'd']);
    const y = run('Resize', 13, [x, undefined, f32([2], [1, 2])], { coordinate_transformation_mode: str('asymmetric') });
    expect(Array.from(y.data as string[])).toEqual(['a', 'a', 'b', 'b', 'c', 'c', 'd', 'd']);
  });

  it('infers static, preserved and fresh dims (PP-OCR form: opset 11, empty roi, constant scales)', () => {
    const x = tensorType('f32', ['N', 'C', 'H', 8]);
    const scales = f32([4], [1, 1, 2, 2.5]);
    expect(infer('Resize', 11, [x, tensorType('f32', [0]), tensorType('f32', [4])], [undefined, empty, scales],
      { mode: str('nearest'), coordinate_transformation_mode: str('asymmetric'), nearest_mode: str('floor') }))
      .toBe('f32[N,C,s0,20]');
    expect(infer('Resize', 13, [x, undefined, undefined, tensorType('i64', [4])], [undefined, undefined, undefined, Tensor.from('i64', [4], [1, 3, 5, 7])]))
      .toBe('f32[1,3,5,7]');
    expect(infer('Resize', 13, [x, undefined, undefined, tensorType('i64', [4])], [])).toBe('f32[s0,s1,s2,s3]');
  });

  it('rejects scales and sizes together, bad scales and unknown modes', () => {
    const x = f32([1, 2], [1, 2]);
    expect(errorOf(() => run('Resize', 11, [x, empty, f32([2], [1, 2]), Tensor.from('i64', [2], [1, 4])])))
      .toContain('only one of scales and sizes');
    expect(errorOf(() => run('Resize', 13, [x, undefined, f32([2], [1, 0])]))).toContain('scale 0 is invalid');
    expect(errorOf(() => run('Resize', 13, [x, undefined, f32([3], [1, 1, 2])]))).toContain('scales has 3 values but the input has rank 2');
    expect(errorOf(() => run('Resize', 13, [x, undefined, f32([2], [1, 2])], { mode: str('area') }))).toContain("unsupported mode 'area'");
    expect(errorOf(() => run('Resize', 13, [x])) ).toContain('one of scales and sizes must be given');
  });
});

describe('Upsample', () => {
  it('opset 7 takes scales from the attribute and rejects shrinking', () => {
    const x = f32([2], [1, 2]);
    expect(values(run('Upsample', 7, [x], { scales: { kind: 'floats', value: [3] } }))).toEqual([1, 1, 1, 2, 2, 2]);
    expect(errorOf(() => run('Upsample', 9, [x, f32([1], [0.5])]))).toContain('Upsample only enlarges');
  });

  it('is rejected from opset 10 on', () => {
    expect(lookupOp('', 'Upsample', 10)!.unsupported).toContain('deprecated');
  });
});

describe('GridSample', () => {
  const x = f32([1, 1, 1, 4], [0, 1, 2, 3]);
  const grid = (xs: number[]) => f32([1, 1, xs.length, 2], xs.flatMap((v) => [v, 0]));

  it('nearest rounds half to even and zeros padding reads 0 outside', () => {
    // align_corners=0: x = ((g + 1) * 4 - 1) / 2 → g = -0.5 → 0.5 → 0; g = 0 → 1.5 → 2; g = 1.2 → 3.9 → 4 (outside)
    const y = run('GridSample', 16, [x, grid([-0.5, 0, 1.2])], { mode: str('nearest') });
    expect(values(y)).toEqual([0, 2, 0]);
  });

  it('reflection mirrors far-away points back inside', () => {
    // align_corners=1: x = (g + 1) * 1.5 → g = 3 → 6 → reflected about 3 → 0
    const y = run('GridSample', 16, [x, grid([3, -2])], { padding_mode: str('reflection'), align_corners: int(1) });
    expect(values(y)).toEqual([0, 1.5]);
  });

  it('rejects a grid without a last dimension of 2', () => {
    expect(errorOf(() => run('GridSample', 16, [x, f32([1, 1, 1, 3], [0, 0, 0])]))).toContain('grid must have shape');
  });
});

describe('RoiAlign', () => {
  const x = f32([1, 1, 2, 2], [1, 2, 3, 4]);

  it('averages bilinear samples; opset 10 has no half-pixel shift', () => {
    const rois = f32([1, 4], [0, 0, 1, 1]);
    const bi = Tensor.from('i64', [1], [0]);
    expect(values(run('RoiAlign', 10, [x, rois, bi], { sampling_ratio: int(1) }))).toEqual([2.5]);
    // half_pixel shifts the roi to [-0.5, 0.5]: the sample at 0 reads pixel (0, 0).
    expect(values(run('RoiAlign', 16, [x, rois, bi], { sampling_ratio: int(1) }))).toEqual([1]);
  });

  it('checks batch indices', () => {
    const err = errorOf(() => run('RoiAlign', 16, [x, f32([1, 4], [0, 0, 1, 1]), Tensor.from('i64', [1], [3])]));
    expect(err).toContain('batch_indices value 3 is out of bounds for batch size 1');
  });
});

describe('NonMaxSuppression', () => {
  const boxes = f32([1, 3, 4], [0, 0, 1, 1, 0, 0, 1, 1, 5, 5, 6, 6]);

  it('keeps the lower index among equal scores and honours the per-class limit', () => {
    const scores = f32([1, 1, 3], [0.5, 0.5, 0.9]);
    const y = run('NonMaxSuppression', 11, [boxes, scores, Tensor.from('i64', [1], [5]), f32([1], [0.5])]);
    expect(y.shape).toEqual([2, 3]);
    expect(values(y)).toEqual([0, 0, 2, 0, 0, 0]);
    const one = run('NonMaxSuppression', 11, [boxes, scores, Tensor.from('i64', [1], [1])]);
    expect(values(one)).toEqual([0, 0, 2]);
  });

  it('selects nothing without max_output_boxes_per_class and filters by score strictly', () => {
    const scores = f32([1, 1, 3], [0.5, 0.4, 0.9]);
    expect(run('NonMaxSuppression', 10, [boxes, scores]).shape).toEqual([0, 3]);
    const y = run('NonMaxSuppression', 11, [boxes, scores, Tensor.from('i64', [1], [9]), f32([1], [1]), f32([1], [0.5])]);
    expect(values(y)).toEqual([0, 0, 2]);
  });

  it('infers a dynamic number of selections', () => {
    expect(infer('NonMaxSuppression', 11, [tensorType('f32', [1, 3, 4]), tensorType('f32', [1, 1, 3])], [])).toBe('i64[s0,3]');
  });
});
