// The decoder descriptor: which inputs and outputs of a step graph are the token, the position, the
// logits and the KV cache. It travels in the model's metadata (key `tessera.decoder`, JSON), so a decoder
// exported to ONNX and imported again is still a decoder; the decode runtime and the KV-cache passes read
// it instead of guessing from names.
//
// The cache contract (what a step graph with this descriptor computes):
//  - every cache tensor has the fixed shape [1, kvHeads, capacity, headSize] (batch, kv head, slot,
//    channel), f32; `past` is the graph input, `present` the graph output of the same shape;
//  - a step writes the keys/values of the fed token at slot `position` (keys rotated by RoPE before they
//    are cached) and leaves every other slot unchanged, so an executor may update the cache in place;
//  - attention reads the slots 0..position and ignores the rest (masked), so slots above the position
//    may hold anything finite.
// In the graphs tessera builds, `position` feeds three separate places — the RoPE angle (Cast → Mul), the
// write index of the ScatterND updates (`cache/write_index`) and the visibility mask
// (`cache/visible` = LessOrEqual(slots, position)) — so a KV-cache eviction pass can give the write slot
// and the mask their own inputs (slot ≠ position once entries are evicted or compacted) without touching
// the rotation; keys are cached after RoPE, so compacting them needs no re-rotation.
import { TesseraError } from './errors.ts';
import type { Graph, Model, Value } from './graph.ts';
import { typeToString, type TensorType } from './types.ts';

export const DECODER_METADATA_KEY = 'tessera.decoder';

export interface KvCacheEntry {
  layer: number;
  kind: 'key' | 'value';
  /** Graph input holding the cache before the step. */
  past: string;
  /** Graph output holding the cache after the step (same shape). */
  present: string;
}

export interface DecoderSpec {
  format: 'tessera.decoder/1';
  /** Input: the token id fed at this step (i64 or i32, one element). */
  token: string;
  /** Input: the position of that token, 0-based (i64 or i32, one element); also the cache slot written. */
  position: string;
  /** Output: the next-token logits (f32, vocabSize elements). */
  logits: string;
  vocabSize: number;
  /** Cache slots per layer: the longest sequence a session can decode. */
  capacity: number;
  layers: number;
  heads: number;
  kvHeads: number;
  headSize: number;
  /** Axes of every cache tensor. */
  layout: 'batch,kv_head,slot,channel';
  cache: KvCacheEntry[];
  /** Begin-of-sequence token (also the sequence delimiter), when the model has one. */
  bos?: number;
  eos?: number;
}

/** Stores the descriptor in the model's metadata (after checking it against the graph). */
export function setDecoderSpec(model: Model, spec: DecoderSpec): void {
  checkDecoderSpec(model.graph, spec);
  model.metadata = { ...(model.metadata ?? {}), [DECODER_METADATA_KEY]: JSON.stringify(spec) };
}

/** The descriptor of a decoder model, or undefined when the model carries none. Invalid ones throw. */
export function getDecoderSpec(model: Model): DecoderSpec | undefined {
  const text = model.metadata?.[DECODER_METADATA_KEY];
  if (text === undefined) return undefined;
  let raw: unknown;
  try { raw = JSON.parse(text); } catch (e) {
    throw new TesseraError(`metadata '${DECODER_METADATA_KEY}' is not valid JSON: ${(e as Error).message}`);
  }
  const spec = parseSpec(raw);
  checkDecoderSpec(model.graph, spec);
  return spec;
}

