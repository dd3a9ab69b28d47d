// The compiled artifact: a versioned manifest, one weights blob and the target code, as plain files in a
// folder (manifest.json, weights.bin, model.wasm, …) so other tools can read them. The runtime validates
// everything here before it executes anything, and never evaluates code from an artifact as JavaScript.
import type { Dispatch, Program, ProgramBuffer, ProgramIO, SizeSymbol } from '../ir/kernel/program.ts';
import type { Expr } from '../ir/kernel/ir.ts';
import { TesseraError } from '../ir/errors.ts';
import { ALL_DTYPES, isBigInt, isFloat, type DType } from '../ir/dtype.ts';
import { Tensor } from '../ir/tensor.ts';

export const ARTIFACT_FORMAT = 'tessera-artifact';
export const ARTIFACT_VERSION = 1;

export type ArtifactTarget = 'wasm' | 'webgpu' | 'cuda';

/** How a kernel is called: its buffer parameters then its size parameters, in this order. */
export interface KernelSignature {
  name: string;
  buffers: string[];
  sizes: string[];
  /** GPU targets: threads per block, the block count (an i32 expression over this kernel's size names) and dynamic shared memory. */
  launch?: KernelLaunch;
}

export interface KernelLaunch {
  block: number;
  grid: Expr;
  sharedBytes: number;
}

export interface Manifest {
  format: typeof ARTIFACT_FORMAT;
  version: number;
  target: ArtifactTarget;
  producer: string;
  /** Name of the model it was compiled from (for messages). */
  model: string;
  symbols: SizeSymbol[];
  inputs: ProgramIO[];
  outputs: ProgramIO[];
  buffers: Omit<ProgramBuffer, never>[];
  kernels: KernelSignature[];
  dispatches: Dispatch[];
  /** Code files by variant (e.g. 'simd128', 'relaxed-simd'), each a file name in the artifact. */
  code: Record<string, string>;
  weights: { file: string; byteLength: number };
  /** SHA-256 (hex) of every file the manifest names, checked before use. */
  sha256: Record<string, string>;
  /**
   * Inputs compiled as constants (`--value`): still inputs of the model, which a feed may give (it must
   * equal the value) or omit. Optional: artifacts without specialized inputs leave it out.
   */
  specialized?: SpecializedInput[];
}

/**
 * An input's value fixed at compile time. Elements are JSON numbers, except 64-bit integers (decimal
 * strings, exact) and non-finite floats ('NaN', 'Infinity', '-Infinity').
 */
export interface SpecializedInput {
  name: string;
  dtype: DType;
  shape: number[];
  data: (number | string)[];
}

/** The manifest entry recording that input `name` was compiled with value `t`. */
export function specializedEntry(name: string, t: Tensor): SpecializedInput {
  if (t.dtype === 'string') throw new TesseraError(`input '${name}' is a string tensor; strings cannot be compiled`);
  const data = Array.from(t.data as ArrayLike<number | bigint>, (x) => (typeof x === 'bigint' || !Number.isFinite(x) ? String(x) : x));
  return { name, dtype: t.dtype, shape: [...t.shape], data };
}

/** The tensor a manifest entry records (validated: see validateManifest). */
export function specializedTensor(s: SpecializedInput): Tensor {
  return Tensor.from(s.dtype, s.shape, s.data.map((x) => (isBigInt(s.dtype) ? BigInt(x) : Number(x))));
}

const isElement = (dtype: DType, x: unknown): boolean => {
  if (isBigInt(dtype)) return (typeof x === 'string' && /^-?[0-9]+$/.test(x)) || (typeof x === 'number' && Number.isSafeInteger(x));
  if (isFloat(dtype)) return (typeof x === 'number' && Number.isFinite(x)) || x === 'NaN' || x === 'Infinity' || x === '-Infinity';
  return typeof x === 'number' && Number.isInteger(x);
};

/** The files of an artifact by name (as read from a folder, or unpacked from a bundle). */
export type ArtifactFiles = Map<string, Uint8Array>;

export interface LoadedArtifact {
  manifest: Manifest;
  weights: Uint8Array;
  code: Record<string, Uint8Array>;
}

const isObj = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);

function bad(reason: string): never {
  throw new TesseraError(`invalid artifact: ${reason}`);
}

async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = await globalThis.crypto.subtle.digest('SHA-256', bytes);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}

/** Operators a size expression may use (index arithmetic, and comparisons for select conditions). */
const SIZE_OPS = new Set(['add', 'sub', 'mul', 'div', 'mod', 'floordiv', 'floormod', 'min', 'max', 'eq', 'ne', 'lt', 'le', 'gt', 'ge']);

