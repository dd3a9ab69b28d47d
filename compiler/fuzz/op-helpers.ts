// Shared pieces of the fuzz op tables: dtype groups (shrinking goes to the first), attribute drawing,
// and the window geometry of convolutions and pools.
import type { DType } from '../../ir/dtype.ts';
import type { Attr } from '../../ir/graph.ts';
import { attr } from './builder.ts';
import type { Choices } from './choices.ts';

// ---------- dtype groups (shrinking goes to the first) ----------
export const F: readonly DType[] = ['f32', 'f64', 'f16', 'bf16'];
export const SI: readonly DType[] = ['i32', 'i64', 'i8', 'i16'];
export const UI: readonly DType[] = ['u8', 'u16', 'u32', 'u64'];
export const I: readonly DType[] = [...SI, ...UI];
export const N: readonly DType[] = [...F, ...I];
/** Float types of the NN ops (convolutions, pools, instance/Lp normalization): no bf16. */
export const F3: readonly DType[] = ['f32', 'f64', 'f16'];
/** Types of the Reduce* ops since opset 13 (ReduceMax/Min add i8 and u8). */
export const R: readonly DType[] = [...F, 'i32', 'i64', 'u32', 'u64'];
export const SN: readonly DType[] = [...F, ...SI];
export const ALL: readonly DType[] = ['f32', 'i64', 'bool', 'f64', 'f16', 'i32', 'i8', 'u8', 'i16', 'u16', 'u32', 'u64', 'bf16', 'string'];
export const MOVABLE: readonly DType[] = ALL;
export const isFloatType = (d: DType) => F.includes(d);
export const isSignedInt = (d: DType) => SI.includes(d);

// ---------- attribute helpers ----------

/** Absent (the default) or one of the values. */
export function optFloat(c: Choices, values: readonly number[]): Attr | undefined {
  const i = c.below(values.length + 1);
  return i === 0 ? undefined : attr.float(values[i - 1]!);
}
export function optInt(c: Choices, values: readonly number[]): Attr | undefined {
  const i = c.below(values.length + 1);
  return i === 0 ? undefined : attr.int(values[i - 1]!);
}
/** An axis of a rank-r tensor, written negative half the time. */
export function axisOf(c: Choices, r: number): number {
  const a = c.below(r);
  return c.chance(30) ? a - r : a;
}
/** A permuted, possibly negative list of distinct axes. */
export function axesOf(c: Choices, r: number, percent = 50): number[] {
  const picked = c.subset(r, percent);
  const order = c.permutation(picked.length).map((i) => picked[i]!);
  return order.map((a) => (c.chance(30) ? a - r : a));
}
export const normalize = (a: number, r: number) => (a < 0 ? a + r : a);

// ---------- pooling and convolution geometry ----------

export interface Window { kernel: number[]; strides: number[]; dilations: number[]; pads: number[]; autoPad?: string; spatial: number[] }

/**
 * Kernel, strides, dilations and pads for `s` spatial axes, and an input size per axis on which the window
 * fits at least once. `padBelowKernel`: pads smaller than the kernel, as pooling requires.
 */
export function windowOf(c: Choices, s: number, o: { dilations: boolean; autoPad: boolean; padBelowKernel?: boolean }): Window {
  const kernel = Array.from({ length: s }, () => c.int(1, 3));
  const strides = Array.from({ length: s }, () => c.pick([1, 1, 2, 3]));
  const dilations = Array.from({ length: s }, () => (o.dilations ? c.pick([1, 1, 2]) : 1));
  const eff = kernel.map((k, i) => (k - 1) * dilations[i]! + 1);
  let mode = o.autoPad ? c.pick(['NOTSET', 'NOTSET', 'VALID', 'SAME_UPPER', 'SAME_LOWER']) : 'NOTSET';
  // SAME_* with a stride above the dilated kernel makes the padding negative (divergences.ts).
  // SAME_* with dilations is computed differently by onnxruntime (divergences.ts).
  if (mode.startsWith('SAME') && (strides.some((st, i) => st > eff[i]!) || dilations.some((d) => d > 1))) mode = 'NOTSET';
  // Pads below the window (the kernel itself for pooling: divergences.ts).
  const padLimit = kernel.map((k, i) => (o.padBelowKernel ? k : eff[i]!) - 1);
  const pads = mode === 'NOTSET' ? [...padLimit.map((p) => c.int(0, p)), ...padLimit.map((p) => c.int(0, p))] : [];
  // Inputs where the window fits at least once; for pooling at least the dilated kernel, so that no window
  // holds only padding (divergences.ts).
  const spatial = eff.map((e, i) => {
    const padded = pads.length ? pads[i]! + pads[i + s]! : 0;
    return Math.max(o.padBelowKernel ? e : 1, e - padded + c.pick([0, 1, 2, 4, 6, 12, 30]));
  });
  return { kernel, strides, dilations, pads, autoPad: mode === 'NOTSET' ? (c.chance(20) ? 'NOTSET' : undefined) : mode, spatial };
}

export function windowAttrs(c: Choices, w: Window, withDilations: boolean): Record<string, Attr | undefined> {
  const ones = (xs: number[]) => xs.every((x) => x === 1);
  return {
    kernel_shape: attr.ints(w.kernel),
    strides: ones(w.strides) && c.chance(50) ? undefined : attr.ints(w.strides),
    dilations: !withDilations || (ones(w.dilations) && c.chance(50)) ? undefined : attr.ints(w.dilations),
    pads: w.pads.length === 0 || (w.pads.every((p) => p === 0) && c.chance(50)) ? undefined : attr.ints(w.pads),
    auto_pad: w.autoPad ? attr.string(w.autoPad) : undefined,
  };
}

export function broadcastOkay(a: readonly number[], b: readonly number[]): boolean {
  const r = Math.min(a.length, b.length);
  for (let i = 1; i <= r; i++) {
    const x = a[a.length - i]!, y = b[b.length - i]!;
    if (x !== y && x !== 1 && y !== 1) return false;
  }
  return true;
}

export function onnxCode(d: DType): number {
  const codes: Partial<Record<DType, number>> = { f32: 1, u8: 2, i8: 3, u16: 4, i16: 5, i32: 6, i64: 7, string: 8, bool: 9, f16: 10, f64: 11, u32: 12, u64: 13, bf16: 16 };
  return codes[d]!;
}

