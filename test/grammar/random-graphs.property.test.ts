// Property: random models (random ops, names, attributes of every kind, types, nested regions, tensors of
// every dtype with raw bit patterns) survive print → parse exactly, and print(parse(text)) is a fixed point.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseModel, printModel } from '../../grammar/index.ts';
import { modelDiff } from '../../ir/equal.ts';
import { RandomModel } from './random-model.ts';

describe('textual IR round trip of random graphs', () => {
  it('parse(print(m)) equals m and print is a fixed point (600 runs)', () => {
    fc.assert(fc.property(fc.gen(), fc.constantFrom(0, 4, 16, Infinity), (g, inlineLimit) => {
      const model = new RandomModel(g).model();
      const { text, blobs } = printModel(model, { inlineLimit });
      const back = parseModel(text, blobs);
      const diff = modelDiff(model, back);
      if (diff) throw new Error(`${diff}\n--- text ---\n${text}`);
      expect(printModel(back, { inlineLimit }).text).toBe(text);
    }), { numRuns: 600 });
  });
});
