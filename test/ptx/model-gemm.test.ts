// The path a user takes to the tensor cores: an ONNX MatMul on f16/bf16 is lowered with a matmul pattern, and
// the cuda target replaces the kernel's body with the mma.sync GEMM template (f32 keeps the generic kernel).
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compileModel } from '../../compiler/compile.ts';
import { loadModel } from '../../compiler/driver.ts';
import type { DType } from '../../ir/dtype.ts';
import { buildModel } from '../util/onnx-builder.ts';

const dir = mkdtempSync(join(tmpdir(), 'tessera-model-gemm-'));

async function ptxOf(dtype: DType, shapeA: (number | string)[], shapeB: (number | string)[]) {
  const path = join(dir, `mm-${dtype}-${shapeA.join('x')}.onnx`);
  writeFileSync(path, buildModel({
    inputs: [{ name: 'a', dtype, shape: shapeA }, { name: 'b', dtype, shape: shapeB }], outputs: [{ name: 'y', dtype }],
    nodes: [{ op: 'MatMul', inputs: ['a', 'b'], outputs: ['y'] }], opset: 17,
  }));
  const { files, program } = await compileModel(loadModel(path), { target: 'cuda', sm: 90 });
  return { ptx: new TextDecoder().decode(files.get('kernels.ptx')), program };
}

describe('MatMul models on the cuda target', () => {
  it.each(['f16', 'bf16'] as const)('%s: the kernel carries a matmul pattern and is emitted as the mma.sync template', async (dtype) => {
    const { ptx, program } = await ptxOf(dtype, ['M', 64], [64, 96]);
    expect(program.kernels.some((k) => k.pattern?.kind === 'matmul')).toBe(true);
    expect(ptx).toContain('mma.sync.aligned.m16n8k16.row.col.f32');
    expect(ptx).toContain('cp.async');
  });

  it('batched f16 with a broadcast operand still takes the template', async () => {
    const { ptx } = await ptxOf('f16', [3, 'M', 32], [32, 16]);
    expect(ptx).toContain('mma.sync');
  });

  it('f32 keeps the generic kernel (no f32 tensor-core template)', async () => {
    const { ptx } = await ptxOf('f32', ['M', 64], [64, 96]);
    expect(ptx).not.toContain('mma.sync');
  });
});
