// The PP-OCR models from npm lower with their symbolic dimensions; the classifier's Program, run by the
// kernel-IR interpreter, matches the reference interpreter. Skipped when the models are not installed.
import { describe, expect, it } from 'vitest';
import { randomTensor } from '../../compiler/cli.ts';
import { loadModel } from '../../compiler/driver.ts';
import { lower } from '../../compiler/lower/lower.ts';
import { planArena } from '../../compiler/lower/memory.ts';
import { seededRandom } from '../../ir/random.ts';
import { available, REAL_MODELS } from '../util/real-models.ts';
import { mismatch } from './helpers.ts';

const find = (s: string) => REAL_MODELS.find((m) => m.name.includes(s))!;

describe('PP-OCR models', () => {
  const cls = find('cls'), rec = find('rec'), det = find('det');

  it.skipIf(!available(cls))('the classifier runs on the null device and matches the reference (at a small width)', () => {
    const model = loadModel(cls.path);
    const p = lower(model);
    expect(p.symbols.length).toBe(3);
    const x = randomTensor('f32', [1, 3, 48, 64], seededRandom(3));
    expect(mismatch(model, { x }, { rtol: 1e-3, atol: 1e-5 }, p)).toBeUndefined();
  });

  it.skipIf(!available(rec) || !available(det))('the recognizer and detector lower; the arena reuses memory', () => {
    for (const [m, sym] of [[rec, [1, 320]], [det, [1, 640, 640]]] as const) {
      const p = lower(loadModel(m.path));
      const values = Object.fromEntries(p.symbols.map((s, i) => [s.name, sym[i]!]));
      const plan = planArena(p, values);
      expect(p.kernels.length).toBeGreaterThan(100);
      expect(plan.peakBytes).toBeGreaterThanOrEqual(plan.liveBound);
      expect(plan.peakBytes).toBeLessThan(plan.totalBytes / 4);
    }
  });
});
