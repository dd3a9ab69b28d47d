// Size evaluation and the arena memory plan of a compiled program, at run time (symbolic dimensions are
// only known then). Buffers whose live ranges do not overlap share memory; aliases share their target's.
import { byteSize } from '../ir/dtype.ts';
import { TesseraError } from '../ir/errors.ts';
import type { Expr, KScalar } from '../ir/kernel/ir.ts';
import type { ProgramBuffer } from '../ir/kernel/program.ts';

/** Evaluates an i32 size expression over bound symbols (the operators a manifest may use). */
export function evalSize(e: Expr, symbols: Record<string, number>): number {
  switch (e.kind) {
    case 'const': return Number(e.value);
    case 'var': {
      const v = symbols[e.name];
      if (v === undefined) throw new TesseraError(`size symbol '${e.name}' is not bound`);
      return v;
    }
    case 'select': return evalSize(e.cond, symbols) ? evalSize(e.a, symbols) : evalSize(e.b, symbols);
    case 'binary': {
      const a = evalSize(e.a, symbols), b = evalSize(e.b, symbols);
      switch (e.op) {
        case 'add': return a + b;
        case 'sub': return a - b;
        case 'mul': return a * b;
        case 'div': return b === 0 ? fail('division by zero in a size expression') : Math.trunc(a / b);
        case 'mod': return b === 0 ? fail('division by zero in a size expression') : a % b;
        case 'floordiv': return b === 0 ? fail('division by zero in a size expression') : Math.floor(a / b);
        case 'floormod': return b === 0 ? fail('division by zero in a size expression') : a - Math.floor(a / b) * b;
        case 'min': return Math.min(a, b);
        case 'max': return Math.max(a, b);
        case 'eq': return +(a === b);
        case 'ne': return +(a !== b);
        case 'lt': return +(a < b);
        case 'le': return +(a <= b);
        case 'gt': return +(a > b);
        case 'ge': return +(a >= b);
        default: return fail(`operator '${e.op}' is not allowed in a size expression`);
      }
    }
    default: return fail(`expression kind '${e.kind}' is not allowed in a size expression`);
  }
}

function fail(reason: string): never {
  throw new TesseraError(reason);
}

/** Bytes per element of a buffer in the arena (bool as one byte, f16/bf16 as their 16-bit patterns). */
export const elemBytes = (e: KScalar): number => byteSize(e);

export interface ArenaLayout {
  bytes: number;
  buffers: Record<string, { byteOffset: number; byteLength: number }>;
  /** Sum over time of the largest set of simultaneously-live buffers (the lower bound of any plan). */
  peakLiveBytes: number;
}

const ALIGN = 16;
const align = (n: number) => Math.ceil(n / ALIGN) * ALIGN;

/**
 * Greedy best-fit plan: buffers sorted by size (largest first) take the lowest offset that does not
 * overlap any already-placed buffer whose live range intersects theirs. Only temps have live ranges;
 * inputs, weights and outputs live for the whole run. Aliases take their target's place.
 */
export function planArena(
  buffers: readonly ProgramBuffer[], symbols: Record<string, number>, dispatchCount: number,
  /** Bytes per element in this executor's memory (WebGPU widens elements to 32-bit words). */
  elemSize: (e: KScalar) => number = elemBytes,
): ArenaLayout {
  const sized = buffers.filter((b) => b.aliasOf === undefined).map((b) => {
    const n = evalSize(b.size, symbols);
    if (!Number.isSafeInteger(n) || n < 0) fail(`buffer '${b.name}' has invalid size ${n}`);
    const byteLength = n * elemSize(b.elem);
    // Only temps may share memory: inputs, weights and outputs must survive the whole run.
    const live: [number, number] = b.kind === 'temp' && b.live ? b.live : [0, dispatchCount];
    return { b, byteLength, live };
  });
  const placed: { off: number; end: number; live: [number, number] }[] = [];
  const out: ArenaLayout['buffers'] = {};
  let bytes = 0;
  for (const s of [...sized].sort((x, y) => y.byteLength - x.byteLength)) {
    const len = align(Math.max(s.byteLength, 1));
    const clashes = placed
      .filter((p) => p.live[0] <= s.live[1] && s.live[0] <= p.live[1])
      .sort((x, y) => x.off - y.off);
    let off = 0;
    for (const p of clashes) {
      if (off + len <= p.off) break;
      off = Math.max(off, p.end);
    }
    placed.push({ off, end: off + len, live: s.live });
    out[s.b.name] = { byteOffset: off, byteLength: s.byteLength };
    bytes = Math.max(bytes, off + len);
  }
  for (const b of buffers) {
    if (b.aliasOf === undefined) continue;
    let t: ProgramBuffer | undefined = b;
    const seen = new Set<string>();
    while (t?.aliasOf !== undefined) {
      if (seen.has(t.name)) fail(`buffer '${b.name}' has an alias cycle`);
      seen.add(t.name);
      t = buffers.find((x) => x.name === t!.aliasOf);
    }
    const target = t && out[t.name];
    if (!target) fail(`buffer '${b.name}' aliases unknown buffer '${b.aliasOf}'`);
    const byteLength = evalSize(b.size, symbols) * elemSize(b.elem);
    if (byteLength > target.byteLength) fail(`alias '${b.name}' (${byteLength} bytes) is larger than '${t!.name}' (${target.byteLength})`);
    out[b.name] = { byteOffset: target.byteOffset, byteLength };
  }
  let peakLiveBytes = 0;
  for (let step = 0; step <= dispatchCount; step++) {
    let live = 0;
    for (const s of sized) if (s.live[0] <= step && step <= s.live[1]) live += s.byteLength;
    peakLiveBytes = Math.max(peakLiveBytes, live);
  }
  return { bytes: Math.max(bytes, ALIGN), buffers: out, peakLiveBytes };
}
