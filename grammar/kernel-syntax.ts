// What the kernel-IR printer and parser must agree on: the tokens and keywords of the kernel level,
// operator spellings and precedence, and how an unannotated literal gets its type.
import { createToken, Lexer, type TokenType } from 'chevrotain';
import type { BinaryOp, KScalar, KType } from '../ir/kernel/ir.ts';
import { HexLit, keyword, tokensWith } from './lexer.ts';

const punct = (name: string, text: string) => createToken({ name: `K${name}`, pattern: text, label: `'${text}'` });
export const DotDot = punct('DotDot', '..');
export const SlashSlash = punct('SlashSlash', '//');
export const PercentPercent = punct('PercentPercent', '%%');
export const Shl = punct('Shl', '<<');
export const Shr = punct('Shr', '>>');
export const EqEq = punct('EqEq', '==');
export const NotEq = punct('NotEq', '!=');
export const LtEq = punct('LtEq', '<=');
export const GtEq = punct('GtEq', '>=');
export const Semi = punct('Semi', ';');
export const Plus = punct('Plus', '+');
export const Minus = punct('Minus', '-');
export const Slash = punct('Slash', '/');
export const Percent = punct('Percent', '%');
export const Amp = punct('Amp', '&');
export const Pipe = punct('Pipe', '|');
export const Caret = punct('Caret', '^');
export const Bang = punct('Bang', '!');
// Unsigned numbers: a sign is the `-` operator (folded into a literal it directly precedes), so `n-1`
// is a subtraction; a float needs digits after its '.' unless no second '.' follows (`0..n` is a range).
export const KFloat = createToken({ name: 'KFloat', pattern: /[0-9]+\.(?!\.)[0-9]*(?:[eE][-+]?[0-9]+)?|[0-9]+[eE][-+]?[0-9]+/, label: 'a float' });
export const KInt = createToken({ name: 'KInt', pattern: /[0-9]+/, label: 'an integer' });

export const KwKernel = keyword('kernel');
export const KwBuf = keyword('buf');
export const KwSize = keyword('size');
export const KwLet = keyword('let');
export const KwLocal = keyword('local');
export const KwStore = keyword('store');
export const KwLoad = keyword('load');
export const KwFor = keyword('for');
export const KwParallel = keyword('parallel');
export const KwVector = keyword('vector');
export const KwUnroll = keyword('unroll');
export const KwIn = keyword('in');
export const KwStep = keyword('step');
export const KwIf = keyword('if');
export const KwElse = keyword('else');
export const KwAtomic = keyword('atomic');
export const KwBarrier = keyword('barrier');
export const KwCast = keyword('cast');
export const KwBitcast = keyword('bitcast');
export const KwBroadcast = keyword('broadcast');

const KERNEL_KEYWORDS = [
  KwKernel, KwBuf, KwSize, KwLet, KwLocal, KwStore, KwLoad, KwFor, KwParallel, KwVector, KwUnroll, KwIn, KwStep, KwIf,
  KwElse, KwAtomic, KwBarrier, KwCast, KwBitcast, KwBroadcast,
];
// Multi-character operators before their prefixes, and before the shared vocabulary (whose '=' '<' '.'
// would otherwise win); hex before the unsigned integer.
const HEAD: TokenType[] = [
  DotDot, SlashSlash, PercentPercent, Shl, Shr, EqEq, NotEq, LtEq, GtEq, Semi, Plus, Minus, Slash, Percent, Amp, Pipe,
  Caret, Bang, HexLit, KFloat, KInt,
];
export const KERNEL_TOKENS: TokenType[] = [...HEAD, ...tokensWith(KERNEL_KEYWORDS).filter((t) => !HEAD.includes(t))];

let lexer: Lexer | undefined;
export const kernelLexer = (): Lexer => (lexer ??= new Lexer(KERNEL_TOKENS, { positionTracking: 'full', ensureOptimizations: false }));

/** Infix spellings; the other binary ops are written as calls (`min(a, b)`). */
export const INFIX: Partial<Record<BinaryOp, string>> = {
  add: '+', sub: '-', mul: '*', div: '/', floordiv: '//', mod: '%', floormod: '%%', and: '&', or: '|', xor: '^',
  shl: '<<', shr: '>>', eq: '==', ne: '!=', lt: '<', le: '<=', gt: '>', ge: '>=',
};

/** Binding strength, loosest first: comparisons (non-associative) < | < ^ < & < shifts < + - < * / // % %%. */
export const PREC = { cmp: 1, or: 2, xor: 3, and: 4, shift: 5, add: 6, mul: 7, unary: 8, atom: 9 } as const;

export function binaryPrec(op: BinaryOp): number {
  switch (op) {
    case 'eq': case 'ne': case 'lt': case 'le': case 'gt': case 'ge': return PREC.cmp;
    case 'or': return PREC.or;
    case 'xor': return PREC.xor;
    case 'and': return PREC.and;
    case 'shl': case 'shr': return PREC.shift;
    case 'add': case 'sub': return PREC.add;
    case 'mul': case 'div': case 'floordiv': case 'mod': case 'floormod': return PREC.mul;
    default: return PREC.atom; // written as a call
  }
}

export type LiteralKind = 'int' | 'float' | 'bool';

export const literalKind = (e: KScalar): LiteralKind =>
  e === 'bool' ? 'bool' : e === 'f16' || e === 'bf16' || e === 'f32' || e === 'f64' ? 'float' : 'int';

/**
 * The type of a literal written without `:type`: the type its position expects (the other operand of a
 * binary op or select, a stored buffer's element, a local's type) when that is of the literal's kind,
 * else i32, f32 or bool. The printer omits an annotation exactly when this gives the constant's type.
 */
export function inferLiteral(kind: LiteralKind, expected: KType | undefined): KType {
  if (expected && literalKind(expected.elem) === kind) return expected;
  return { elem: kind === 'int' ? 'i32' : kind === 'float' ? 'f32' : 'bool', lanes: 1 };
}

/** Calls that are binary ops. */
export const BINARY_CALLS: readonly BinaryOp[] = ['min', 'max', 'pow', 'atan2', 'mulhi', 'dot4_u8', 'dot4_i8'];
