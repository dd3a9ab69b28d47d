// The kernel IR: target-neutral loop programs over buffers, shared by the WASM, WGSL and PTX backends.
//
// Shape of the IR (why):
// - A Kernel reads and writes flat typed Buffers (byte offsets into one arena are the runtime's business)
//   and scalar Params (runtime sizes of symbolic dimensions, so one artifact serves any batch/sequence).
// - Statements are structured (loops, ifs, stores, atomics, barriers): every target can express them, and
//   structured control keeps deadlock-freedom arguments (persistent kernels) local.
// - Expressions are pure trees with explicit element types and vector widths; index arithmetic is ordinary
//   i32 expressions, so one simplifier serves every backend and the algebra can be fuzzed.
// - Loop kinds say what a backend may do: 'parallel' iterations are independent (GPU threads/workgroups,
//   WASM workers), 'vector' iterations map to SIMD lanes, 'serial' keeps order (reductions, recurrences).
// - Integer arithmetic is first class: u32 modular ops with 64-bit products (`mulhi`, `mul_wide`), packed
//   integer dot products (`dot4_u8`, `dot4_i8`, `dot_i16x8`) for the HE lowering on matrix engines.
//
// Semantics (defined executably by ir/kernel/interpret.ts; every backend must agree with it):
// - Integers wrap (two's complement) at their width; i64/u64 values are bigints. Integer div/mod/floordiv/
//   floormod by zero is an error of the kernel (the interpreter throws; a simplification may remove such an
//   error, never introduce one); MIN / −1 wraps to MIN (mod gives 0). Shift amounts are taken modulo the
//   bit width. Float ops compute exactly and round once to the type (f16/bf16 included); min/max propagate
//   NaN and order −0 < +0. Comparisons are false on NaN except `ne`.
// - cast: int→int wraps; float→int truncates toward zero and saturates (NaN → 0); →bool is `≠ 0`;
//   bool→number is 0/1; to a float rounds to nearest even. bitcast: same total bits, little-endian lanes.
// - Constants: bool 0/1, floats already rounded to the type, i64/u64 as bigint, others as numbers in range;
//   a constant with lanes > 1 is that value in every lane. select's cond has 1 lane or the result's lanes.
// - loop: start/end are evaluated once; the body runs for v = start, start+step, … while v < end (step ≥ 1);
//   no trips when end ≤ start. Loop variables are i32. Size params are non-negative i32, and a buffer's
//   size expression must evaluate without wrap-around to at most 2^31 − 1 (the runtime checks it; the
//   simplifier derives bounds of the sizes from it).
// - Names (loop vars, lets, locals, atomic results, size params) never shadow a visible name; sibling
//   blocks may reuse one. `let` and an atomic's `result` bind immutable values; only locals are assigned.
//   A local is private to one iteration of the innermost enclosing 'parallel'/'vector' loop: such a loop
//   body may not assign a local declared outside it (share through buffers and atomics instead).
// - barrier: synchronizes the iterations of its innermost enclosing 'parallel' loop (all of them must reach
//   it the same number of times), so it may only sit in control flow that is uniform across those
//   iterations (see ir/kernel/verify.ts); outside every parallel loop it only orders memory.
// - atomic: read-modify-write of one element of a 'readwrite' buffer; `result` names the old value.
//   An atomic `add` of 0 with acquire order is the atomic load of a spin-wait.
import type { DType } from '../dtype.ts';

/** Element types inside kernels: every numeric graph dtype (no strings). */
export type KScalar = Exclude<DType, 'string'>;

/** A scalar or a short vector (SIMD lanes). lanes = 1 is a scalar. */
export interface KType {
  elem: KScalar;
  lanes: 1 | 2 | 4 | 8 | 16;
}

export const scalar = (elem: KScalar): KType => ({ elem, lanes: 1 });
export const vec = (elem: KScalar, lanes: KType['lanes']): KType => ({ elem, lanes });
/** Index arithmetic is i32 on every target (tensors are limited to 2^31−1 elements). */
export const INDEX: KType = { elem: 'i32', lanes: 1 };

export type BinaryOp =
  | 'add' | 'sub' | 'mul' | 'div' | 'mod' // div/mod: integer division truncates; mod has the sign of the dividend
  | 'floordiv' | 'floormod'                // Python-style: rounds toward −∞ (index math over negatives)
  | 'min' | 'max' | 'pow' | 'atan2'
  | 'and' | 'or' | 'xor' | 'shl' | 'shr'   // shr is arithmetic for signed, logical for unsigned types
  | 'eq' | 'ne' | 'lt' | 'le' | 'gt' | 'ge' // result type: bool with the operands' lane count
  | 'mulhi'                                  // high half of the double-width product (u32/i32)
  | 'dot4_u8' | 'dot4_i8';                   // packed 4×8-bit dot product of two u32 → u32/i32 (HE, quantized)

export type UnaryOp =
  | 'neg' | 'abs' | 'not' | 'sqrt' | 'rsqrt' | 'exp' | 'log' | 'sin' | 'cos' | 'tan' | 'tanh'
  | 'asin' | 'acos' | 'atan' | 'sinh' | 'cosh' | 'asinh' | 'acosh' | 'atanh' | 'erf'
  | 'floor' | 'ceil' | 'round_even' | 'trunc' | 'sign' | 'isnan' | 'isinf' | 'recip';

