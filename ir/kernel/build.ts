// Typed constructors of the kernel IR and its type rules. Lowering code and tests write kernels with these
// (`add(load(a, i), c(f32, 1))`, `loop('i', 0, n, (i) => [...])`); every constructor checks its operands
// with the same rules the verifier applies (ir/kernel/verify.ts), so a badly typed tree fails where it is
// built, with a message that names the operation and the types.
import { byteSize, isBigInt, isFloat, roundBf16, roundDoubleToNarrow, roundF16 } from '../dtype.ts';
import { TesseraError } from '../errors.ts';
import {
  INDEX, type AtomicOp, type BinaryOp, type BufferAccess, type BufferParam, type Expr, type Kernel, type KernelPattern, type KScalar,
  type KType, type LoopKind, type MemoryOrder, type MemoryScope, type SizeParam, type Stmt, type UnaryOp,
} from './ir.ts';

// ---------------------------------------------------------------- element types

export const KSCALARS: readonly KScalar[] = ['bool', 'i8', 'u8', 'i16', 'u16', 'i32', 'u32', 'i64', 'u64', 'f16', 'bf16', 'f32', 'f64'];
export const LANES: readonly KType['lanes'][] = [1, 2, 4, 8, 16];

export const isIntElem = (e: KScalar): boolean => e !== 'bool' && !isFloat(e);
export const isFloatElem = (e: KScalar): boolean => isFloat(e);
export const isNumericElem = (e: KScalar): boolean => e !== 'bool';
export const isSignedElem = (e: KScalar): boolean => e === 'i8' || e === 'i16' || e === 'i32' || e === 'i64';

/** Bit width of an element (bool counts as 8: its storage; it has no bit pattern for bitcast). */
export const elemBits = (e: KScalar): number => 8 * byteSize(e);

/** The value range of an integer element as bigints. */
export function intRange(e: KScalar): [bigint, bigint] {
  const w = BigInt(elemBits(e));
  return isSignedElem(e) ? [-(1n << (w - 1n)), (1n << (w - 1n)) - 1n] : [0n, (1n << w) - 1n];
}

export const typesEqual = (a: KType, b: KType): boolean => a.elem === b.elem && a.lanes === b.lanes;
/** `f32`, `u8x16`: the spelling of a type in messages and in the textual kernel IR. */
export const typeName = (t: KType): string => (t.lanes === 1 ? t.elem : `${t.elem}x${t.lanes}`);

/** Reads `f32` or `u8x16` back; undefined for anything else. */
export function parseTypeName(s: string): KType | undefined {
  const m = /^([a-z0-9]+?)(?:x([0-9]+))?$/.exec(s);
  if (!m) return undefined;
  const elem = m[1] as KScalar;
  if (!KSCALARS.includes(elem)) return undefined;
  if (m[2] === undefined) return { elem, lanes: 1 };
  const lanes = Number(m[2]) as KType['lanes'];
  if (!LANES.includes(lanes) || lanes === 1) return undefined;
  return { elem, lanes };
}

export const bool = (lanes: KType['lanes'] = 1): KType => ({ elem: 'bool', lanes });
/** Scalar types by name, for brevity: `c(T.u32, 7)`. */
export const T = Object.fromEntries(KSCALARS.map((e) => [e, { elem: e, lanes: 1 }])) as Record<KScalar, KType>;

// ---------------------------------------------------------------- type rules (shared with the verifier)

