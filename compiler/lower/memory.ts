// The memory plan: buffer lifetimes from the dispatch order, and arena offsets that reuse the memory of
// dead temps.
//
// Lifetimes are intervals of dispatch indices (first write .. last read); outputs live to the end, since
// the caller reads them after the run. planArena places temps and outputs in one arena for given symbol
// values: greedy by size (largest first), each at the lowest 16-byte-aligned offset that overlaps no
// placed buffer whose lifetime intersects its own (the "greedy by size" offset planner of TFLite and
// onnxruntime). Its quality is measured against the lower bound every plan must meet: the largest sum of
// sizes of simultaneously live buffers.
import { TesseraError } from '../../ir/errors.ts';
import type { Expr, KScalar } from '../../ir/kernel/ir.ts';
import { evalExpr } from '../../ir/kernel/interpret.ts';
import type { Program, ProgramBuffer } from '../../ir/kernel/program.ts';

export const ARENA_ALIGN = 16;

export function elemBytes(e: KScalar): number {
  switch (e) {
    case 'bool': case 'i8': case 'u8': return 1;
    case 'i16': case 'u16': case 'f16': case 'bf16': return 2;
    case 'i32': case 'u32': case 'f32': return 4;
    case 'i64': case 'u64': case 'f64': return 8;
  }
}

/** Buffers that live in the arena (inputs and weights are held by the caller / the weights blob). */
export const inArena = (b: ProgramBuffer): boolean => (b.kind === 'temp' || b.kind === 'output') && b.aliasOf === undefined;

/** Sets `live` on every temp and output: [first dispatch that touches it, last one] (outputs: to the end). */
export function assignLiveRanges(p: Program): void {
  const first = new Map<string, number>(), last = new Map<string, number>();
  p.dispatches.forEach((d, i) => {
    for (const name of Object.values(d.buffers)) {
      if (!first.has(name)) first.set(name, i);
      last.set(name, i);
    }
  });
  const end = Math.max(0, p.dispatches.length - 1);
  for (const b of p.buffers) {
    if (b.kind !== 'temp' && b.kind !== 'output') continue;
    const f = first.get(b.name);
    if (f === undefined) { b.live = [0, b.kind === 'output' ? end : 0]; continue; }
    b.live = [f, b.kind === 'output' ? end : last.get(b.name)!];
  }
}

/** Evaluates a size expression for concrete symbol values. */
export function evalSize(e: Expr, symbols: Record<string, number>): number {
  try {
    return Number(evalExpr(e, symbols));
  } catch (err) {
    throw new TesseraError(`cannot evaluate a buffer size: ${(err as Error).message}`);
  }
}

export interface ArenaPlan {
  /** Byte offset of each arena buffer. */
  offsets: Map<string, number>;
  /** Byte size of each arena buffer (before alignment padding). */
  sizes: Map<string, number>;
  /** Bytes the arena needs. */
  peakBytes: number;
  /** The largest sum of simultaneously live buffer sizes: no plan can need less. */
  liveBound: number;
  /** Sum of all arena buffers' sizes: what allocating each separately would take. */
  totalBytes: number;
}

const align = (n: number): number => Math.ceil(n / ARENA_ALIGN) * ARENA_ALIGN;

export function planArena(p: Program, symbolValues: Record<string, number> = {}): ArenaPlan {
  for (const s of p.symbols) {
    if (symbolValues[s.name] === undefined) throw new TesseraError(`planArena needs a value for symbol '${s.name}'`);
  }
  const items = p.buffers.filter(inArena).map((b) => {
    if (!b.live) throw new TesseraError(`buffer '${b.name}' has no live range (run assignLiveRanges first)`);
    return { name: b.name, bytes: evalSize(b.size, symbolValues) * elemBytes(b.elem), live: b.live };
  });
  const order = [...items].sort((a, b) => b.bytes - a.bytes || a.live[0] - b.live[0] || (a.name < b.name ? -1 : 1));
  const placed: { off: number; end: number; live: [number, number] }[] = [];
  const offsets = new Map<string, number>(), sizes = new Map<string, number>();
  let peak = 0;
  for (const it of order) {
    const need = align(Math.max(it.bytes, 1));
    const conflicts = placed
      .filter((q) => q.live[0] <= it.live[1] && it.live[0] <= q.live[1])
      .sort((a, b) => a.off - b.off);
    let off = 0;
    for (const q of conflicts) {
      if (off + need <= q.off) break;
      off = Math.max(off, q.end);
    }
    placed.push({ off, end: off + need, live: it.live });
    offsets.set(it.name, off);
    sizes.set(it.name, it.bytes);
    peak = Math.max(peak, off + need);
  }
  // The lower bound: sweep dispatch indices.
  let liveBound = 0;
  const steps = Math.max(1, p.dispatches.length);
  for (let t = 0; t < steps; t++) {
    let s = 0;
    for (const it of items) if (it.live[0] <= t && t <= it.live[1]) s += align(Math.max(it.bytes, 1));
    liveBound = Math.max(liveBound, s);
  }
  const totalBytes = items.reduce((s, it) => s + align(Math.max(it.bytes, 1)), 0);
  return { offsets, sizes, peakBytes: peak, liveBound, totalBytes };
}
