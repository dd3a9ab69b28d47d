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
import type { Expr } from '../../ir/kernel/ir.ts';
import { evalExpr } from '../../ir/kernel/interpret.ts';
import type { Program, ProgramBuffer } from '../../ir/kernel/program.ts';
import { elemBytes, planArena as runtimePlan } from '../../runtime/plan.ts';

export const ARENA_ALIGN = 16;

export { elemBytes };

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

/**
 * The arena plan of a Program's temps and outputs for concrete symbol values: the runtime's planner
 * (runtime/plan.ts, the one implementation the Session uses too) over the buffers that live in the arena.
 */
export function planArena(p: Program, symbolValues: Record<string, number> = {}): ArenaPlan {
  for (const s of p.symbols) {
    if (symbolValues[s.name] === undefined) throw new TesseraError(`planArena needs a value for symbol '${s.name}'`);
  }
  const arena = p.buffers.filter(inArena);
  for (const b of arena) if (!b.live) throw new TesseraError(`buffer '${b.name}' has no live range (run assignLiveRanges first)`);
  // Outputs are treated by the runtime as live for the whole run, which their ranges already end at.
  const layout = runtimePlan(arena.map((b) => ({ ...b, kind: 'temp' as const })), symbolValues, Math.max(1, p.dispatches.length) - 1);
  const offsets = new Map<string, number>(), sizes = new Map<string, number>();
  for (const b of arena) {
    const r = layout.buffers[b.name]!;
    offsets.set(b.name, r.byteOffset);
    sizes.set(b.name, r.byteLength);
  }
  const totalBytes = [...sizes.values()].reduce((s, n) => s + align(Math.max(n, 1)), 0);
  return { offsets, sizes, peakBytes: arena.length ? layout.bytes : 0, liveBound: layout.peakLiveBytes, totalBytes };
}