const ARITH = new Set<BinaryOp>(['add', 'sub', 'mul', 'div', 'mod', 'min', 'max']);
const INT_ONLY = new Set<BinaryOp>(['floordiv', 'floormod', 'shl', 'shr']);
const COMPARE = new Set<BinaryOp>(['eq', 'ne', 'lt', 'le', 'gt', 'ge']);
const FLOAT_UNARY = new Set<UnaryOp>([
  'sqrt', 'rsqrt', 'exp', 'log', 'sin', 'cos', 'tan', 'tanh', 'asin', 'acos', 'atan', 'sinh', 'cosh', 'asinh', 'acosh',
  'atanh', 'erf', 'floor', 'ceil', 'round_even', 'trunc', 'recip',
]);
export const BINARY_OPS: readonly BinaryOp[] = [
  'add', 'sub', 'mul', 'div', 'mod', 'floordiv', 'floormod', 'min', 'max', 'pow', 'atan2', 'and', 'or', 'xor', 'shl', 'shr',
  'eq', 'ne', 'lt', 'le', 'gt', 'ge', 'mulhi', 'dot4_u8', 'dot4_i8',
];
export const UNARY_OPS: readonly UnaryOp[] = [
  'neg', 'abs', 'not', ...FLOAT_UNARY, 'sign', 'isnan', 'isinf',
];
export const isComparison = (op: BinaryOp): boolean => COMPARE.has(op);

/** The result type of a binary op, or why the operands do not fit it. */
export function binaryType(op: BinaryOp, a: KType, b: KType): KType | string {
  if (!typesEqual(a, b)) return `${op} needs operands of one type, got ${typeName(a)} and ${typeName(b)}`;
  const e = a.elem;
  const need = (ok: boolean, what: string): KType | string => (ok ? a : `${op} needs ${what} operands, got ${typeName(a)}`);
  if (ARITH.has(op)) return need(isNumericElem(e), 'numeric');
  if (INT_ONLY.has(op)) return need(isIntElem(e), 'integer');
  if (op === 'pow' || op === 'atan2') return need(isFloatElem(e), 'float');
  if (op === 'and' || op === 'or' || op === 'xor') return need(!isFloatElem(e), 'integer or bool');
  if (COMPARE.has(op)) {
    const ok = op === 'eq' || op === 'ne' || isNumericElem(e);
    return ok ? bool(a.lanes) : `${op} needs numeric operands, got ${typeName(a)}`;
  }
  if (op === 'mulhi') return need(e === 'i32' || e === 'u32', 'i32 or u32');
  // dot4_*: two u32 words, each holding 4 packed bytes.
  if (e !== 'u32') return `${op} needs u32 operands (4 packed bytes), got ${typeName(a)}`;
  return { elem: op === 'dot4_u8' ? 'u32' : 'i32', lanes: a.lanes };
}

export function unaryType(op: UnaryOp, a: KType): KType | string {
  const e = a.elem;
  if (op === 'not') return isFloatElem(e) ? `not needs a bool or integer operand, got ${typeName(a)}` : a;
  if (op === 'isnan' || op === 'isinf') return isFloatElem(e) ? bool(a.lanes) : `${op} needs a float operand, got ${typeName(a)}`;
  if (FLOAT_UNARY.has(op)) return isFloatElem(e) ? a : `${op} needs a float operand, got ${typeName(a)}`;
  return isNumericElem(e) ? a : `${op} needs a numeric operand, got ${typeName(a)}`; // neg, abs, sign
}

export function castCheck(to: KType, a: KType): string | undefined {
  if (to.lanes !== a.lanes) return `cast keeps the lane count: cannot cast ${typeName(a)} to ${typeName(to)}`;
  return undefined;
}

export function bitcastCheck(to: KType, a: KType): string | undefined {
  if (to.elem === 'bool' || a.elem === 'bool') return `bitcast needs non-bool types, got ${typeName(a)} to ${typeName(to)}`;
  if (elemBits(to.elem) * to.lanes !== elemBits(a.elem) * a.lanes) {
    return `bitcast keeps the bit count: ${typeName(a)} has ${elemBits(a.elem) * a.lanes} bits, ${typeName(to)} ${elemBits(to.elem) * to.lanes}`;
  }
  return undefined;
}

export function selectType(cond: KType, a: KType, b: KType): KType | string {
  if (!typesEqual(a, b)) return `select needs branches of one type, got ${typeName(a)} and ${typeName(b)}`;
  if (cond.elem !== 'bool' || (cond.lanes !== 1 && cond.lanes !== a.lanes)) {
    return `select needs a bool condition with 1 or ${a.lanes} lanes, got ${typeName(cond)}`;
  }
  return a;
}

