// The stories260K files (read from ../shared, never copied into the repository) and synthetic checkpoints.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { seededRandom } from '../../ir/random.ts';
import { ROOT } from '../util/real-models.ts';

export const STORIES_DIR = join(ROOT, '..', 'shared', 'models', 'stories260K');
export const CHECKPOINT = join(STORIES_DIR, 'stories260K.bin');
export const TOKENIZER = join(STORIES_DIR, 'tok512.bin');
export const haveStories = existsSync(CHECKPOINT) && existsSync(TOKENIZER);
export const SKIP_REASON = `stories260K is not available at ${STORIES_DIR} (the model is read from ../shared, never copied into the repository)`;

export const readCheckpoint = (): Uint8Array => readFileSync(CHECKPOINT);
export const readTokenizer = (): Uint8Array => readFileSync(TOKENIZER);

export interface SyntheticConfig {
  dim: number; hiddenDim: number; nLayers: number; nHeads: number; nKvHeads: number; vocabSize: number; seqLen: number;
  shared: boolean;
}

/** A llama2.c checkpoint of the given shape with seeded random weights (norm weights near 1). */
export function syntheticCheckpoint(c: SyntheticConfig, seed = 1): Uint8Array {
  const hs = c.dim / c.nHeads, kv = c.nKvHeads * hs, L = c.nLayers;
  const rand = seededRandom(seed);
  const parts: [number, 'w' | 'norm'][] = [
    [c.vocabSize * c.dim, 'w'], [L * c.dim, 'norm'], [L * c.dim * c.dim, 'w'], [L * kv * c.dim, 'w'], [L * kv * c.dim, 'w'],
    [L * c.dim * c.dim, 'w'], [L * c.dim, 'norm'], [L * c.hiddenDim * c.dim, 'w'], [L * c.dim * c.hiddenDim, 'w'],
    [L * c.hiddenDim * c.dim, 'w'], [c.dim, 'norm'], [c.seqLen * hs, 'w'],
  ];
  if (!c.shared) parts.push([c.vocabSize * c.dim, 'w']);
  const floats = parts.reduce((n, [k]) => n + k, 0);
  const buf = new ArrayBuffer(28 + 4 * floats);
  new Int32Array(buf, 0, 7).set([c.dim, c.hiddenDim, c.nLayers, c.nHeads, c.nKvHeads, c.shared ? c.vocabSize : -c.vocabSize, c.seqLen]);
  const f = new Float32Array(buf, 28);
  let off = 0;
  for (const [n, kind] of parts) {
    for (let i = 0; i < n; i++) f[off + i] = kind === 'norm' ? 0.8 + 0.4 * rand() : (rand() * 2 - 1) * 0.5;
    off += n;
  }
  return new Uint8Array(buf);
}
