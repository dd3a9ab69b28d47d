// Next-token sampling as in llama2.c's run.c: greedy argmax at temperature 0; otherwise softmax of
// logits / temperature, then top-p (nucleus) sampling when 0 < topP < 1, else sampling from the whole
// distribution. The coin comes from a caller-supplied PRNG (seeded), so a run is reproducible.
import { TesseraError } from '../ir/errors.ts';

export interface SamplingOptions {
  /** 0 (default): greedy. */
  temperature?: number;
  /** Nucleus mass in (0, 1); 0 or ≥ 1 samples from the whole distribution. Default 0.9 (run.c's). */
  topP?: number;
}

/** Index of the largest logit (the first one on ties, as run.c). */
export function argmax(logits: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < logits.length; i++) if (logits[i]! > logits[best]!) best = i;
  return best;
}

export function checkSampling(opts: SamplingOptions): void {
  const t = opts.temperature ?? 0, p = opts.topP ?? 0.9;
  if (!Number.isFinite(t) || t < 0) throw new TesseraError(`temperature must be a number ≥ 0, got ${t}`);
  if (!Number.isFinite(p) || p < 0) throw new TesseraError(`top-p must be a number ≥ 0, got ${p}`);
}

/** Picks the next token from logits; `random` returns uniform numbers in [0, 1). */
export function sample(logits: ArrayLike<number>, opts: SamplingOptions, random: () => number): number {
  const temperature = opts.temperature ?? 0, topP = opts.topP ?? 0.9;
  if (temperature === 0) return argmax(logits);
  const n = logits.length;
  const probs = new Float64Array(n);
  let max = -Infinity;
  for (let i = 0; i < n; i++) { probs[i] = logits[i]! / temperature; if (probs[i]! > max) max = probs[i]!; }
  let sum = 0;
  for (let i = 0; i < n; i++) { probs[i] = Math.exp(probs[i]! - max); sum += probs[i]!; }
  for (let i = 0; i < n; i++) probs[i]! /= sum;
  const coin = random();
  return topP <= 0 || topP >= 1 ? sampleMultinomial(probs, coin) : sampleTopP(probs, topP, coin);
}

function sampleMultinomial(probs: Float64Array, coin: number): number {
  let cdf = 0;
  for (let i = 0; i < probs.length; i++) {
    cdf += probs[i]!;
    if (coin < cdf) return i;
  }
  return probs.length - 1; // rounding
}

/** Samples among the smallest set of most likely tokens whose mass exceeds topP (run.c's sample_topp). */
function sampleTopP(probs: Float64Array, topP: number, coin: number): number {
  // Tokens below (1 - topP) / (n - 1) cannot be in the nucleus: skip them before sorting.
  const cutoff = (1 - topP) / (probs.length - 1);
  const candidates: number[] = [];
  for (let i = 0; i < probs.length; i++) if (probs[i]! >= cutoff) candidates.push(i);
  candidates.sort((a, b) => probs[b]! - probs[a]! || a - b);
  let cumulative = 0, last = candidates.length - 1;
  for (let i = 0; i < candidates.length; i++) {
    cumulative += probs[candidates[i]!]!;
    if (cumulative > topP) { last = i; break; }
  }
  const r = coin * cumulative;
  let cdf = 0;
  for (let i = 0; i <= last; i++) {
    cdf += probs[candidates[i]!]!;
    if (r < cdf) return candidates[i]!;
  }
  return candidates[last]!;
}