/** Why a constant value does not belong to its type, or undefined when it does. */
export function constCheck(t: KType, value: number | bigint): string | undefined {
  const e = t.elem;
  if (isBigInt(e)) {
    if (typeof value !== 'bigint') return `a ${e} constant holds a bigint, got ${String(value)}`;
    const [lo, hi] = intRange(e);
    return value < lo || value > hi ? `${value} is out of range for ${e}` : undefined;
  }
  if (typeof value !== 'number') return `a ${e} constant holds a number, got ${value}n`;
  if (e === 'bool') return value === 0 || value === 1 ? undefined : `a bool constant is 0 or 1, got ${value}`;
  if (isFloatElem(e)) {
    return Number.isNaN(value) || Object.is(roundToElem(e, value), value) ? undefined : `${value} is not exactly representable in ${e}`;
  }
  const [lo, hi] = intRange(e);
  if (!Number.isInteger(value) || Object.is(value, -0) || value < Number(lo) || value > Number(hi)) return `${value} is not a ${e} value`;
  return undefined;
}

// ---------------------------------------------------------------- float rounding


/** Rounds a double to the nearest value of a float element type (ties to even). */
export function roundToElem(e: KScalar, v: number): number {
  switch (e) {
    case 'f32': return Math.fround(v);
    case 'f16': return roundDoubleToNarrow(v, roundF16);
    case 'bf16': return roundDoubleToNarrow(v, roundBf16);
    default: return v;
  }
}

// ---------------------------------------------------------------- expressions

const fail = (reason: string): never => { throw new TesseraError(reason); };
const ok = <X>(r: X | string): X => (typeof r === 'string' ? fail(r) : r);

/** An operand: an expression, or a JS number/bigint that takes the type of the other operand. */
export type Operand = Expr | number | bigint;

const asType = (t: KType | KScalar): KType => (typeof t === 'string' ? { elem: t, lanes: 1 } : t);

/** A constant; float values are rounded to the type, integers must be in range (i64/u64 take bigints). */
export function c(type: KType | KScalar, value: number | bigint | boolean): Expr {
  const t = asType(type);
  let v: number | bigint = typeof value === 'boolean' ? (value ? 1 : 0) : value;
  if (isBigInt(t.elem) && typeof v === 'number' && Number.isInteger(v)) v = BigInt(v);
  if (!isBigInt(t.elem) && typeof v === 'bigint') v = Number(v);
  if (isFloatElem(t.elem) && typeof v === 'number') v = roundToElem(t.elem, v);
  if (typeof v === 'number' && Object.is(v, -0) && !isFloatElem(t.elem)) v = 0;
  const why = constCheck(t, v);
  if (why) fail(why);
  return { kind: 'const', type: t, value: v };
}

export const v = (name: string, type: KType | KScalar = INDEX): Expr => ({ kind: 'var', type: asType(type), name });
export const sizeVar = (s: SizeParam | string): Expr => v(typeof s === 'string' ? s : s.name, INDEX);

/** Turns JS numbers into constants of the other operand's type (i32 / f32 when both are numbers). */
function operands(a: Operand, b: Operand): [Expr, Expr] {
  const lit = (x: number | bigint, t: KType | undefined): Expr => {
    if (t) return c(t, x);
    if (typeof x === 'bigint') return c('i64', x);
    return c(Number.isInteger(x) && !Object.is(x, -0) ? 'i32' : 'f32', x);
  };
  const ea = typeof a === 'object' ? a : undefined;
  const eb = typeof b === 'object' ? b : undefined;
  if (!ea && !eb) {
    const isInt = (x: Operand) => typeof x === 'bigint' || (Number.isInteger(x) && !Object.is(x, -0));
    const t: KType = typeof a === 'bigint' || typeof b === 'bigint' ? T.i64 : isInt(a) && isInt(b) ? T.i32 : T.f32;
    return [c(t, a as number | bigint), c(t, b as number | bigint)];
  }
  const xa = ea ?? lit(a as number | bigint, eb?.type);
  const xb = eb ?? lit(b as number | bigint, xa.type);
  return [xa, xb];
}

