// Fuzz specs of the indexing, scatter, resampling, quantization and recurrent ops (the core table is in
// ops.ts). Index tensors are constants drawn in range (unique where the op leaves duplicates undefined).
import type { DType } from '../../ir/dtype.ts';
import { Tensor } from '../../ir/tensor.ts';
import { attr, Reject, type FuzzOpSpec, type NodeBuilder } from './builder.ts';
import { axisOf, broadcastOkay, F3, isFloatType, MOVABLE, N, normalize, onnxCode, optFloat, optInt, windowAttrs, windowOf } from './op-helpers.ts';
import { product } from './shapes.ts';
import { tensorOf } from './values.ts';

/** A constant index tensor: values drawn by `draw(flatIndex)` (already in range). */
function indexConst(b: NodeBuilder, shape: number[], draw: (i: number) => number, dtype: DType = 'i64') {
  const n = product(shape);
  return b.constant(tensorOf(dtype, shape, Array.from({ length: n }, (_, i) => (dtype === 'i64' ? BigInt(draw(i)) : draw(i)))), 'idx');
}

/** k distinct values of [0, n) in random order (n ≥ k). */
function distinct(rand: () => number, n: number, k: number): number[] {
  const p = Array.from({ length: n }, (_, i) => i);
  for (let i = 0; i < k; i++) { const j = i + Math.floor(rand() * (n - i)); [p[i], p[j]] = [p[j]!, p[i]!]; }
  return p.slice(0, k);
}

const REDUCTIONS = (opset: number, d: DType) =>
  d === 'bool' || d === 'string' ? ['none'] : ['none', ...(opset >= 16 ? ['add', 'mul'] : []), ...(opset >= 18 ? ['max', 'min'] : [])];

const EINSUM: readonly [string, string[]][] = [
  ['ij,jk->ik', ['ij', 'jk']], ['bij,bjk->bik', ['bij', 'bjk']], ['ij->ji', ['ij']], ['ii->i', ['ii']], ['ij->', ['ij']],
  ['i,i->', ['i', 'i']], ['ij,ij->ij', ['ij', 'ij']], ['i,j->ij', ['i', 'j']], ['ijk->ikj', ['ijk']], ['ij,kj->ik', ['ij', 'kj']],
  ['ij->i', ['ij']], ['ij,j->i', ['ij', 'j']], ['ii->', ['ii']], ['bhij,bhkj->bhik', ['bhij', 'bhkj']], ['ij,jk', ['ij', 'jk']],
  ['...ij,...jk->...ik', ['...ij', '...jk']],
];

