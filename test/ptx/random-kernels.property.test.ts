// Random valid kernels (test/kernel/random-kernel.ts: every loop kind, lets/locals, ifs, scalar and vector
// loads/stores over several dtypes, atomics, barriers with a workgroup buffer) through the PTX emitter: each is
// emitted or refused with a reason the backend documents, and every emitted module assembles with ptxas.
import fc from 'fast-check';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildPtxModule } from '../../backends/ptx/index.ts';
import { TesseraError } from '../../ir/errors.ts';
import type { Kernel } from '../../ir/kernel/ir.ts';
import { RandomKernel } from '../../compiler/fuzz/kernel-programs.ts';

const hasPtxas = spawnSync('ptxas', ['--version']).status === 0;
const dir = mkdtempSync(join(tmpdir(), 'tessera-ptx-random-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The only refusal: a barrier in a parallel loop whose trip count is not a constant ≤ 1024 (lock-step needs one thread per iteration). */
const DOCUMENTED = /holds a barrier/;

describe('random kernels through the PTX backend', () => {
  it.skipIf(!hasPtxas)('are emitted (or refused for a documented reason) and assemble for sm_80 and sm_90', () => {
    const kernels = fc.sample(fc.gen().map((g) => new RandomKernel(g).build().kernel), { seed: 20261127, numRuns: 80 });
    const emitted: Kernel[] = [];
    let refused = 0;
    kernels.forEach((k, i) => {
      const named = { ...k, name: `random_${i}` };
      try {
        buildPtxModule([named]);
        emitted.push(named);
      } catch (e) {
        if (!(e instanceof TesseraError) || !DOCUMENTED.test(e.message)) throw e;
        refused++;
      }
    });
    expect(emitted.length).toBeGreaterThan(kernels.length / 2);
    for (const sm of [80, 90] as const) {
      const file = join(dir, `random.sm_${sm}.ptx`);
      writeFileSync(file, buildPtxModule(emitted, { sm }).text);
      const r = spawnSync('ptxas', [`-arch=sm_${sm}`, '-o', '/dev/null', file], { encoding: 'utf8' });
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
    }
    console.log(`random kernels: ${emitted.length} assembled, ${refused} refused (barrier in a loop of non-constant trip count)`);
  });
});
