// Round trip of every imported test model: parse(print(m)) is structurally equal to m (weights inline and
// by reference), and print(parse(text)) reproduces the text. Inference runs when it can (so value types
// of intermediate values are in the IR too); a model whose ops are not all inferable yet is still checked.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { importOnnxFile } from '../../compiler/onnx/import.ts';
import { parseModel, printModel } from '../../grammar/index.ts';
import { modelDiff } from '../../ir/equal.ts';
import { inferModel } from '../../ir/infer.ts';
import '../../ir/ops/index.ts';
import { REAL_MODELS, ROOT } from '../util/real-models.ts';

const DATA = join(ROOT, '.data/onnx/usr/share/libonnx-testdata/data');

function caseModels(suite: string): string[] {
  const dir = join(DATA, suite);
  if (!existsSync(dir)) return [];
  return readdirSync(dir).map((c) => join(dir, c, 'model.onnx')).filter(existsSync);
}

/** Checks the round trip at one inline limit; returns a failure description or undefined. */
function roundTrip(path: string, inlineLimit: number): string | undefined {
  const model = importOnnxFile(path);
  try { inferModel(model); } catch { /* ops still being written: the IR round trip does not need types */ }
  const { text, blobs } = printModel(model, { inlineLimit });
  const back = parseModel(text, blobs);
  const diff = modelDiff(model, back);
  if (diff) return `${path}: ${diff}`;
  const again = printModel(back, { inlineLimit }).text;
  if (again !== text) return `${path}: print(parse(text)) differs from text`;
  return undefined;
}

describe('textual IR round trip of imported models', () => {
  for (const suite of ['node', 'pytorch-converted']) {
    const models = caseModels(suite);
    it.skipIf(models.length === 0)(`libonnx-testdata ${suite}/ (${models.length} models), weights inline and by reference`, () => {
      const failures: string[] = [];
      for (const m of models) {
        for (const limit of [16, Infinity]) {
          const f = roundTrip(m, limit);
          if (f) { failures.push(f); break; }
        }
      }
      expect(failures).toEqual([]);
    });
  }
  for (const m of REAL_MODELS) {
    it.skipIf(!existsSync(m.path))(`${m.name}: weights by reference`, () => {
      expect(roundTrip(m.path, 16)).toBeUndefined();
    });
  }
  const small = REAL_MODELS.find((m) => m.path.endsWith('ch_ppocr_mobile_v2.0_cls_infer.onnx'))!;
  it.skipIf(!existsSync(small.path))(`${small.name}: every weight inline`, () => {
    expect(roundTrip(small.path, Infinity)).toBeUndefined();
  });
});
