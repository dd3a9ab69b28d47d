// Comparing GPU results with the kernel interpreter's (test/wgsl): bit-exact by default (NaN equal to NaN,
// −0 distinct from +0), or within a tolerance for math functions; values below the smallest normal f32 are equal
// to zero (SwiftShader flushes denormals, which the WebGPU spec allows).
import type { BufferData } from '../../ir/kernel/interpret.ts';
import * as K from '../../ir/kernel/build.ts';
import type { Expr, Kernel, Stmt } from '../../ir/kernel/ir.ts';

export interface Tolerance { rtol: number; atol: number }

const MIN_NORMAL = 2 ** -126;

/** The first difference between two buffer sets (only the buffers of `want`), or undefined. */
export function firstDiff(want: Record<string, BufferData>, got: Record<string, BufferData>, tol?: Tolerance): string | undefined {
  for (const [name, w] of Object.entries(want)) {
    const g = got[name];
    if (!g) return `buffer ${name} is missing`;
    for (let i = 0; i < w.length; i++) {
      const a = w[i]!, b = g[i]!;
      if (typeof a === 'bigint' || typeof b === 'bigint') {
        if (a !== b) return `${name}[${i}]: want ${String(a)}, got ${String(b)}`;
        continue;
      }
      if (Object.is(a, b) || (Number.isNaN(a) && Number.isNaN(b))) continue;
      if (w instanceof Float32Array || w instanceof Float64Array) {
        if (Math.abs(a) < MIN_NORMAL && Math.abs(b) < MIN_NORMAL) continue;
        if (tol && Number.isFinite(a) && Math.abs(a - b) <= tol.atol + tol.rtol * Math.abs(a)) continue;
      }
      return `${name}[${i}]: want ${Object.is(a, -0) ? '-0' : a}, got ${Object.is(b, -0) ? '-0' : b}`;
    }
  }
  return undefined;
}

/**
 * The kernel with every parallel and vector loop running its iterations in reverse order (for the interpreter:
 * a kernel whose results depend on that order has a race between iterations, so no GPU schedule is wrong on it).
 */
export function reversedParallel(k: Kernel): Kernel {
  let n = 0;
  const walk = (list: Stmt[]): Stmt[] => list.map((s): Stmt => {
    if (s.kind === 'if') return { ...s, then: walk(s.then), else: walk(s.else) };
    if (s.kind !== 'loop') return s;
    const body = walk(s.body);
    if (s.loopKind !== 'parallel' && s.loopKind !== 'vector') return { ...s, body };
    const u = `__rev${n++}`;
    // v = s + (T − 1)·step − (u − s), T − 1 = ⌊(e − s − 1) / step⌋.
    const span: Expr = K.mul(K.floordiv(K.sub(K.sub(s.end, s.start), 1), s.step), s.step);
    const v: Expr = K.sub(K.add(K.mul(s.start, 2), span), K.v(u));
    return { ...s, var: u, body: [K.let_(s.var, v), ...body] };
  });
  return { ...k, body: walk(k.body) };
}

/** A finite, moderate stand-in for a float (NaN, ±Inf and huge magnitudes overflow or propagate differently under SwiftShader's fast math). */
export function tame(x: number): number {
  if (Number.isNaN(x)) return 0.5;
  if (!Number.isFinite(x)) return x > 0 ? 2.5 : -2.5;
  return Math.abs(x) > 1000 ? Math.sign(x) * 1000 : x;
}

/** The kernel with every float constant tamed (see tame). */
export function tameConstants(k: Kernel): Kernel {
  const ex = (e: Expr): Expr => {
    switch (e.kind) {
      case 'const': return (e.type.elem === 'f32' || e.type.elem === 'f16' || e.type.elem === 'bf16' || e.type.elem === 'f64') ? { ...e, value: tame(Number(e.value)) } : e;
      case 'var': return e;
      case 'binary': return { ...e, a: ex(e.a), b: ex(e.b) };
      case 'select': return { ...e, cond: ex(e.cond), a: ex(e.a), b: ex(e.b) };
      case 'load': return { ...e, index: ex(e.index) };
      default: return { ...e, a: ex(e.a) } as Expr;
    }
  };
  const st = (s: Stmt): Stmt => {
    switch (s.kind) {
      case 'let': case 'assign': return { ...s, value: ex(s.value) };
      case 'local': return { ...s, init: ex(s.init) };
      case 'store': case 'atomic': return { ...s, index: ex(s.index), value: ex(s.value) };
      case 'loop': return { ...s, start: ex(s.start), end: ex(s.end), body: s.body.map(st) };
      case 'if': return { ...s, cond: ex(s.cond), then: s.then.map(st), else: s.else.map(st) };
      default: return s;
    }
  };
  return { ...k, body: k.body.map(st) };
}

/** Buffers with every float element tamed. */
export function tameBuffers(b: Record<string, BufferData>): Record<string, BufferData> {
  return Object.fromEntries(Object.entries(b).map(([k, v]) => [k, v instanceof Float32Array || v instanceof Float64Array ? v.map(tame) : v.slice()]));
}
