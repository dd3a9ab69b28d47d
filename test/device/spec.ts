// What make-expected.ts (here) and entry.ts (on the GPU machine) agree on: models.json, and the checksum
// that proves the device regenerated the same seeded inputs.
import { createHash } from 'node:crypto';
import type { Tensor } from '../../ir/tensor.ts';

/** One real model: its file, each input's SHA-256 (regenerated there from REAL_MODELS' seeds), each output's .npy. */
export interface ModelSpec {
  name: string;
  file: string;
  inputs: Record<string, string>;
  outputs: Record<string, string>;
}

/** SHA-256 of a tensor's dtype, shape and element bytes. */
export function tensorSha256(t: Tensor): string {
  if (t.dtype === 'string') throw new Error('string tensors have no checksum here');
  const data = t.data as ArrayBufferView;
  return createHash('sha256').update(`${t.dtype}[${t.shape.join(',')}]`)
    .update(new Uint8Array(data.buffer, data.byteOffset, data.byteLength)).digest('hex');
}
