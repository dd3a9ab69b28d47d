// Property: any byte-level corruption of a real model gives a clean TesseraError or a valid graph —
// never an uncaught exception, crash or hang; a valid one then runs or fails cleanly on small inputs.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { importOnnx } from '../../compiler/onnx/import.ts';
import { TesseraError } from '../../ir/errors.ts';
import { inferModel } from '../../ir/infer.ts';
import { verifyModel } from '../../ir/verify.ts';
import { randomTensor } from '../../compiler/cli.ts';
import type { Model } from '../../ir/graph.ts';
import { seededRandom } from '../../ir/random.ts';
import type { Tensor } from '../../ir/tensor.ts';
import { isStaticShape } from '../../ir/types.ts';
import { ReferenceInterpreter } from '../../runtime/reference.ts';
import { REAL_MODELS, ROOT } from '../util/real-models.ts';

const NODE = join(ROOT, '.data/onnx/usr/share/libonnx-testdata/data/node');
const SAMPLE = ['test_if', 'test_loop11', 'test_scan9_sum', 'test_conv_with_strides_padding', 'test_gemm_default_single_elem_vector_bias',
  'test_reshape_negative_dim', 'test_slice', 'test_resize_upsample_scales_linear', 'test_lstm_defaults', 'test_sequence_map_identity_1_sequence',
  'test_layer_normalization_2d_axis0', 'test_einsum_batch_diagonal', 'test_cast_FLOAT_to_STRING', 'test_optional_get_element_sequence',
  'test_softmax_cross_entropy_mean_weight_ignore_index_3d_log_prob_expanded', 'test_nonmaxsuppression_two_batches', 'test_unique_sorted_with_axis'];

const corpus: { name: string; bytes: Uint8Array }[] = [];
for (const c of SAMPLE) {
  const p = join(NODE, c, 'model.onnx');
  if (existsSync(p)) corpus.push({ name: c, bytes: readFileSync(p) });
}
const cls = REAL_MODELS.find((m) => m.name.startsWith('PP-OCR cls'))!;
if (existsSync(cls.path)) corpus.push({ name: 'ppocr-cls', bytes: readFileSync(cls.path) });
const vad = REAL_MODELS.find((m) => m.name === 'silero-vad 16k op15')!;
if (existsSync(vad.path)) corpus.push({ name: 'silero-vad-16k', bytes: readFileSync(vad.path) });

/** Seeded inputs when every input has a small static shape; undefined otherwise. */
function smallFeeds(model: Model, seed: number): Record<string, Tensor> | undefined {
  const g = model.graph;
  const rand = seededRandom(seed);
  const feeds: Record<string, Tensor> = {};
  for (const v of g.inputs.filter((x) => !g.initializers.has(x))) {
    const t = v.type;
    if (t?.kind !== 'tensor' || !isStaticShape(t.shape) || t.dtype === 'string') return undefined;
    if (t.shape.reduce((a, b) => a * b, 1) > 100_000) return undefined;
    feeds[v.name] = randomTensor(t.dtype, t.shape, rand);
  }
  return feeds;
}

type Mutation =
  | { kind: 'flip'; at: number; bit: number }
  | { kind: 'byte'; at: number; value: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'insert'; at: number; bytes: number[] }
  | { kind: 'delete'; at: number; len: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.double({ min: 0, max: 1, noNaN: true }), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ kind: fc.constant('byte' as const), at: fc.double({ min: 0, max: 1, noNaN: true }), value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.double({ min: 0, max: 1, noNaN: true }) }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.double({ min: 0, max: 1, noNaN: true }), bytes: fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 1, maxLength: 8 }) }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.double({ min: 0, max: 1, noNaN: true }), len: fc.integer({ min: 1, max: 16 }) }),
);

function apply(src: Uint8Array, muts: Mutation[]): Uint8Array {
  let b = src;
  for (const m of muts) {
    const at = Math.min(b.length - 1, Math.floor(m.at * b.length));
    if (m.kind === 'flip') { b = b === src ? src.slice() : b; b[at] = b[at]! ^ (1 << m.bit); }
    else if (m.kind === 'byte') { b = b === src ? src.slice() : b; b[at] = m.value; }
    else if (m.kind === 'truncate') b = b.subarray(0, at);
    else if (m.kind === 'insert') b = new Uint8Array([...b.subarray(0, at), ...m.bytes, ...b.subarray(at)]);
    else b = new Uint8Array([...b.subarray(0, at), ...b.subarray(at + m.len)]);
  }
  return b;
}

describe('corrupted models', () => {
  it.skipIf(corpus.length === 0)('give a clean error or a valid graph (fast-check, 1000 cases)', () => {
    let clean = 0, valid = 0, ran = 0;
    fc.assert(
      fc.property(fc.integer({ min: 0, max: corpus.length - 1 }), fc.array(mutation, { minLength: 1, maxLength: 4 }), (which, muts) => {
        const bytes = apply(corpus[which]!.bytes, muts);
        try {
          const model = importOnnx(bytes, { source: corpus[which]!.name });
          verifyModel(model);
          inferModel(model);
          valid++;
          // A corrupted model that still verifies must also run cleanly (or fail cleanly) on small inputs.
          const feeds = smallFeeds(model, which);
          if (feeds) {
            try { new ReferenceInterpreter(model, { deadlineMs: 2000 }).run(feeds); ran++; } catch (e) {
              if (!(e instanceof TesseraError)) throw e;
              ran++;
            }
          }
        } catch (e) {
          if (!(e instanceof TesseraError)) throw e;
          expect(e.message.length).toBeGreaterThan(0);
          clean++;
        }
      }),
      { numRuns: 1000 }, // the seed: test/setup-fast-check.ts (TESSERA_FC_SEED)
    );
    expect(clean + valid).toBe(1000);
    // Both outcomes occur, so the property exercises the importer's errors and the valid path alike.
    expect(clean).toBeGreaterThan(100);
    expect(valid).toBeGreaterThan(20);
    expect(ran).toBeGreaterThan(10);
  });
});
