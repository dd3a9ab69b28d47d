// `tessera fuzz`: prints the seed it uses, runs, summarizes, exits 0 without a divergence; planned
// backends and unknown ops are clear errors.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../compiler/cli.ts';
import { TesseraError } from '../../ir/errors.ts';

afterEach(() => { vi.restoreAllMocks(); });

function capture() {
  const lines: string[] = [];
  vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => { lines.push(a.join(' ')); });
  return lines;
}

describe('tessera fuzz', () => {
  it('runs a seeded budget against onnxruntime and reports it', async () => {
    const lines = capture();
    expect(await main(['fuzz', '--runs', '40', '--seed', '12', '--ops', 'Add,MatMul,Transpose,ReduceSum,Where'])).toBe(0);
    expect(lines[0]).toBe('tessera fuzz: seed 12 (rerun with --seed 12)');
    expect(lines.some((l) => /^40 runs in .* over \d+ op kinds/.test(l))).toBe(true);
    expect(lines.at(-1)).toBe('no divergence');
  });

  it('draws and prints a fresh seed when none is given', async () => {
    const lines = capture();
    expect(await main(['fuzz', '--runs', '5', '--ops', 'Relu'])).toBe(0);
    expect(lines[0]).toMatch(/^tessera fuzz: seed \d+ \(rerun with --seed \d+\)$/);
  });

  it('names unknown backends and ops', async () => {
    await expect(main(['fuzz', '--backend', 'onnxruntime,metal'])).rejects.toThrow(/unknown fuzz target 'metal'/);
    await expect(main(['fuzz', '--ops', 'Add,NoSuchOp'])).rejects.toThrow(TesseraError);
    await expect(main(['fuzz', '--backend', 'reference'])).rejects.toThrow(/compared with the reference interpreter/);
  });
});
