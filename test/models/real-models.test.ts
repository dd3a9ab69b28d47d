// The real npm models match onnxruntime-node (the external oracle) on seeded inputs of realistic shape,
// in process and through `tessera run`.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compareTensors } from '../../compiler/compare.ts';
import { loadModel, prepare } from '../../compiler/driver.ts';
import { readNpy, writeNpy } from '../../compiler/npy.ts';
import type { Tensor } from '../../ir/tensor.ts';
import { available, REAL_MODELS, ROOT, runOrt } from '../util/real-models.ts';

/** rtol 1e-3 as the issue asks; atol 1e-5 so values that are ~0 in float32 do not fail on noise. */
const TOL = { rtol: 1e-3, atol: 1e-5 };

describe('real models match onnxruntime-node', () => {
  for (const m of REAL_MODELS) {
    it.skipIf(!available(m))(`${m.name}`, async () => {
      const feeds = m.feeds();
      const expected = await runOrt(m.path, feeds);
      const model = loadModel(m.path);
      const ours = prepare(model, 'reference').run(feeds);
      for (const [k, e] of Object.entries(expected)) {
        const got = ours[k];
        expect(got, `output ${k}`).toBeDefined();
        expect(compareTensors(got as Tensor, e, TOL), `${m.name} output ${k}`).toBeUndefined();
      }

      // The same through the CLI: inputs as .npy files, outputs written to a folder.
      const dir = mkdtempSync(join(tmpdir(), 'tessera-real-'));
      const args = ['run', m.path, '--backend', 'reference', '--output-dir', join(dir, 'out')];
      for (const [k, t] of Object.entries(feeds)) {
        writeFileSync(join(dir, `${k}.npy`), writeNpy(t));
        args.push('--input', `${k}=${join(dir, `${k}.npy`)}`);
      }
      execFileSync('node', [join(ROOT, 'bin/tessera.js'), ...args], { stdio: 'pipe', timeout: 300_000 });
      for (const [k, e] of Object.entries(expected)) {
        const got = readNpy(readFileSync(join(dir, 'out', `${k.replace(/[^A-Za-z0-9_.-]/g, '_')}.npy`)));
        expect(compareTensors(got, e, TOL), `${m.name} output ${k} via tessera run`).toBeUndefined();
      }
    }, 600_000);
  }
});
