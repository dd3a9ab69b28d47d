// Shape-generic matmul kernels for WebGPU: a kernel whose f32 matmul pattern has constant sizes (every Conv
// as im2col + matmul, every MatMul of a static model) would get its own shader text, and on a CPU Vulkan
// driver each distinct pipeline costs a second or more to build. Here every such kernel is rewritten to take
// the pattern's M, N, K, batch and batch strides as size parameters, their values moved into its dispatches;
// the template's text then depends only on the transposes and the tile, so a model's matmuls share a handful
// of pipelines (runtime/webgpu/executor.ts caches pipelines by text). A small constant M or N stays constant:
// it picks a narrow tile (backends/wgsl/matmul.ts tileFor).
import type { Expr, Kernel, MatmulPattern } from '../../ir/kernel/ir.ts';
import type { Dispatch } from '../../ir/kernel/program.ts';
import { emitMatmul } from './matmul.ts';

const FIELDS = ['m', 'n', 'k', 'batch', 'aBatchStride', 'bBatchStride'] as const;
/** A constant M or N at most this stays in the text (the template narrows its tile to it). */
const NARROW = 8;

/** Replaces the size params of `e` by their values in one dispatch (expressions over the program's symbols). */
function substitute(e: Expr, values: Record<string, Expr>): Expr {
  switch (e.kind) {
    case 'const': return e;
    case 'var': return values[e.name] ?? e;
    case 'binary': return { ...e, a: substitute(e.a, values), b: substitute(e.b, values) };
    case 'select': return { ...e, cond: substitute(e.cond, values), a: substitute(e.a, values), b: substitute(e.b, values) };
    case 'unary': case 'cast': case 'bitcast': case 'broadcast': case 'extract': case 'reduce_lanes':
      return { ...e, a: substitute(e.a, values) };
    case 'load': return e;
  }
}

const isF32Matmul = (k: Kernel): k is Kernel & { pattern: MatmulPattern } =>
  k.pattern?.kind === 'matmul' && k.pattern.elem === 'f32' && k.pattern.acc === 'f32';

/**
 * The kernels with f32 matmul patterns rewritten over fresh size params, and the dispatches giving them
 * values; other kernels and dispatches unchanged. The kernel bodies are kept (they are the definition); the
 * template ignores them.
 */
export function generalizeMatmuls(kernels: readonly Kernel[], dispatches: readonly Dispatch[]): { kernels: Kernel[]; dispatches: Dispatch[] } {
  const moved = new Map<string, Map<string, Expr>>(); // kernel → new size name → its expression over the old sizes
  const out = kernels.map((k) => {
    if (!isF32Matmul(k)) return k;
    const taken = new Set(k.sizes.map((s) => s.name));
    const fresh = (hint: string) => { let n = `mm_${hint}`; for (let i = 2; taken.has(n); i++) n = `mm_${hint}${i}`; taken.add(n); return n; };
    const fields = new Map<string, Expr>();
    const pattern: MatmulPattern = { ...k.pattern };
    for (const f of FIELDS) {
      const e = k.pattern[f];
      if ((f === 'm' || f === 'n') && e.kind === 'const' && Number(e.value) <= NARROW) continue;
      const name = fresh(f);
      fields.set(name, e);
      pattern[f] = { kind: 'var', type: { elem: 'i32', lanes: 1 }, name };
    }
    // Only the moved sizes remain parameters of the template: the old ones only fed these expressions. A kernel
    // the template would not take keeps its own form (its body is emitted, and needs its sizes).
    const general: Kernel = { ...k, sizes: [...fields.keys()].map((name) => ({ name })), pattern };
    if (!emitMatmul(general)) return k;
    moved.set(k.name, fields);
    return general;
  });
  const outDispatches = dispatches.map((d) => {
    const fields = moved.get(d.kernel);
    if (!fields) return d;
    const sizes: Record<string, Expr> = {};
    for (const [name, e] of fields) sizes[name] = substitute(e, d.sizes);
    return { ...d, sizes };
  });
  return { kernels: out, dispatches: outDispatches };
}
