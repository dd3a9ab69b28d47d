import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadModel } from '../../compiler/driver.ts';
import { lookupOp, registerOp } from '../../ir/registry.ts';
import { Tensor } from '../../ir/tensor.ts';
import '../../ir/ops/index.ts';
import { buildModel } from '../util/onnx-builder.ts';

describe('op registry versioning', () => {
  it('picks the newest definition with since ≤ the model opset', () => {
    const def = (since: number) => ({ domain: 'test.tessera', name: 'Versioned', since, inputs: [0, 0] as [number, number], outputs: [1, 1] as [number, number], infer: () => [], run: () => [] });
    registerOp(def(1)); registerOp(def(7)); registerOp(def(13));
    expect(lookupOp('test.tessera', 'Versioned', 6)?.since).toBe(1);
    expect(lookupOp('test.tessera', 'Versioned', 7)?.since).toBe(7);
    expect(lookupOp('test.tessera', 'Versioned', 12)?.since).toBe(7);
    expect(lookupOp('test.tessera', 'Versioned', 99)?.since).toBe(13);
    expect(lookupOp('test.tessera', 'Versioned', 0)).toBeUndefined();
    expect(() => registerOp(def(7))).toThrow(/registered twice/);
  });
});

describe('type inference', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-infer-'));
  const load = (bytes: Uint8Array) => { const p = join(dir, `m${Math.random()}.onnx`); writeFileSync(p, bytes); return loadModel(p); };

  it('broadcasts symbolic dims and keeps names', () => {
    const m = load(buildModel({
      inputs: [{ name: 'a', dtype: 'f32', shape: ['N', 1, 4] }, { name: 'b', dtype: 'f32', shape: [3, 1] }],
      outputs: [{ name: 'c', dtype: 'f32' }],
      nodes: [{ op: 'Add', inputs: ['a', 'b'], outputs: ['c'] }],
    }));
    expect(m.graph.outputs[0]!.type).toEqual({ kind: 'tensor', dtype: 'f32', shape: ['N', 3, 4] });
  });

  it('folds Shape → Gather → Concat → Reshape into a static shape', () => {
    const m = load(buildModel({
      inputs: [{ name: 'x', dtype: 'f32', shape: [2, 3, 4] }],
      outputs: [{ name: 'y', dtype: 'f32' }],
      initializers: { idx: Tensor.from('i64', [1], [0n]), minus1: Tensor.from('i64', [1], [-1n]) },
      nodes: [
        { op: 'Shape', inputs: ['x'], outputs: ['s'] },
        { op: 'Gather', inputs: ['s', 'idx'], outputs: ['d0'], attrs: { axis: 0 } },
        { op: 'Concat', inputs: ['d0', 'minus1'], outputs: ['target'], attrs: { axis: 0 } },
        { op: 'Reshape', inputs: ['x', 'target'], outputs: ['y'] },
      ],
    }));
    expect(m.graph.outputs[0]!.type).toEqual({ kind: 'tensor', dtype: 'f32', shape: [2, 12] });
  });
});