const expr = (x: Operand, t?: KType): Expr => (typeof x === 'object' ? x : operands(x, t ? c(t, 0) : x)[0]);

export function binary(op: BinaryOp, a: Operand, b: Operand): Expr {
  const [x, y] = operands(a, b);
  return { kind: 'binary', type: ok(binaryType(op, x.type, y.type)), op, a: x, b: y };
}

const bin = (op: BinaryOp) => (a: Operand, b: Operand): Expr => binary(op, a, b);
export const add = bin('add'), sub = bin('sub'), mul = bin('mul'), div = bin('div'), mod = bin('mod');
export const floordiv = bin('floordiv'), floormod = bin('floormod'), min = bin('min'), max = bin('max');
export const pow = bin('pow'), atan2 = bin('atan2'), and = bin('and'), or = bin('or'), xor = bin('xor');
export const shl = bin('shl'), shr = bin('shr'), eq = bin('eq'), ne = bin('ne'), lt = bin('lt'), le = bin('le');
export const gt = bin('gt'), ge = bin('ge'), mulhi = bin('mulhi'), dot4_u8 = bin('dot4_u8'), dot4_i8 = bin('dot4_i8');

export function unary(op: UnaryOp, a: Expr): Expr {
  return { kind: 'unary', type: ok(unaryType(op, a.type)), op, a };
}
export const neg = (a: Expr): Expr => unary('neg', a);
export const not = (a: Expr): Expr => unary('not', a);
export const abs = (a: Expr): Expr => unary('abs', a);

export function cast(to: KType | KScalar, a: Expr): Expr {
  const t = asType(to);
  const why = castCheck(t, a.type);
  if (why) fail(why);
  return { kind: 'cast', type: t, a };
}

export function bitcast(to: KType | KScalar, a: Expr): Expr {
  const t = asType(to);
  const why = bitcastCheck(t, a.type);
  if (why) fail(why);
  return { kind: 'bitcast', type: t, a };
}

export function select(cond: Expr, a: Operand, b: Operand): Expr {
  const [x, y] = operands(a, b);
  return { kind: 'select', type: ok(selectType(cond.type, x.type, y.type)), cond, a: x, b: y };
}

/** A buffer reference: the declaration, or just its name and element type. */
export type BufferRef = Pick<BufferParam, 'name' | 'elem'>;

/** Loads `lanes` consecutive elements starting at element `index`. */
export function load(buf: BufferRef, index: Operand, lanes: KType['lanes'] = 1): Expr {
  const idx = indexExpr(index, 'a load index');
  return { kind: 'load', type: { elem: buf.elem, lanes }, buffer: buf.name, index: idx };
}

export function broadcast(a: Expr, lanes: KType['lanes']): Expr {
  if (a.type.lanes !== 1) fail(`broadcast needs a scalar, got ${typeName(a.type)}`);
  if (lanes === 1) fail(`broadcast needs more than one lane`);
  return { kind: 'broadcast', type: { elem: a.type.elem, lanes }, a };
}

export function extract(a: Expr, lane: number): Expr {
  if (!Number.isInteger(lane) || lane < 0 || lane >= a.type.lanes || a.type.lanes === 1) {
    fail(`extract needs a lane of a vector: lane ${lane} of ${typeName(a.type)}`);
  }
  return { kind: 'extract', type: { elem: a.type.elem, lanes: 1 }, a, lane };
}

export function reduceLanes(op: 'add' | 'min' | 'max', a: Expr): Expr {
  if (a.type.lanes === 1 || !isNumericElem(a.type.elem)) fail(`reduce_${op} needs a numeric vector, got ${typeName(a.type)}`);
  return { kind: 'reduce_lanes', type: { elem: a.type.elem, lanes: 1 }, op, a };
}