/** Checks an index expression only uses known symbols and i32 constants (no loads, no unknown kinds). */
function checkExpr(e: unknown, symbols: Set<string>, where: string, depth = 0): void {
  if (depth > 64) bad(`${where}: expression nested too deeply`);
  if (!isObj(e)) bad(`${where}: expression is not an object`);
  switch (e.kind) {
    case 'const':
      if (typeof e.value !== 'number' || !Number.isInteger(e.value)) bad(`${where}: constant must be an integer`);
      return;
    case 'var':
      if (typeof e.name !== 'string' || !symbols.has(e.name)) bad(`${where}: unknown size symbol '${String(e.name)}'`);
      return;
    case 'binary':
      if (!SIZE_OPS.has(e.op as string)) {
        bad(`${where}: operator '${String(e.op)}' is not allowed in a size expression`);
      }
      checkExpr(e.a, symbols, where, depth + 1);
      checkExpr(e.b, symbols, where, depth + 1);
      return;
    case 'select':
      checkExpr(e.cond, symbols, where, depth + 1);
      checkExpr(e.a, symbols, where, depth + 1);
      checkExpr(e.b, symbols, where, depth + 1);
      return;
    default:
      bad(`${where}: expression kind '${String(e.kind)}' is not allowed in a size expression`);
  }
}

/** Validates the manifest's structure and cross-references; throws a TesseraError naming what is wrong. */
export function validateManifest(m: unknown): Manifest {
  if (!isObj(m)) bad('manifest.json is not a JSON object');
  if (m.format !== ARTIFACT_FORMAT) bad(`manifest format is '${String(m.format)}', expected '${ARTIFACT_FORMAT}'`);
  if (m.version !== ARTIFACT_VERSION) {
    bad(`manifest version ${String(m.version)} is not supported by this runtime (it reads version ${ARTIFACT_VERSION}); recompile the model`);
  }
  if (!['wasm', 'webgpu', 'cuda'].includes(m.target as string)) bad(`unknown target '${String(m.target)}'`);
  for (const k of ['symbols', 'inputs', 'outputs', 'buffers', 'kernels', 'dispatches'] as const) {
    if (!Array.isArray(m[k])) bad(`'${k}' must be a list`);
  }
  if (!isObj(m.code) || !isObj(m.weights) || !isObj(m.sha256)) bad(`'code', 'weights' and 'sha256' must be objects`);
  const man = m as unknown as Manifest;
  const symbols = new Set<string>();
  for (const s of man.symbols) {
    if (!isObj(s) || typeof s.name !== 'string' || !isObj(s.from)) bad('a size symbol is malformed');
    symbols.add(s.name);
  }
  const buffers = new Map<string, ProgramBuffer>();
  for (const b of man.buffers) {
    if (!isObj(b) || typeof b.name !== 'string') bad('a buffer is malformed');
    if (buffers.has(b.name)) bad(`buffer '${b.name}' is declared twice`);
    checkExpr(b.size, symbols, `buffer '${b.name}' size`);
    if (b.weight) {
      const w = b.weight;
      if (!Number.isInteger(w.offset) || !Number.isInteger(w.byteLength) || w.offset < 0 || w.byteLength < 0
        || w.offset + w.byteLength > man.weights.byteLength) {
        bad(`buffer '${b.name}' weight range [${w.offset}, +${w.byteLength}) is outside the weights blob (${man.weights.byteLength} bytes)`);
      }
    }
    buffers.set(b.name, b);
  }
  for (const b of buffers.values()) {
    if (b.aliasOf !== undefined && !buffers.has(b.aliasOf)) bad(`buffer '${b.name}' aliases unknown buffer '${b.aliasOf}'`);
  }
  for (const io of [...man.inputs, ...man.outputs]) {
    if (!isObj(io) || typeof io.name !== 'string' || !buffers.has(io.buffer)) bad(`input/output '${String(io?.name)}' names an unknown buffer`);
    if (!Array.isArray(io.shape)) bad(`input/output '${io.name}' has no shape`);
    io.shape.forEach((d: Expr, i: number) => checkExpr(d, symbols, `'${io.name}' dimension ${i}`));
  }
  for (const s of man.symbols) {
    if (!man.inputs.some((i) => i.name === s.from.input && s.from.axis >= 0 && s.from.axis < i.shape.length)) {
      bad(`size symbol '${s.name}' is bound to input '${s.from.input}' axis ${s.from.axis}, which does not exist`);
    }
  }
  const kernels = new Map<string, KernelSignature>();
  for (const k of man.kernels) {
    if (!isObj(k) || typeof k.name !== 'string' || !Array.isArray(k.buffers) || !Array.isArray(k.sizes)) bad('a kernel signature is malformed');
    if (k.launch !== undefined) {
      const l = k.launch as unknown;
      if (!isObj(l) || !Number.isInteger(l.block) || (l.block as number) < 1 || (l.block as number) > 1024
        || !Number.isInteger(l.sharedBytes) || (l.sharedBytes as number) < 0) {
        bad(`kernel '${k.name}' has a malformed launch (block 1..1024 and sharedBytes >= 0 must be integers)`);
      }
      checkExpr(l.grid, new Set(k.sizes), `kernel '${k.name}' grid`);
    }
    kernels.set(k.name, k);
  }
  man.dispatches.forEach((d, i) => {
    const k = kernels.get(d.kernel);
    if (!k) bad(`dispatch ${i} calls unknown kernel '${d.kernel}'`);
    for (const p of k.buffers) {
      const b = d.buffers?.[p];
      if (!b || !buffers.has(b)) bad(`dispatch ${i} (${d.kernel}) binds parameter '${p}' to unknown buffer '${String(b)}'`);
    }
    for (const s of k.sizes) {
      if (!d.sizes || !(s in d.sizes)) bad(`dispatch ${i} (${d.kernel}) gives no value for size '${s}'`);
      checkExpr(d.sizes[s], symbols, `dispatch ${i} size '${s}'`);
    }
  });
  for (const [variant, file] of Object.entries(man.code)) {
    if (typeof file !== 'string' || !(file in man.sha256)) bad(`code variant '${variant}' names '${String(file)}' without a checksum`);
  }
  if (!(man.weights.file in man.sha256)) bad(`weights file '${man.weights.file}' has no checksum`);
  if (m.specialized !== undefined) {
    if (!Array.isArray(m.specialized)) bad(`'specialized' must be a list`);
    const names = new Set(man.inputs.map((i) => i.name));
    for (const s of m.specialized as unknown[]) {
      if (!isObj(s) || typeof s.name !== 'string') bad('a specialized input is malformed');
      if (names.has(s.name)) bad(`input '${s.name}' is declared twice (as an input and as a specialized value)`);
      names.add(s.name);
      if (!ALL_DTYPES.includes(s.dtype as DType) || s.dtype === 'string') bad(`specialized input '${s.name}' has unknown dtype '${String(s.dtype)}'`);
      if (!Array.isArray(s.shape) || !s.shape.every((d) => Number.isInteger(d) && d >= 0)) bad(`specialized input '${s.name}' has a malformed shape`);
      const n = (s.shape as number[]).reduce((a, b) => a * b, 1);
      if (!Array.isArray(s.data) || s.data.length !== n) bad(`specialized input '${s.name}' of shape [${(s.shape as number[]).join(',')}] must list ${n} values`);
      const wrong = s.data.find((x) => !isElement(s.dtype as DType, x));
      if (wrong !== undefined) bad(`specialized input '${s.name}' holds ${JSON.stringify(wrong)}, not a ${String(s.dtype)} value`);
    }
  }
  return man;
}