function parseSpec(raw: unknown): DecoderSpec {
  const bad = (why: string): never => { throw new TesseraError(`metadata '${DECODER_METADATA_KEY}': ${why}`); };
  if (typeof raw !== 'object' || raw === null) bad('expected a JSON object');
  const o = raw as Record<string, unknown>;
  if (o.format !== 'tessera.decoder/1') bad(`unknown format ${JSON.stringify(o.format)} (expected "tessera.decoder/1")`);
  for (const k of ['token', 'position', 'logits'] as const) if (typeof o[k] !== 'string') bad(`'${k}' must be a name`);
  for (const k of ['vocabSize', 'capacity', 'layers', 'heads', 'kvHeads', 'headSize'] as const) {
    if (!Number.isInteger(o[k]) || (o[k] as number) < 1) bad(`'${k}' must be a positive integer`);
  }
  for (const k of ['bos', 'eos'] as const) {
    if (o[k] !== undefined && (!Number.isInteger(o[k]) || (o[k] as number) < 0)) bad(`'${k}' must be a token id`);
  }
  if (o.layout !== 'batch,kv_head,slot,channel') bad(`unknown cache layout ${JSON.stringify(o.layout)}`);
  if (!Array.isArray(o.cache)) bad(`'cache' must be a list`);
  for (const [i, e] of (o.cache as unknown[]).entries()) {
    const c = e as Record<string, unknown>;
    if (typeof c !== 'object' || c === null || !Number.isInteger(c.layer) || (c.kind !== 'key' && c.kind !== 'value') ||
      typeof c.past !== 'string' || typeof c.present !== 'string') {
      bad(`cache entry ${i} must be { layer, kind: "key"|"value", past, present }`);
    }
  }
  return o as unknown as DecoderSpec;
}

/** Checks that the names of a descriptor exist in the graph with the types the contract requires. */
export function checkDecoderSpec(g: Graph, spec: DecoderSpec): void {
  const where = `decoder descriptor`;
  const input = (name: string, what: string): Value => {
    const v = g.inputs.find((x) => x.name === name);
    if (!v) throw new TesseraError(`${where}: ${what} '${name}' is not an input of the graph`);
    if (g.initializers.has(v)) throw new TesseraError(`${where}: ${what} '${name}' has an initializer (it must be fed)`);
    return v;
  };
  const output = (name: string, what: string): Value => {
    const v = g.outputs.find((x) => x.name === name);
    if (!v) throw new TesseraError(`${where}: ${what} '${name}' is not an output of the graph`);
    return v;
  };
  const scalarLike = (v: Value, what: string) => {
    const t = v.type;
    if (t?.kind !== 'tensor' || (t.dtype !== 'i64' && t.dtype !== 'i32') || !t.shape || !t.shape.every((d) => d === 1)) {
      throw new TesseraError(`${where}: ${what} '${v.name}' must be an i64 or i32 tensor of one element, got ${typeToString(t)}`);
    }
  };
  scalarLike(input(spec.token, 'token input'), 'token input');
  scalarLike(input(spec.position, 'position input'), 'position input');
  const logits = output(spec.logits, 'logits output').type;
  if (logits?.kind !== 'tensor' || logits.dtype !== 'f32' || !logits.shape ||
    logits.shape.reduce<number>((n, d) => (typeof d === 'number' ? n * d : NaN), 1) !== spec.vocabSize) {
    throw new TesseraError(`${where}: logits output '${spec.logits}' must be f32 with ${spec.vocabSize} elements, got ${typeToString(logits)}`);
  }
  if (spec.heads % spec.kvHeads !== 0) throw new TesseraError(`${where}: heads (${spec.heads}) must be a multiple of kvHeads (${spec.kvHeads})`);
  if (spec.cache.length !== 2 * spec.layers) {
    throw new TesseraError(`${where}: expected ${2 * spec.layers} cache entries (a key and a value per layer), got ${spec.cache.length}`);
  }
  const want = [1, spec.kvHeads, spec.capacity, spec.headSize];
  const seen = new Set<string>();
  for (const e of spec.cache) {
    const id = `${e.layer}/${e.kind}`;
    if (e.layer < 0 || e.layer >= spec.layers || seen.has(id)) throw new TesseraError(`${where}: cache entry ${id} is out of range or repeated`);
    seen.add(id);
    for (const v of [input(e.past, 'cache input'), output(e.present, 'cache output')]) {
      const t = v.type as TensorType | undefined;
      if (t?.kind !== 'tensor' || t.dtype !== 'f32' || !t.shape || t.shape.length !== 4 || t.shape.some((d, i) => d !== want[i])) {
        throw new TesseraError(`${where}: cache tensor '${v.name}' must be f32[${want.join(',')}], got ${typeToString(t)}`);
      }
    }
  }
}
