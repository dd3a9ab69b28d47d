// Shapes for fuzzing: small dims that include 0 and 1 and odd sizes that break tiling and vector widths
// (3, 5, 7, 17, 33), shapes capped in element count, and numpy-broadcast partners of a shape.
import fc from 'fast-check';
import { Choices } from './choices.ts';

/** Dims in shrink order: index 0 (what shrinking reaches) is 1; 0 is rare so most tensors hold data. */
export const FUZZ_DIMS: readonly number[] = [1, 2, 3, 4, 5, 7, 1, 3, 8, 16, 17, 33, 2, 6, 9, 0];

/** Largest number of elements of a generated tensor (keeps one run in the milliseconds). */
export const MAX_FUZZ_ELEMENTS = 2048;

export const product = (s: readonly number[]): number => s.reduce((a, b) => a * b, 1);

export function fuzzDim(c: Choices): number {
  return c.pick(FUZZ_DIMS);
}

/** Halves the largest dims until the shape holds at most `cap` elements (sizes stay ≥ 1 where they were). */
export function capShape(shape: number[], cap = MAX_FUZZ_ELEMENTS): number[] {
  const s = [...shape];
  while (product(s) > cap) {
    let k = 0;
    for (let i = 1; i < s.length; i++) if (s[i]! > s[k]!) k = i;
    s[k] = Math.ceil(s[k]! / 2);
  }
  return s;
}

export function fuzzShape(c: Choices, rank: number, cap = MAX_FUZZ_ELEMENTS): number[] {
  return capShape(Array.from({ length: rank }, () => fuzzDim(c)), cap);
}

/**
 * A shape that broadcasts with `shape` (numpy rules): the same shape, a suffix of it, the same rank with
 * some dims set to 1, or a shape that widens the result (1s of `shape` given sizes, extra leading dims).
 */
export function broadcastPartner(c: Choices, shape: readonly number[], cap = MAX_FUZZ_ELEMENTS): number[] {
  switch (c.below(4)) {
    case 0: return [...shape];
    case 1: {
      const drop = c.int(0, shape.length);
      return shape.slice(drop).map((d) => (c.chance(25) ? 1 : d));
    }
    case 2: return shape.map((d) => (c.chance(50) ? 1 : d));
    default: {
      const lead = Array.from({ length: c.below(3) }, () => fuzzDim(c));
      const widened = shape.map((d) => (d === 1 && c.chance(70) ? fuzzDim(c) : c.chance(30) ? 1 : d));
      const out = [...lead, ...widened];
      // Keep the broadcast result small: shrink only dims that do not have to match `shape`.
      while (product(broadcastOf(out, shape)) > cap) {
        const i = out.findIndex((d, k) => d > 1 && (k < lead.length || shape[k - lead.length] === 1));
        if (i < 0) break;
        out[i] = Math.ceil(out[i]! / 2);
      }
      return out;
    }
  }
}

/** A shape `target` can be broadcast to by one side only (for Expand, PRelu slopes, Gemm's C). */
export function unidirectionalPartner(c: Choices, target: readonly number[]): number[] {
  const drop = c.int(0, target.length);
  return target.slice(drop).map((d) => (c.chance(40) ? 1 : d));
}

/** The numpy broadcast of two static shapes (callers pass compatible shapes). */
export function broadcastOf(a: readonly number[], b: readonly number[]): number[] {
  const r = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < r; i++) {
    const x = a[a.length - r + i] ?? 1, y = b[b.length - r + i] ?? 1;
    out.push(x === 1 ? y : x);
  }
  return out;
}

export function broadcastable(a: readonly number[], b: readonly number[]): boolean {
  const r = Math.min(a.length, b.length);
  for (let i = 1; i <= r; i++) {
    const x = a[a.length - i]!, y = b[b.length - i]!;
    if (x !== y && x !== 1 && y !== 1) return false;
  }
  return true;
}

// ---------- the same as fast-check arbitraries (for users' own properties) ----------

const choiceStream = fc.array(fc.nat({ max: 0x7fffffff }), { maxLength: 16 });

/** A fuzz shape of rank in [minRank, maxRank] (dims from FUZZ_DIMS, capped at MAX_FUZZ_ELEMENTS). */
export function shapeArb(minRank = 0, maxRank = 4): fc.Arbitrary<number[]> {
  return fc.tuple(fc.integer({ min: minRank, max: maxRank }), choiceStream).map(([r, xs]) => fuzzShape(new Choices(xs), r));
}

/** Two shapes that broadcast together (numpy rules), in either order. */
export function broadcastShapesArb(minRank = 0, maxRank = 4): fc.Arbitrary<[number[], number[]]> {
  return fc.tuple(shapeArb(minRank, maxRank), choiceStream, fc.boolean()).map(([s, xs, swap]) => {
    const p = broadcastPartner(new Choices(xs), s);
    return swap ? [p, s] : [s, p];
  });
}
