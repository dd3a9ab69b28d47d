// The fuzzer catches a planted bug: a test-only switch (ir/ops/util.ts __testHooks) makes the reference
// interpreter read the wrong input element at the end of each broadcast row. Fuzzing the reference against
// onnxruntime must find it, shrink it to a graph of at most 3 nodes, and write a case folder that fails
// `runCase` while the bug is in and passes once it is out.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCase } from '../../compiler/conformance.ts';
import { fuzz } from '../../compiler/fuzz/runner.ts';
import { reproDir, writeRepro } from '../../compiler/fuzz/repro.ts';
import { onnxruntimeTarget } from '../../compiler/fuzz/targets.ts';
import { __testHooks } from '../../ir/ops/util.ts';

const out = mkdtempSync(join(tmpdir(), 'tessera-planted-'));
const target = onnxruntimeTarget();
afterAll(() => { target.dispose?.(); rmSync(out, { recursive: true, force: true }); });

describe('a planted off-by-one in a broadcast index', () => {
  it('is found, shrunk to ≤ 3 nodes, and written as a case that fails only while the bug is in', async () => {
    __testHooks.broadcastOffByOne = true;
    let dir: string;
    try {
      const r = await fuzz({ targets: [target], runs: 200, seed: 8 });
      expect(r.divergence, 'the fuzzer finds the planted bug').toBeDefined();
      const d = r.divergence!;
      expect(d.outcome.findings[0]!.kind).toBe('mismatch');
      expect(d.case.nodes.length).toBeLessThanOrEqual(3);
      dir = writeRepro(reproDir(out, d, 8), d, target, { seed: 8 }).dir;
      expect(readFileSync(join(dir, 'model.tir'), 'utf8')).toContain('graph fuzz');
      expect(await runCase(dir, 'reference'), 'the case fails with the bug in').toBeDefined();
    } finally {
      __testHooks.broadcastOffByOne = false;
    }
    expect(await runCase(dir, 'reference'), 'the case passes with the bug out').toBeUndefined();
  }, 600_000); // a search plus shrinking against onnxruntime: ~30 s alone, minutes on a loaded 2-core CI machine

  it('the switch is off by default and the same seed finds nothing', async () => {
    expect(__testHooks.broadcastOffByOne).toBe(false);
    const r = await fuzz({ targets: [target], runs: 60, seed: 8 });
    expect(r.divergence).toBeUndefined();
  });
});