/** Parses and validates an artifact's files (manifest, checksums, sizes) before anything executes. */
export async function loadArtifact(files: ArtifactFiles): Promise<LoadedArtifact> {
  const raw = files.get('manifest.json');
  if (!raw) bad('manifest.json is missing');
  let json: unknown;
  try { json = JSON.parse(new TextDecoder().decode(raw)); } catch (e) {
    bad(`manifest.json is not valid JSON (${(e as Error).message})`);
  }
  const manifest = validateManifest(json);
  for (const [name, want] of Object.entries(manifest.sha256)) {
    const bytes = files.get(name);
    if (!bytes) bad(`file '${name}' named by the manifest is missing`);
    const got = await sha256Hex(bytes);
    if (got !== want) bad(`file '${name}' is corrupted (SHA-256 ${got.slice(0, 12)}…, manifest says ${want.slice(0, 12)}…)`);
  }
  const weights = files.get(manifest.weights.file)!;
  if (weights.byteLength !== manifest.weights.byteLength) bad(`weights file has ${weights.byteLength} bytes, manifest says ${manifest.weights.byteLength}`);
  const code: Record<string, Uint8Array> = {};
  for (const [variant, file] of Object.entries(manifest.code)) code[variant] = files.get(file)!;
  return { manifest, weights, code };
}

/** Builds the manifest and file set of a compiled program (used by the compiler's artifact writer). */
export async function packArtifact(
  program: Program, target: ArtifactTarget, model: string, code: Record<string, { file: string; bytes: Uint8Array }>,
  producer: string, specialized: SpecializedInput[] = [],
  /** Kernel signatures when the target's differ from the default (GPU targets: global buffers only, plus launch records). */
  signatures?: KernelSignature[],
): Promise<ArtifactFiles> {
  const files: ArtifactFiles = new Map();
  const sha256: Record<string, string> = {};
  const add = async (name: string, bytes: Uint8Array) => { files.set(name, bytes); sha256[name] = await sha256Hex(bytes); };
  await add('weights.bin', program.weights);
  const codeFiles: Record<string, string> = {};
  for (const [variant, { file, bytes }] of Object.entries(code)) { await add(file, bytes); codeFiles[variant] = file; }
  const manifest: Manifest = {
    format: ARTIFACT_FORMAT, version: ARTIFACT_VERSION, target, producer, model,
    symbols: program.symbols, inputs: program.inputs, outputs: program.outputs, buffers: program.buffers,
    kernels: signatures ?? program.kernels.map((k) => ({ name: k.name, buffers: k.buffers.map((b) => b.name), sizes: k.sizes.map((s) => s.name) })),
    dispatches: program.dispatches, code: codeFiles, weights: { file: 'weights.bin', byteLength: program.weights.byteLength }, sha256,
    ...(specialized.length > 0 ? { specialized } : {}),
  };
  files.set('manifest.json', new TextEncoder().encode(JSON.stringify(manifest, null, 1)));
  return files;
}
