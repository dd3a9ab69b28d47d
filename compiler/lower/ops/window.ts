// Sliding-window geometry shared by Conv, ConvTranspose and pooling: output sizes and pads per spatial
// axis as index expressions (symbolic input sizes allowed), after ONNX's shape inference rules
// (auto_pad SAME_UPPER/SAME_LOWER/VALID, explicit pads, ceil_mode with PyTorch's rule of dropping a last
// window that starts in the end padding).
import { TesseraError } from '../../../ir/errors.ts';
import { ge } from '../../../ir/kernel/build.ts';
import type { Expr } from '../../../ir/kernel/ir.ts';
import { readWindow as readWindowSpec, type WindowSpec } from '../../../ir/ops/nn.ts';
import type { AttrView } from '../../../ir/registry.ts';
import type { Lowering } from '../context.ts';
import { ci, iadd, iceildiv, idiv, ifloordiv, imax, imin, imul, iselect, isub } from '../index-math.ts';

export type { AutoPad } from '../../../ir/ops/nn.ts';
export type WindowAttrs = WindowSpec;

/** The window attributes, read and validated as the op registry's shape inference reads them. */
export function readWindow(attrs: AttrView, D: number, kernel?: number[]): WindowAttrs {
  const { kernelKnown: _, ...w } = readWindowSpec(attrs, D, kernel);
  return w;
}

export interface WindowAxis { out: Expr; pb: Expr; pe: Expr }

/** Output size and pads of spatial axis i for an input of size `n`. */
export function windowAxis(L: Lowering, w: WindowAttrs, i: number, n: Expr): WindowAxis {
  const D = w.kernel.length;
  const s = w.strides[i]!;
  const ek = (w.kernel[i]! - 1) * w.dilations[i]! + 1;
  if (w.autoPad === 'SAME_UPPER' || w.autoPad === 'SAME_LOWER') {
    const out = L.dim(iceildiv(n, s));
    const total = L.dim(imax(isub(iadd(imul(isub(out, 1), s), ek), n), 0));
    const small = L.dim(idiv(total, 2));
    const big = L.dim(isub(total, small));
    return w.autoPad === 'SAME_UPPER' ? { out, pb: small, pe: big } : { out, pb: big, pe: small };
  }
  const pb = ci(w.autoPad === 'VALID' ? 0 : w.pads[i]!);
  const pe = ci(w.autoPad === 'VALID' ? 0 : w.pads[i + D]!);
  const span = L.dim(isub(iadd(iadd(n, pb), pe), ek));
  if (span.kind === 'const' && Number(span.value) < 0) {
    throw new TesseraError(`window of extent ${ek} on spatial axis ${i} is larger than the padded input`);
  }
  if (!w.ceilMode) return { out: L.dim(iadd(ifloordiv(span, s), 1)), pb, pe };
  const out0 = iadd(iceildiv(span, s), 1);
  // A last window that would start in the end padding is dropped.
  const out = iselect(ge(imul(isub(out0, 1), s), iadd(n, pb)), isub(out0, 1), out0);
  return { out: L.dim(out), pb, pe };
}

/** The kernel-offset range [lo, hi) whose taps o·s + k·d − pb fall inside [0, n). */
export function tapRange(o: Expr, s: number, d: number, pb: Expr, n: Expr, k: number): { lo: Expr; hi: Expr } {
  const start = isub(imul(o, s), pb);
  // lo = max(0, ceil(−start / d)), hi = min(k, floor((n − 1 − start) / d) + 1)
  const lo = imax(isub(0, ifloordiv(start, d)), 0);
  const hi = imin(iadd(ifloordiv(isub(isub(n, 1), start), d), 1), k);
  return { lo: d === 1 ? imax(isub(0, start), 0) : lo, hi: d === 1 ? imin(isub(n, start), k) : hi };
}
