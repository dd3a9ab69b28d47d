// Shared by the lowering tests: build a one-node (or small) model, lower it, run the Program on the null
// device (the kernel-IR interpreter) and compare with the reference interpreter.
import { expect } from 'vitest';
import fc from 'fast-check';
import { compareTensors } from '../../compiler/compare.ts';
import { lower } from '../../compiler/lower/lower.ts';
import { NullDevice } from '../../compiler/lower/null-device.ts';
import type { LowerOptions } from '../../compiler/lower/context.ts';
import { importOnnx } from '../../compiler/onnx/import.ts';
import { isFloat, type DType } from '../../ir/dtype.ts';
import { TesseraError } from '../../ir/errors.ts';
import type { Model } from '../../ir/graph.ts';
import { inferModel } from '../../ir/infer.ts';
import type { Program } from '../../ir/kernel/program.ts';
import { Tensor } from '../../ir/tensor.ts';
import { verifyModel } from '../../ir/verify.ts';
import { ReferenceInterpreter } from '../../runtime/reference.ts';
import { buildModel, type ModelSpec } from '../util/onnx-builder.ts';

export function modelOf(spec: ModelSpec): Model {
  const m = importOnnx(buildModel(spec));
  verifyModel(m);
  inferModel(m);
  return m;
}

/** Tolerance of a comparison with the reference (which computes in f64 and rounds once). */
export function toleranceFor(d: DType, rtol = 1e-4, atol = 1e-6): { rtol: number; atol: number } {
  if (d === 'f16') return { rtol: 2e-3, atol: Math.max(atol, 1e-3) };
  if (d === 'bf16') return { rtol: 2e-2, atol: Math.max(atol, 1e-2) };
  if (d === 'f64') return { rtol: 1e-9, atol: 1e-12 };
  return { rtol, atol };
}

/** Lowers, runs on the null device and on the reference interpreter; returns a mismatch or undefined. */
export function mismatch(model: Model, feeds: Record<string, Tensor>, opts: LowerOptions & { rtol?: number; atol?: number } = {}, program?: Program): string | undefined {
  const ref = new ReferenceInterpreter(model).run(feeds);
  const p = program ?? lower(model, opts);
  const got = new NullDevice(p).run(feeds);
  for (const [name, want] of Object.entries(ref)) {
    if (want.kind !== 'tensor') return `output ${name} is not a tensor`;
    const have = got[name];
    if (!have) return `output ${name} is missing`;
    const why = compareTensors(have, want, isFloat(want.dtype) ? toleranceFor(want.dtype, opts.rtol, opts.atol) : { rtol: 0, atol: 0 });
    if (why) return `${name}: ${why}`;
  }
  return undefined;
}

export function expectSame(model: Model, feeds: Record<string, Tensor>, opts: LowerOptions & { rtol?: number } = {}): void {
  expect(mismatch(model, feeds, opts)).toBeUndefined();
}

/** The message of the TesseraError `fn` throws. */
export function errorOf(fn: () => unknown): string {
  try { fn(); } catch (e) {
    if (!(e instanceof TesseraError)) throw e;
    return e.message;
  }
  throw new Error('expected an error');
}

// ---------------------------------------------------------------- random data

/** A seeded generator (mulberry32). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Values that exercise a dtype: wrap-around for integers, signs and a few specials for floats. */
export function randomValues(dtype: DType, shape: number[], seed: number, opts: { nonzero?: boolean; range?: number } = {}): Tensor {
  const r = rng(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  const vals: (number | bigint | boolean)[] = [];
  for (let i = 0; i < n; i++) {
    const u = r();
    let x: number | bigint | boolean;
    const small = opts.range !== undefined && dtype !== 'bool' && !dtype.startsWith('f') && dtype !== 'bf16';
    if (small) {
      const k = Math.floor(u * (2 * opts.range! + 1)) - (dtype.startsWith('u') ? 0 : opts.range!);
      x = dtype === 'i64' || dtype === 'u64' ? BigInt(Math.abs(k) * (dtype === 'u64' ? 1 : Math.sign(k))) : (dtype.startsWith('u') ? Math.abs(k) : k);
      if (opts.nonzero && (x === 0 || x === 0n)) x = typeof x === 'bigint' ? 1n : 1;
      vals.push(x);
      continue;
    }
    switch (dtype) {
      case 'bool': x = u < 0.5; break;
      case 'i8': x = Math.floor(u * 256) - 128; break;
      case 'u8': x = Math.floor(u * 256); break;
      case 'i16': x = Math.floor(u * 65536) - 32768; break;
      case 'u16': x = Math.floor(u * 65536); break;
      case 'i32': x = Math.floor(u * 2 ** 32) - 2 ** 31; break;
      case 'u32': x = Math.floor(u * 2 ** 32); break;
      case 'i64': x = BigInt(Math.floor(u * 2 ** 32) - 2 ** 31) * BigInt(Math.floor(r() * 2 ** 20)); break;
      case 'u64': x = BigInt(Math.floor(u * 2 ** 32)) * BigInt(Math.floor(r() * 2 ** 20)); break;
      default: x = (u * 2 - 1) * (opts.range ?? 4);
    }
    if (opts.nonzero && (x === 0 || x === 0n || x === false)) x = typeof x === 'bigint' ? 1n : typeof x === 'boolean' ? true : 1;
    vals.push(x);
  }
  return Tensor.from(dtype, shape, vals);
}

// ---------------------------------------------------------------- arbitraries

export const dimArb = fc.integer({ min: 1, max: 4 });
export const shapeArb = (maxRank = 4) => fc.array(dimArb, { minLength: 0, maxLength: maxRank });

/** Two shapes that broadcast: the second drops leading dims and turns some dims into 1. */
export const broadcastPairArb = fc.tuple(shapeArb(4), fc.integer({ min: 0, max: 4 }), fc.array(fc.boolean(), { minLength: 4, maxLength: 4 }), fc.boolean())
  .map(([a, drop, ones, swap]) => {
    const b = a.slice(Math.min(drop, a.length)).map((d, i) => (ones[i] ? 1 : d));
    return swap ? [b, a] as const : [a, b] as const;
  });

export const seedArb = fc.integer({ min: 1, max: 2 ** 30 });

/** Property runs: small by default so the whole lowering suite stays well under a minute. */
export const RUNS = { numRuns: 25 };
