// Quantization: QuantizeLinear / DequantizeLinear (per tensor or per axis), DynamicQuantizeLinear
// (a min/max reduction, then the quantization with the scale it found), MatMulInteger and ConvInteger
// (operands centered on their zero points into i32, then the i32 MatMul/Conv, exact like the reference).
// Rounding is half to even; float steps are f32 where the reference rounds through f32.
import { TesseraError } from '../../../ir/errors.ts';
import { add, assign, c, cast, div, eq, let_, load, local, lt, max, min, mul, select, store, sub, unary, v } from '../../../ir/kernel/build.ts';
import type { Expr, KScalar } from '../../../ir/kernel/ir.ts';
import { normAxis } from '../../../ir/ops/util.ts';
import { viewAs, type TensorRef } from '../context.ts';
import { ci, prod } from '../index-math.ts';
import { emitMap, nest, to } from '../loops.ts';
import type { NodeLowering, OpLowering } from '../node.ts';
import { conv } from './conv.ts';
import { matmul } from './matmul.ts';

const RANGE: Partial<Record<KScalar, [number, number]>> = { u8: [0, 255], i8: [-128, 127], u16: [0, 65535], i16: [-32768, 32767] };

/** A scale or zero point: a scalar, or 1-D along `axis` of x (viewed as [len, 1, …] from that axis). */
function perAxis(n: NodeLowering, x: TensorRef, p: TensorRef): TensorRef {
  if (p.shape.length === 0 || (p.shape.length === 1 && p.shape[0]!.kind === 'const' && Number(p.shape[0]!.value) === 1)) return viewAs(p, []);
  if (p.shape.length !== 1) return p;
  const axis = normAxis(n.attrs.int('axis', 1), x.shape.length);
  return viewAs(p, [p.shape[0]!, ...new Array<Expr>(x.shape.length - axis - 1).fill(ci(1))]);
}

const lowerQuantize: OpLowering = (n) => {
  const x = n.input(0), scale = perAxis(n, x, n.input(1));
  const zp = n.optInput(2) ? perAxis(n, x, n.input(2)) : undefined;
  const out: KScalar = zp?.dtype ?? 'u8';
  const range = RANGE[out];
  if (!range) throw new TesseraError(`QuantizeLinear to ${out} cannot be compiled for target ${n.L.target} yet`);
  // f32 input divides in f32; i32 input divides in f64, as the reference (numpy) does.
  const ft: KScalar = x.dtype === 'f32' ? 'f32' : 'f64';
  n.output(0, emitMap(n.L, zp ? [x, scale, zp] : [x, scale], out, ([xv, sv, zv]) => {
    let q = unary('round_even', div(to(ft, xv!), to(ft, sv!)));
    if (zv) q = add(q, to(ft, zv));
    return to(out, min(max(q, c(q.type, range[0])), c(q.type, range[1])));
  }));
};

const lowerDequantize: OpLowering = (n) => {
  const x = n.input(0), scale = perAxis(n, x, n.input(1));
  const zp = n.optInput(2) ? perAxis(n, x, n.input(2)) : undefined;
  n.output(0, emitMap(n.L, zp ? [x, scale, zp] : [x, scale], 'f32', ([xv, sv, zv]) => {
    const centered = zv ? sub(to('i32', xv!), to('i32', zv)) : to('i32', xv!);
    return mul(to('f32', centered), sv!);
  }));
};

const lowerDynamicQuantize: OpLowering = (n) => {
  const x = n.input(0);
  const scale = n.L.temp('f32', []), zp = n.L.temp('u8', []);
  // 1. min/max over everything (starting from 0, so the range always holds 0), scale and zero point.
  const kb = n.L.kernel('DynamicQuantizeLinear');
  const X = kb.input(x), S = kb.output(scale, 'scale'), Z = kb.output(zp, 'zero_point');
  const mn = kb.fresh('mn'), mx = kb.fresh('mx'), sc = kb.fresh('sc'), zf = kb.fresh('zf');
  const MN = v(mn, 'f32'), MX = v(mx, 'f32');
  const flat = n.L.dim(prod(x.shape));
  const f = (e: number) => c('f32', e);
  const scan = nest(kb, [flat], ([i]) => {
    const val = kb.fresh('v');
    const V = v(val, 'f32');
    return [let_(val, load(X, i!)), assign(mn, select(lt(V, MN), V, MN)), assign(mx, select(lt(MX, V), V, MX))];
  }, { parallel: false });
  kb.finish([
    local(mn, 'f32', f(0)), local(mx, 'f32', f(0)), ...scan,
    let_(sc, div(select(eq(MX, MN), f(1), sub(MX, MN)), f(255))),
    let_(zf, sub(f(0), div(MN, v(sc, 'f32')))),
    store(S, 0, v(sc, 'f32')),
    store(Z, 0, cast('u8', unary('round_even', min(max(v(zf, 'f32'), f(0)), f(255))))),
  ]);
  // 2. quantize with them.
  const y = emitMap(n.L, [x, scale, zp], 'u8', ([xv, sv, zv]) => {
    const q = add(unary('round_even', div(xv!, sv!)), to('f32', zv!));
    return to('u8', min(max(q, c(q.type, 0)), c(q.type, 255)));
  }, { hint: 'quantize' });
  n.output(0, y);
  n.output(1, scale);
  n.output(2, zp);
};

/** x − zero point as i32 (zero point: scalar, or per row/channel along `axis`). */
function centered(n: NodeLowering, x: TensorRef, zp: TensorRef | undefined, axis: number): TensorRef {
  if (!zp) return emitMap(n.L, [x], 'i32', ([xv]) => to('i32', xv!), { hint: 'widen' });
  let z = zp;
  if (zp.shape.length === 1 && !(zp.shape[0]!.kind === 'const' && Number(zp.shape[0]!.value) === 1)) {
    z = viewAs(zp, [zp.shape[0]!, ...new Array<Expr>(x.shape.length - axis - 1).fill(ci(1))]);
  } else if (zp.shape.length <= 1) z = viewAs(zp, []);
  return emitMap(n.L, [x, z], 'i32', ([xv, zv]) => sub(to('i32', xv!), to('i32', zv!)), { hint: 'center' });
}

const lowerMatMulInteger: OpLowering = (n) => {
  const a = n.input(0), b = n.input(1);
  const ac = centered(n, a, n.optInput(2), Math.max(0, a.shape.length - 2));
  const bc = centered(n, b, n.optInput(3), b.shape.length - 1);
  n.output(0, matmul(n.L, ac, bc));
};

const lowerConvInteger: OpLowering = (n) => {
  const x = n.input(0), w = n.input(1);
  const xc = centered(n, x, n.optInput(2), 1);
  const wc = centered(n, w, n.optInput(3), 0);
  n.output(0, conv(n, xc, wc, undefined));
};

export const quantLowerings: Record<string, OpLowering> = {
  QuantizeLinear: lowerQuantize,
  DequantizeLinear: lowerDequantize,
  DynamicQuantizeLinear: lowerDynamicQuantize,
  MatMulInteger: lowerMatMulInteger,
  ConvInteger: lowerConvInteger,
};
