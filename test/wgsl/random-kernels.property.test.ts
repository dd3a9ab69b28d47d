// Random valid kernels (compiler/fuzz RandomKernel: every loop kind, lets/locals, ifs, scalar and vector loads and
// stores over several dtypes, atomics, barriers with a workgroup buffer) through the WGSL emitter on real WebGPU
// (dawn.node over SwiftShader): each is emitted or refused for a documented reason; every emitted shader compiles
// with no error and no warning, runs, and leaves the buffers equal to the kernel interpreter's — integers exactly,
// floats within 1e-5 — unless the interpreter itself shows that the result depends on the order of parallel
// iterations (a race, run again with every parallel loop reversed), or the kernel fails in the interpreter (e.g.
// a division by zero). Float inputs and constants are tamed first (NaN, ±Inf and magnitudes above 1000 replaced
// by moderate values): SwiftShader compiles shaders with fast-math rewrites (it factors a·b + a·c, assumes no
// NaN in places), which WGSL's finite-math rule allows, so special values are tested on loaded data in emit.test.ts.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildWgsl } from '../../backends/wgsl/index.ts';
import { printKernel } from '../../grammar/kernel-printer.ts';
import { TesseraError } from '../../ir/errors.ts';
import { interpretKernel, type BufferData } from '../../ir/kernel/interpret.ts';
import type { Kernel } from '../../ir/kernel/ir.ts';
import { buffersDiff, cloneBuffers, RandomKernel } from '../../compiler/fuzz/kernel-programs.ts';
import { firstDiff, reversedParallel, tameBuffers, tameConstants } from './compare.ts';
import { numbered, runWgsl, webgpuUnavailable } from './harness.ts';

const why = await webgpuUnavailable();
if (why) console.log(`SKIP WGSL tests: ${why}`);

/** The documented refusal: a barrier in a parallel loop whose trip count is not a constant ≤ 256. */
const DOCUMENTED = /holds a barrier/;

function interpret(k: Kernel, buffers: Record<string, BufferData>, sizes: Record<string, number>): Record<string, BufferData> | undefined {
  const bufs = cloneBuffers(buffers);
  try {
    interpretKernel(k, { buffers: bufs, sizes });
    return bufs;
  } catch (e) {
    if (e instanceof TesseraError) return undefined;
    throw e;
  }
}

describe.skipIf(why)('random kernels through the WGSL backend', () => {
  it('compile cleanly, run, and agree with the interpreter (60 kernels)', async () => {
    // TESSERA_FC_SEED picks another seed (test/setup-fast-check.ts); TESSERA_WGSL_RUNS explores more kernels.
    const runs = Number(process.env.TESSERA_WGSL_RUNS ?? 60);
    const cases = fc.sample(fc.gen().map((g) => new RandomKernel(g).build()), { seed: fc.readConfigureGlobal().seed ?? 20261127, numRuns: runs });
    let compared = 0, racy = 0, failing = 0, refused = 0;
    for (const [i, raw] of cases.entries()) {
      const k = { ...tameConstants(raw.kernel), name: `random_${i}` };
      const c = { ...raw, buffers: tameBuffers(raw.buffers) };
      let emitted;
      try {
        emitted = buildWgsl([k]).kernels[0]!;
      } catch (e) {
        if (!(e instanceof TesseraError) || !DOCUMENTED.test(e.message)) throw e;
        refused++;
        continue;
      }
      const want = interpret(k, c.buffers, c.sizes);
      const reversed = interpret(reversedParallel(k), c.buffers, c.sizes);
      const skip = !want ? 'failing' : !reversed || buffersDiff(want, reversed) ? 'racy' : undefined;
      // Every shader must compile and run, even when its results are not compared.
      const got = await runWgsl(k, emitted, c.buffers, c.sizes);
      if (skip === 'failing') { failing++; continue; }
      if (skip === 'racy') { racy++; continue; }
      const globals = Object.fromEntries(k.buffers.filter((b) => b.space === 'global').map((b) => [b.name, want![b.name]!]));
      const diff = firstDiff(globals, got, { rtol: 1e-5, atol: 1e-6 });
      if (diff) {
        throw new Error(`kernel ${i}: ${diff}\n  sizes ${JSON.stringify(c.sizes)}\n--- kernel ---\n${printKernel(k)}\n--- wgsl ---\n${numbered(emitted.wgsl)}`);
      }
      compared++;
    }
    console.log(`random kernels: ${compared} compared, ${racy} racy, ${failing} failing in the interpreter, ${refused} refused`);
    expect(compared).toBeGreaterThan(cases.length / 3);
  });
});