function indexExpr(x: Operand, what: string): Expr {
  const e = expr(x, INDEX);
  if (!typesEqual(e.type, INDEX)) fail(`${what} must be i32, got ${typeName(e.type)}`);
  return e;
}

// ---------------------------------------------------------------- statements

export const let_ = (name: string, value: Expr): Stmt => ({ kind: 'let', name, value });

export function local(name: string, type: KType | KScalar, init: Operand): Stmt {
  const t = asType(type);
  const e = expr(init, t);
  if (!typesEqual(e.type, t)) fail(`local '${name}' is ${typeName(t)} but its initial value is ${typeName(e.type)}`);
  return { kind: 'local', name, type: t, init: e };
}

export const assign = (name: string, value: Expr): Stmt => ({ kind: 'assign', name, value });

export function store(buf: BufferRef, index: Operand, value: Operand): Stmt {
  const e = expr(value, { elem: buf.elem, lanes: 1 });
  if (e.type.elem !== buf.elem) fail(`store to '${buf.name}' (${buf.elem}) needs a ${buf.elem} value, got ${typeName(e.type)}`);
  return { kind: 'store', buffer: buf.name, index: indexExpr(index, 'a store index'), value: e };
}

export type Body = Stmt[] | ((v: Expr) => Stmt[]);

export interface LoopOptions { kind?: LoopKind; step?: number }

/** `for name in start..end step s { body }`; the body may be a function of the loop variable. */
export function loop(name: string, start: Operand, end: Operand, body: Body, opts: LoopOptions = {}): Stmt {
  const step = opts.step ?? 1;
  if (!Number.isInteger(step) || step < 1 || step > 2 ** 31 - 1) fail(`loop '${name}' needs a positive integer step, got ${step}`);
  const stmts = typeof body === 'function' ? body(v(name)) : body;
  return {
    kind: 'loop', var: name, start: indexExpr(start, 'a loop start'), end: indexExpr(end, 'a loop end'), step,
    loopKind: opts.kind ?? 'serial', body: stmts,
  };
}

export const parallel = (name: string, start: Operand, end: Operand, body: Body, step = 1): Stmt =>
  loop(name, start, end, body, { kind: 'parallel', step });

export function if_(cond: Expr, then: Stmt[], else_: Stmt[] = []): Stmt {
  if (!typesEqual(cond.type, bool())) fail(`an if condition must be bool, got ${typeName(cond.type)}`);
  return { kind: 'if', cond, then, else: else_ };
}

export interface AtomicOptions { result?: string; order?: MemoryOrder; scope?: MemoryScope }

export function atomic(op: AtomicOp, buf: BufferRef, index: Operand, value: Operand, opts: AtomicOptions = {}): Stmt {
  const e = expr(value, { elem: buf.elem, lanes: 1 });
  const s: Stmt = {
    kind: 'atomic', op, buffer: buf.name, index: indexExpr(index, 'an atomic index'), value: e,
    order: opts.order ?? 'relaxed', scope: opts.scope ?? 'device',
  };
  if (opts.result !== undefined) s.result = opts.result;
  return s;
}

export const barrier = (scope: MemoryScope = 'workgroup'): Stmt => ({ kind: 'barrier', scope });
export const comment = (text: string): Stmt => ({ kind: 'comment', text });

// ---------------------------------------------------------------- kernels

export function buffer(
  name: string, elem: KScalar, size: Operand, access: BufferAccess, space: BufferParam['space'] = 'global',
): BufferParam {
  return { name, elem, access, size: indexExpr(size, `the size of buffer '${name}'`), space };
}

export interface KernelParts { buffers?: BufferParam[]; sizes?: (SizeParam | string)[]; body: Stmt[]; pattern?: KernelPattern }

export function kernel(name: string, parts: KernelParts): Kernel {
  return {
    name,
    buffers: parts.buffers ?? [],
    sizes: (parts.sizes ?? []).map((s) => (typeof s === 'string' ? { name: s } : s)),
    body: parts.body,
    ...(parts.pattern ? { pattern: parts.pattern } : {}),
  };
}
