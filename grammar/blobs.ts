// .tir files on disk: `model.tir` is the text; the tensors it prints by reference (`@blob("name")`) live in
// `model.tir.bin` beside it, read automatically when present. The blob file is:
//   "TIRBLOB1" | u32 LE header length | header (UTF-8 JSON: {"blobs":[{name,dtype,shape,offset,bytes}]}) |
//   padding to 8 | data: each tensor's storage bytes, little-endian, 8-aligned (offsets are from the data
//   start). Storage is the interpreter's (ir/dtype.ts): f16/bf16 as f32 values, bool as one byte, string
//   tensors as a UTF-8 JSON array of strings.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { allocData, ALL_DTYPES, type DType } from '../ir/dtype.ts';
import { TesseraError } from '../ir/errors.ts';
import type { Model } from '../ir/graph.ts';
import { checkShape, Tensor } from '../ir/tensor.ts';
import { parseModel } from './parser.ts';
import { printModel, type PrintOptions } from './printer.ts';

const MAGIC = 'TIRBLOB1';
const align8 = (n: number) => (n + 7) & ~7;

interface BlobEntry { name: string; dtype: DType; shape: number[]; offset: number; bytes: number }

export function encodeBlobs(blobs: ReadonlyMap<string, Tensor>): Uint8Array {
  const entries: BlobEntry[] = [];
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (const [name, t] of blobs) {
    const bytes = t.dtype === 'string'
      ? new TextEncoder().encode(JSON.stringify(t.data))
      : new Uint8Array((t.data as Uint8Array).buffer, (t.data as Uint8Array).byteOffset, (t.data as Uint8Array).byteLength);
    entries.push({ name, dtype: t.dtype, shape: [...t.shape], offset, bytes: bytes.length });
    chunks.push(bytes);
    offset = align8(offset + bytes.length);
  }
  const header = new TextEncoder().encode(JSON.stringify({ blobs: entries }));
  const dataStart = align8(12 + header.length);
  const out = new Uint8Array(dataStart + offset);
  out.set(new TextEncoder().encode(MAGIC), 0);
  new DataView(out.buffer).setUint32(8, header.length, true);
  out.set(header, 12);
  entries.forEach((e, i) => out.set(chunks[i]!, dataStart + e.offset));
  return out;
}

export function decodeBlobs(bytes: Uint8Array, file?: string): Map<string, Tensor> {
  const fail = (why: string): never => { throw new TesseraError(`not a valid blob file: ${why}`, { file }); };
  if (bytes.length < 12 || new TextDecoder().decode(bytes.subarray(0, 8)) !== MAGIC) fail(`it does not start with ${MAGIC}`);
  const hlen = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(8, true);
  if (12 + hlen > bytes.length) fail('the header is truncated');
  let header: { blobs?: unknown };
  try { header = JSON.parse(new TextDecoder().decode(bytes.subarray(12, 12 + hlen))) as { blobs?: unknown }; } catch { return fail('the header is not JSON'); }
  if (!Array.isArray(header.blobs)) fail('the header has no blob list');
  const dataStart = align8(12 + hlen);
  const out = new Map<string, Tensor>();
  for (const e of header.blobs as BlobEntry[]) {
    const what = `blob ${JSON.stringify(e?.name)}`;
    if (typeof e?.name !== 'string' || !ALL_DTYPES.includes(e.dtype) || !Array.isArray(e.shape)) fail(`${what} has a malformed entry`);
    if (!Number.isSafeInteger(e.offset) || !Number.isSafeInteger(e.bytes) || e.offset < 0 || e.bytes < 0 || dataStart + e.offset + e.bytes > bytes.length) {
      fail(`${what} lies outside the file`);
    }
    let n: number;
    try { n = checkShape(e.shape, what); } catch (err) { return fail((err as Error).message); }
    const raw = bytes.subarray(dataStart + e.offset, dataStart + e.offset + e.bytes);
    let data;
    if (e.dtype === 'string') {
      let strings: unknown;
      try { strings = JSON.parse(new TextDecoder().decode(raw)); } catch { return fail(`${what} holds no JSON string list`); }
      if (!Array.isArray(strings) || strings.length !== n || strings.some((s) => typeof s !== 'string')) fail(`${what} does not hold ${n} strings`);
      data = strings as string[];
    } else {
      data = allocData(e.dtype, n) as Uint8Array;
      if (data.byteLength !== e.bytes) fail(`${what} has ${e.bytes} bytes, ${e.dtype}[${e.shape.join(',')}] needs ${data.byteLength}`);
      new Uint8Array(data.buffer).set(raw);
    }
    if (out.has(e.name)) fail(`${what} appears twice`);
    out.set(e.name, new Tensor(e.dtype, e.shape, data));
  }
  return out;
}

/** The blob file that belongs to a .tir file. */
export const blobFileOf = (tirPath: string) => `${tirPath}.bin`;

/** Reads a .tir file (and its .tir.bin when present) into a Model; errors name the file and line:column. */
export function readTirFile(path: string): Model {
  let text: string;
  try { text = readFileSync(path, 'utf8'); } catch (e) {
    throw new TesseraError(`cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { file: path });
  }
  const bin = blobFileOf(path);
  const blobs = existsSync(bin) ? decodeBlobs(readFileSync(bin), bin) : new Map<string, Tensor>();
  return parseModel(text, blobs, { file: path });
}

/** Writes a model as `path` (text) plus `path.bin` (the tensors printed by reference, when there are any). */
export function writeTirFile(path: string, model: Model, opts: PrintOptions = {}): { blobs: number } {
  const { text, blobs } = printModel(model, opts);
  writeFileSync(path, text);
  if (blobs.size > 0) writeFileSync(blobFileOf(path), encodeBlobs(blobs));
  return { blobs: blobs.size };
}