export const ADVANCED_OPS: readonly FuzzOpSpec[] = [
  {
    op: 'GatherND', dtypes: MOVABLE, tol: 'exact',
    build(b, d) {
      const c = b.c;
      const x = b.operand(d, { rank: [1, 4], nonEmpty: true });
      const r = x.shape.length;
      const batch = b.opset >= 12 ? c.int(0, r - 1) : 0;
      const k = c.int(1, r - batch);
      const ishape = [...x.shape.slice(0, batch), ...b.shape(0, 2, 16), k];
      if (product(ishape) > 256) throw new Reject('too many indices');
      const rand = b.rng();
      const idx = indexConst(b, ishape, (i) => { const dim = x.shape[batch + (i % k)]!; return Math.floor(rand() * 2 * dim) - dim; });
      b.emit([x, idx], { batch_dims: batch ? attr.int(batch) : undefined });
    },
  },
  {
    op: 'ScatterElements', dtypes: MOVABLE, tol: 'accumulate',
    build(b, d) {
      const c = b.c;
      const reduction = c.pick(REDUCTIONS(b.opset, d));
      const x = b.operand(d, { rank: [1, 4], nonEmpty: true, finite: reduction !== 'none' });
      const r = x.shape.length;
      const axis = axisOf(c, r), ax = normalize(axis, r), dim = x.shape[ax]!;
      const ishape = x.shape.map((v, j) => c.int(1, j === ax ? dim : v));
      const rand = b.rng();
      // 'none' leaves the result of two updates to one element open: indices are unique along the axis.
      const lines = product(ishape) / ishape[ax]!;
      const picks = Array.from({ length: lines }, () => distinct(rand, dim, ishape[ax]!));
      const st = ishape.map((_, j) => product(ishape.slice(j + 1)));
      const idx = indexConst(b, ishape, (i) => {
        const pos = Math.floor(i / st[ax]!) % ishape[ax]!;
        const line = Math.floor(i / (st[ax]! * ishape[ax]!)) * st[ax]! + (i % st[ax]!);
        const v = reduction === 'none' ? picks[line]![pos]! : Math.floor(rand() * dim);
        return rand() < 0.3 ? v - dim : v;
      }, c.pick(['i64', 'i32']));
      const upd = b.input(d, ishape, { finite: reduction !== 'none' });
      b.emit([x, idx, upd], { axis: attr.int(axis), reduction: reduction === 'none' && c.chance(50) ? undefined : b.opset >= 16 ? attr.string(reduction) : undefined });
    },
  },
  {
    op: 'ScatterND', dtypes: MOVABLE, tol: 'accumulate',
    build(b, d) {
      const c = b.c;
      const reduction = c.pick(REDUCTIONS(b.opset, d));
      const x = b.operand(d, { rank: [1, 4], nonEmpty: true, finite: reduction !== 'none' });
      const r = x.shape.length;
      const k = c.int(1, r);
      const cells = product(x.shape.slice(0, k));
      const count = Math.min(cells, c.int(1, 6));
      const mid = c.chance(30) && count % 2 === 0 ? [2, count / 2] : [count];
      const rand = b.rng();
      const flat = reduction === 'none' ? distinct(rand, cells, count) : Array.from({ length: count }, () => Math.floor(rand() * cells));
      const tuples = flat.map((f) => x.shape.slice(0, k).map((_, m) => Math.floor(f / product(x.shape.slice(m + 1, k))) % x.shape[m]!));
      const idx = indexConst(b, [...mid, k], (i) => { const v = tuples[Math.floor(i / k)]![i % k]!; return rand() < 0.3 ? v - x.shape[i % k]! : v; });
      const upd = b.input(d, [...mid, ...x.shape.slice(k)], { finite: reduction !== 'none' });
      b.emit([x, idx, upd], { reduction: reduction === 'none' ? undefined : attr.string(reduction) });
    },
  },
  {
    op: 'OneHot', dtypes: ['f32', 'i64', 'i32', 'f64', 'u8', 'i8', 'string'], tol: 'exact',
    build(b, d) {
      const c = b.c;
      const depth = c.int(1, 6);
      const ishape = b.shape(1, 3, 128); // ONNX's shape inference wants rank ≥ 1
      const it = c.pick(['i64', 'i32', 'f32'] as const);
      const indices = b.input(it, ishape, { domain: { range: [-depth, depth - 1], integer: true } });
      const r = ishape.length;
      const off = c.pick([0, -2, 5]), on = c.pick([1, 3, -1]);
      const vals = b.constant(d === 'string' ? Tensor.from('string', [2], ['off', 'on'])
        : tensorOf(d, [2], isFloatType(d) ? [off + 0.5, on] : [Math.abs(off), Math.abs(on)]), 'values');
      b.emit([indices, b.scalar(c.pick(['i64', 'i32', 'f32'] as const), depth), vals], { axis: c.chance(60) ? attr.int(c.int(-r - 1, r)) : undefined });
    },
  },
  {
    op: 'Range', dtypes: ['f32', 'i64', 'i32', 'f64', 'i16'], tol: 'exact',
    build(b, d) {
      const c = b.c;
      // Quarter steps: counts are exact in every float type (no rounding of (limit - start) / delta).
      const q = isFloatType(d) ? 0.25 : 1;
      const start = c.int(-8, 8) * q, delta = c.pick([1, 2, -1, 3, -2]) * q * (isFloatType(d) ? c.pick([1, 2, 4]) : 1);
      const limit = c.int(-20, 20) * q;
      b.emit([b.scalar(d, start), b.scalar(d, limit), b.scalar(d, delta)]);
    },
  },
  {
    op: 'Einsum', dtypes: ['f32', 'f64', 'i32', 'i64', 'f16'], tol: 'accumulate',
    build(b, d) {
      const c = b.c;
      const [eq, terms] = c.pick(EINSUM);
      const dims = new Map<string, number>();
      const dimOf = (l: string) => { if (!dims.has(l)) dims.set(l, c.pick([1, 2, 3, 4, 5, 7])); return dims.get(l)!; };
      const ell = c.chance(50) ? [c.pick([1, 2, 3])] : [];
      const ins = terms.map((t) => {
        const lead = t.startsWith('...') ? ell.map((v) => (c.chance(30) ? 1 : v)) : [];
        return b.input(d, [...lead, ...t.replace('...', '').split('').map(dimOf)], { finite: true });
      });
      if (ins.length === 2 && !broadcastOkay(ins[0]!.shape.slice(0, -2), ins[1]!.shape.slice(0, -2))) throw new Reject('ellipsis dims');
      b.emit(ins, { equation: attr.string(eq) });
    },
  },
  {
    op: 'LRN', dtypes: F3, tol: 'transcendental',
    build(b, d) {
      const c = b.c;
      const x = b.operand(d, { rank: [4, 4], finite: true });
      b.emit([x], {
        size: attr.int(c.pick([1, 3, 5, 2])), alpha: optFloat(c, [0.5, 1e-3]), beta: optFloat(c, [1, 0.5]), bias: optFloat(c, [2, 0.5]),
      });
    },
  },
  {
    op: 'ReverseSequence', dtypes: MOVABLE, tol: 'exact',
    build(b, d) {
      const c = b.c;
      const x = b.operand(d, { rank: [2, 4], nonEmpty: true });
      const timeFirst = c.chance(70);
      const [t, bt] = timeFirst ? [0, 1] : [1, 0];
      const maxTime = x.shape[t]!, batch = x.shape[bt]!;
      const lens = b.constant(tensorOf('i64', [batch], Array.from({ length: batch }, () => BigInt(c.int(1, maxTime)))), 'lens');
      b.emit([x, lens], { time_axis: timeFirst ? optInt(c, [0]) : attr.int(1), batch_axis: timeFirst ? optInt(c, [1]) : attr.int(0) });
    },
  },
  {
    op: 'EyeLike', dtypes: [...N, 'bool'], tol: 'exact',
    build(b, d) {
      const c = b.c;
      const x = b.operand(d, { rank: [2, 2] });
      const to = c.chance(50) ? c.pick(['f32', 'i64', 'i32', 'f64', 'bool'] as const) : undefined;
      b.emit([x], { dtype: to ? attr.int(onnxCode(to)) : undefined, k: c.chance(60) ? attr.int(c.int(-x.shape[0]! - 1, x.shape[1]! + 1)) : undefined });
    },
  },
  {
    op: 'QuantizeLinear', dtypes: ['f32', 'f16'], tol: 'exact', dtypeSince: { f16: 19 },
    build(b, d) {
      const c = b.c;
      const x = b.operand(d, { rank: [0, 4], finite: true });
      const zt = c.pick(['u8', 'i8'] as const);
      const perAxis = b.opset >= 13 && x.shape.length > 0 && c.chance(40);
      const axis = perAxis ? axisOf(c, x.shape.length) : undefined;
      const n = perAxis ? x.shape[normalize(axis!, x.shape.length)]! : 1;
      const shape = perAxis ? [n] : [];
      const rand = b.rng();
      const scale = b.constant(tensorOf(d, shape, Array.from({ length: n }, () => c.pick([0.5, 0.25, 1, 0.1, 3, 0.01]))), 'scale');
      // An absent zero point means u8.
      const zp = c.chance(70) || zt === 'i8'
        ? b.constant(tensorOf(zt, shape, Array.from({ length: n }, () => (zt === 'u8' ? Math.floor(rand() * 256) : Math.floor(rand() * 256) - 128))), 'zp')
        : null;
      b.emit([x, scale, zp], { axis: perAxis ? attr.int(axis!) : undefined });
    },
  },
  {
    op: 'DequantizeLinear', dtypes: ['u8', 'i8', 'i32'], tol: 'rounded',
    build(b, d) {
      const c = b.c;
      const x = b.operand(d, { rank: [0, 4] });
      const perAxis = b.opset >= 13 && x.shape.length > 0 && c.chance(40);
      const axis = perAxis ? axisOf(c, x.shape.length) : undefined;
      const n = perAxis ? x.shape[normalize(axis!, x.shape.length)]! : 1;
      const shape = perAxis ? [n] : [];
      const rand = b.rng();
      const scale = b.constant(tensorOf('f32', shape, Array.from({ length: n }, () => c.pick([0.5, 0.25, 1, 0.1, 3, 0.01]))), 'scale');
      const zp = d !== 'i32' && c.chance(70)
        ? b.constant(tensorOf(d, shape, Array.from({ length: n }, () => (d === 'u8' ? Math.floor(rand() * 256) : Math.floor(rand() * 256) - 128))), 'zp')
        : null;
      b.emit([x, scale, zp], { axis: perAxis ? attr.int(axis!) : undefined });
    },
  },
  {
    op: 'ConstantOfShape', dtypes: ['f32', 'i64', 'i32', 'f64', 'f16', 'bool', 'u8', 'i8'], tol: 'exact',
    build(b, d) {
      const c = b.c;
      const shape = b.shape(0, 3, 512);
      const v = d === 'bool' ? 1 : isFloatType(d) ? c.pick([0, 1.5, -2]) : c.pick([0, 7, 1]);
      const value = c.chance(80) || d !== 'f32' ? attr.tensor(tensorOf(d, [1], [d === 'i64' ? BigInt(v) : v])) : undefined;
      b.emit([b.ints(shape)], { value });
    },
  },
  {
    op: 'GlobalLpPool', dtypes: F3, tol: 'accumulate',
    build(b, d) {
      b.emit([b.operand(d, { rank: [3, 5], finite: true, nonEmpty: true })], { p: optInt(b.c, [1, 2, 3]) });
    },
  },
  {
    op: 'ConvTranspose', dtypes: F3, tol: 'accumulate',
    build(b, d) {
      const c = b.c;
      const s = c.pick([2, 1]);
      const w = windowOf(c, s, { dilations: true, autoPad: false });
      const group = c.pick([1, 1, 2]);
      const cin = group * c.pick([1, 2, 3]), mg = c.pick([1, 2, 3]);
      const x = b.input(d, [c.pick([1, 2]), cin, ...w.spatial.map(() => c.int(1, 6))], { finite: true });
      const weight = b.input(d, [cin, mg, ...w.kernel], { finite: true });
      const bias = c.chance(50) ? b.input(d, [group * mg], { finite: true }) : null;
      const attrs = windowAttrs(c, w, true);
      // output_padding below the stride (divergences.ts); every output dim at least 1.
      const op = w.strides.map((st) => c.int(0, st - 1));
      const s0 = x.shape.length - 2;
      const outDim = (i: number) => w.strides[i]! * (x.shape[2 + i]! - 1) + op[i]! + (w.kernel[i]! - 1) * w.dilations[i]! + 1 - (w.pads[i] ?? 0) - (w.pads[i + s0] ?? 0);
      if (w.kernel.some((_, i) => outDim(i) < 1)) throw new Reject('empty output');
      if (op.some((v) => v > 0)) attrs.output_padding = attr.ints(op);
      attrs.group = group === 1 ? optInt(c, [1]) : attr.int(group);
      b.emit([x, weight, bias], attrs);
    },
  },
  {
    op: 'Resize', dtypes: ['f32', 'f16', 'f64', 'u8', 'i8'], tol: 'accumulate',
    build(b, d) {
      const c = b.c;
      const mode = isFloatType(d) ? c.pick(['nearest', 'linear', 'cubic']) : 'nearest';
      const x = b.operand(d, { rank: [4, 4], nonEmpty: true, finite: true });
      const coord = c.pick(['half_pixel', 'asymmetric', 'align_corners', 'pytorch_half_pixel', ...(mode === 'nearest' ? ['tf_half_pixel_for_nn'] : [])]);
      const bySizes = c.chance(40);
      const scales = [1, 1, c.pick([2, 0.5, 1, 1.5, 3, 0.75]), c.pick([2, 0.5, 1, 1.5, 3, 0.75])];
      const sizes = x.shape.map((v, i) => (i < 2 ? v : Math.max(1, Math.floor(v * scales[i]!))));
      if (product(sizes) > 8192) throw new Reject('too large');
      const roi = b.opset < 13 || c.chance(20) ? b.constant(tensorOf('f32', [0], []), 'roi') : null;
      const sc = bySizes ? (b.opset < 13 ? b.constant(tensorOf('f32', [0], []), 'scales') : null) : b.constant(tensorOf('f32', [4], scales), 'scales');
      const sz = bySizes ? b.ints(sizes) : null;
      b.emit([x, roi, sc, sz], {
        mode: mode === 'nearest' && c.chance(30) ? undefined : attr.string(mode),
        coordinate_transformation_mode: coord === 'half_pixel' && c.chance(30) ? undefined : attr.string(coord),
        nearest_mode: mode === 'nearest' && c.chance(70) ? attr.string(c.pick(['round_prefer_floor', 'round_prefer_ceil', 'floor', 'ceil'])) : undefined,
        cubic_coeff_a: mode === 'cubic' ? optFloat(c, [-0.5]) : undefined,
        exclude_outside: mode === 'cubic' ? optInt(c, [0, 1]) : undefined,
      });
    },
  },
  ...(['RNN', 'GRU', 'LSTM'] as const).map((op): FuzzOpSpec => ({
    op, dtypes: ['f32', 'f64', 'f16'], tol: 'recurrent',
    build(b, d) {
      const c = b.c;
      const gates = { RNN: 1, GRU: 3, LSTM: 4 }[op];
      const direction = c.pick(['forward', 'reverse', 'bidirectional']);
      const dirs = direction === 'bidirectional' ? 2 : 1;
      const [seq, batch, input, hidden] = [c.int(1, 4), c.int(1, 3), c.int(1, 4), c.int(1, 4)];
      const layout = b.opset >= 14 && c.chance(20) ? 1 : 0;
      const x = b.input(d, layout ? [batch, seq, input] : [seq, batch, input], { finite: true });
      const w = b.input(d, [dirs, gates * hidden, input], { finite: true });
      const r = b.input(d, [dirs, gates * hidden, hidden], { finite: true });
      const bias = c.chance(60) ? b.input(d, [dirs, 2 * gates * hidden], { finite: true }) : null;
      const lens = c.chance(40) ? b.constant(tensorOf('i32', [batch], Array.from({ length: batch }, () => c.int(1, seq))), 'lens') : null;
      const state = (n: number) => (c.chance(50) ? b.input(d, layout ? [batch, dirs, n] : [dirs, batch, n], { finite: true }) : null);
      const ins = [x, w, r, bias, lens, state(hidden)];
      if (op === 'LSTM') ins.push(state(hidden), c.chance(40) ? b.input(d, [dirs, 3 * hidden], { finite: true }) : null);
      const outs = c.int(1, op === 'LSTM' ? 3 : 2);
      b.emit(ins, {
        hidden_size: attr.int(hidden), direction: direction === 'forward' && c.chance(50) ? undefined : attr.string(direction),
        layout: layout ? attr.int(1) : undefined, clip: optFloat(c, [0.5, 3]),
        ...(op === 'GRU' ? { linear_before_reset: optInt(c, [0, 1]) } : {}),
        ...(op === 'LSTM' ? { input_forget: optInt(c, [0, 1]) } : {}),
      }, outs);
    },
  })),
];