export type Expr =
  | { kind: 'const'; type: KType; value: number | bigint }
  | { kind: 'var'; type: KType; name: string }            // loop index, let binding, local or param
  | { kind: 'binary'; type: KType; op: BinaryOp; a: Expr; b: Expr }
  | { kind: 'unary'; type: KType; op: UnaryOp; a: Expr }
  | { kind: 'cast'; type: KType; a: Expr }                   // numeric conversion (saturation is explicit elsewhere)
  | { kind: 'bitcast'; type: KType; a: Expr }                // same bit width reinterpretation
  | { kind: 'select'; type: KType; cond: Expr; a: Expr; b: Expr }
  | { kind: 'load'; type: KType; buffer: string; index: Expr }  // index in elements; lanes>1 loads consecutive elements
  | { kind: 'broadcast'; type: KType; a: Expr }              // scalar → all lanes
  | { kind: 'extract'; type: KType; a: Expr; lane: number }  // one lane of a vector
  | { kind: 'reduce_lanes'; type: KType; op: 'add' | 'min' | 'max'; a: Expr }; // horizontal reduction

export type AtomicOp = 'add' | 'sub' | 'min' | 'max' | 'and' | 'or' | 'xor' | 'exchange';
/** Memory ordering of atomics, after the PTX/C++ model; backends map or strengthen it. */
export type MemoryOrder = 'relaxed' | 'acquire' | 'release' | 'acq_rel';
export type MemoryScope = 'workgroup' | 'device';

export type LoopKind = 'serial' | 'parallel' | 'vector' | 'unroll';

export type Stmt =
  | { kind: 'let'; name: string; value: Expr }                       // immutable binding
  | { kind: 'local'; name: string; type: KType; init: Expr }         // mutable scalar/vector local (accumulators)
  | { kind: 'assign'; name: string; value: Expr }                    // to a local
  | { kind: 'store'; buffer: string; index: Expr; value: Expr }      // lanes of value = elements stored
  | { kind: 'loop'; var: string; start: Expr; end: Expr; step: number; loopKind: LoopKind; body: Stmt[] }
  | { kind: 'if'; cond: Expr; then: Stmt[]; else: Stmt[] }
  | { kind: 'atomic'; op: AtomicOp; buffer: string; index: Expr; value: Expr; result?: string; order: MemoryOrder; scope: MemoryScope }
  | { kind: 'barrier'; scope: MemoryScope }                          // execution + memory barrier at scope
  | { kind: 'comment'; text: string };

export type BufferAccess = 'read' | 'write' | 'readwrite';

export interface BufferParam {
  name: string;
  elem: KScalar;
  access: BufferAccess;
  /** Element count as an expression over size params (for validation and bounds checks). */
  size: Expr;
  /** Memory space: global (device) buffers, or workgroup-shared scratch sized at compile time. */
  space: 'global' | 'workgroup';
}

export interface SizeParam {
  /** A runtime size (e.g. a symbolic dimension of the graph) passed to the kernel as an i32 uniform. */
  name: string;
}

/**
 * A computation the lowering recognized, stated so that a backend may replace the kernel's body with a tuned
 * template (register-tiled WASM micro-kernel, tensor-core PTX, tiled WGSL). The body stays the definition:
 * interpreters and backends without a template run it, and a template must compute exactly what it computes
 * (same accumulation type; the order of the k-sum may differ within float rounding).
 */
export interface MatmulPattern {
  kind: 'matmul';
  /**
   * Y[b, m, n] = Σ_k A[b, m, k] · B[b, k, n] over the kernel's buffers `a`, `b`, `y` (names of its
   * BufferParams). Y is contiguous [batch, M, N]. A's element (b, m, k) is at b·aBatchStride + m·K + k
   * (transA: b·aBatchStride + k·M + m); B's (b, k, n) at b·bBatchStride + k·N + n (transB: b·bBatchStride +
   * n·K + k). A batch stride of 0 broadcasts that operand over the batch. No epilogue (no bias, alpha or beta).
   */
  a: string; b: string; y: string;
  /** Expressions over the kernel's size params (i32). */
  batch: Expr; m: Expr; n: Expr; k: Expr;
  aBatchStride: Expr; bBatchStride: Expr;
  transA: boolean; transB: boolean;
  /** Element type of A, B and Y, and the type the body accumulates in. */
  elem: KScalar; acc: KScalar;
  /**
   * Optional: a 'readwrite' buffer of the kernel, of element type `elem` and at least K·(M + 16) elements,
   * that the body never touches and a template may overwrite (packed copies of A and of one panel of B for
   * a register-tiled CPU kernel). Templates that need no scratch ignore it.
   */
  scratch?: string;
}

export type KernelPattern = MatmulPattern;

export interface Kernel {
  name: string;
  buffers: BufferParam[];
  sizes: SizeParam[];
  body: Stmt[];
  /** Optional: what the body computes, for backends with a tuned template (see MatmulPattern). */
  pattern?: KernelPattern;
}
