// The chevrotain parser of the textual kernel IR, an extension of the shared LiteralRules (names, dtypes).
// Rules only build a syntax tree (grammar/kernel-ast.ts); grammar/kernel-build.ts resolves names and
// types. The syntax (printed by grammar/kernel-printer.ts):
//
//   kernel add_relu(buf f32 a[n] read, buf f32 b[n] read, buf f32 y[n] write; size n) {
//     parallel for i in 0..n {
//       let v = max(load a[i] + load b[i], 0.0);
//       store y[i] = v;
//     }
//   }
//
// Statements: `let x = e;` `local acc: f32 = e;` `acc = e;` `store buf[i] = e;`
// `[parallel|vector|unroll] for i in start..end [step k] { … }` `if c { … } else { … }`
// `[let old =] atomic add buf[i], e relaxed device;` `barrier workgroup;` `comment "text";`.
// A kernel may state what it computes between its parameters and its body (ir/kernel/ir.ts KernelPattern):
// `kernel mm(…) matmul {a: a, b: b, y: y, batch: 1, m: 4, n: 8, k: 3, a_batch_stride: 0, b_batch_stride: 0,
// trans_a: false, trans_b: false, elem: f32, acc: f32} { … }` (and `scratch: s` when it names one).
// Expressions, loosest first: comparisons (== != < <= > >=, non-associative), |, ^, &, << >>, + -,
// * / // % %% (`/` `%` truncate, `//` `%%` round toward −∞), unary - and !. Everything else is a call:
// min max pow atan2 mulhi dot4_u8 dot4_i8 select(c, a, b) extract(v, lane) reduce_add/min/max(v) and the
// unary functions (abs sqrt exp … isnan); `cast<f16>(x)` `bitcast<u32>(x)` `broadcast<f32x4>(x)`,
// `load a[i]`, `load<f32x4> a[i]`. Literals: 3, 0xff, 2.5, 1e-3, nan, inf, true, false; a literal takes
// the type its position expects (see inferLiteral in grammar/kernel-syntax.ts), else `3:u32` says it.
import { type IToken, type TokenType } from 'chevrotain';
import { TesseraError } from '../ir/errors.ts';
import type { Kernel } from '../ir/kernel/ir.ts';
import { buildKernels } from './kernel-build.ts';
import type { KAtomicAst, KBufferAst, KernelAst, KExprAst, KPatternAst, KStmtAst } from './kernel-ast.ts';
import {
  Amp, Bang, Caret, DotDot, EqEq, GtEq, KERNEL_TOKENS, kernelLexer, KFloat, KInt, KwAtomic, KwBarrier, KwBitcast,
  KwBroadcast, KwBuf, KwCast, KwElse, KwFor, KwIf, KwIn, KwKernel, KwLet, KwLoad, KwLocal, KwParallel, KwSize,
  KwStep, KwStore, KwUnroll, KwVector, LtEq, Minus, NotEq, Percent, PercentPercent, Pipe, Plus, Semi, Shl, Shr,
  Slash, SlashSlash,
} from './kernel-syntax.ts';
import {
  Colon, Comma, DTypeTok, Equals, HexLit, Identifier, KwFalse, KwInf, KwNan, KwTrue, LAngle, LBrace, LBracket, LParen, RAngle,
  RBrace, RBracket, RParen, Star, StringLit, tokenPlace,
} from './lexer.ts';
import { LiteralRules, type ParseOptions } from './parser.ts';

export class KernelParser extends LiteralRules {
  constructor() {
    super(KERNEL_TOKENS);
    this.performSelfAnalysis();
  }

  kernels = this.RULE('kernels', (): KernelAst[] => {
    const ks: KernelAst[] = [];
    this.AT_LEAST_ONE(() => ks.push(this.SUBRULE(this.kernel)));
    return ks;
  });

  kernel = this.RULE('kernel', (): KernelAst => {
    const tok = this.CONSUME(KwKernel);
    const name = this.SUBRULE(this.name);
    this.CONSUME(LParen);
    const buffers: KBufferAst[] = [];
    let sizes: IToken[] = [];
    this.OPTION(() => this.OR([
      { ALT: () => { sizes = this.SUBRULE(this.sizeList); } },
      { ALT: () => {
        this.AT_LEAST_ONE_SEP({ SEP: Comma, DEF: () => buffers.push(this.SUBRULE(this.bufferParam)) });
        this.OPTION2(() => { this.CONSUME(Semi); sizes = this.SUBRULE2(this.sizeList); });
      } },
    ]));
    this.CONSUME(RParen);
    const pattern = this.OPTION3(() => this.SUBRULE(this.patternClause));
    const body = this.SUBRULE(this.block);
    return { tok, name, buffers, sizes, pattern, body };
  });

  /** `matmul {a: a, b: b, y: y, batch: 1, m: M, …, elem: f32, acc: f32}` (see printKernel). */
  patternClause = this.RULE('patternClause', (): KPatternAst => {
    const kind = this.CONSUME(Identifier);
    this.CONSUME(LBrace);
    const fields: KPatternAst['fields'] = [];
    this.MANY_SEP({ SEP: Comma, DEF: () => {
      const name = this.SUBRULE(this.name);
      this.CONSUME(Colon);
      let dtype: IToken | undefined, value: KExprAst | undefined;
      this.OR([
        { ALT: () => { dtype = this.CONSUME(DTypeTok); } },
        { ALT: () => { value = this.SUBRULE(this.expr); } },
      ]);
      fields.push({ name, dtype, value });
    } });
    this.CONSUME(RBrace);
    return { kind, fields };
  });

  sizeList = this.RULE('sizeList', (): IToken[] => {
    this.CONSUME(KwSize);
    const names: IToken[] = [];
    this.AT_LEAST_ONE_SEP({ SEP: Comma, DEF: () => names.push(this.SUBRULE(this.name)) });
    return names;
  });

  /** `buf f32 a[n] read`, `buf f32 tile[256] readwrite workgroup`. */
  bufferParam = this.RULE('bufferParam', (): KBufferAst => {
    const tok = this.CONSUME(KwBuf);
    const elem = this.SUBRULE(this.dtype);
    const name = this.SUBRULE(this.name);
    this.CONSUME(LBracket);
    const size = this.SUBRULE(this.expr);
    this.CONSUME(RBracket);
    const access = this.CONSUME(Identifier);
    const space = this.OPTION(() => this.CONSUME2(Identifier));
    return { tok, elem, name, size, access, space };
  });

  block = this.RULE('block', (): KStmtAst[] => {
    this.CONSUME(LBrace);
    const body: KStmtAst[] = [];
    this.MANY(() => body.push(this.SUBRULE(this.stmt)));
    this.CONSUME(RBrace);
    return body;
  });

  stmt = this.RULE('stmt', (): KStmtAst => this.OR([
    { ALT: () => {
      const tok = this.CONSUME(KwLet);
      const name = this.SUBRULE(this.name);
      this.CONSUME(Equals);
      const s = this.OR2([
        { ALT: (): KStmtAst => ({ kind: 'atomic', tok, result: name, atomic: this.SUBRULE(this.atomic) }) },
        { ALT: (): KStmtAst => ({ kind: 'let', tok, name, value: this.SUBRULE(this.expr) }) },
      ]);
      this.CONSUME(Semi);
      return s;
    } },
    { ALT: () => {
      const tok = this.CONSUME(KwLocal);
      const name = this.SUBRULE2(this.name);
      this.CONSUME(Colon);
      const type = this.SUBRULE(this.dtype);
      this.CONSUME2(Equals);
      const init = this.SUBRULE2(this.expr);
      this.CONSUME2(Semi);
      return { kind: 'local', tok, name, type, init };
    } },
    { ALT: () => {
      const tok = this.CONSUME(KwStore);
      const buffer = this.SUBRULE3(this.name);
      this.CONSUME(LBracket);
      const index = this.SUBRULE3(this.expr);
      this.CONSUME(RBracket);
      this.CONSUME3(Equals);
      const value = this.SUBRULE4(this.expr);
      this.CONSUME3(Semi);
      return { kind: 'store', tok, buffer, index, value };
    } },
    { ALT: () => this.SUBRULE(this.loop) },
    { ALT: () => this.SUBRULE(this.ifStmt) },
    { ALT: () => {
      const atomic = this.SUBRULE2(this.atomic);
      this.CONSUME4(Semi);
      return { kind: 'atomic', tok: atomic.tok, result: undefined, atomic };
    } },
    { ALT: () => {
      const tok = this.CONSUME(KwBarrier);
      const scope = this.CONSUME(Identifier);
      this.CONSUME5(Semi);
      return { kind: 'barrier', tok, scope };
    } },
    { ALT: () => {
      const tok = this.CONSUME2(Identifier); // `comment`
      const text = this.CONSUME(StringLit);
      this.CONSUME6(Semi);
      return { kind: 'comment', tok, text };
    } },
    { ALT: () => {
      const name = this.SUBRULE4(this.name);
      const tok = this.CONSUME4(Equals);
      const value = this.SUBRULE5(this.expr);
      this.CONSUME7(Semi);
      return { kind: 'assign', tok, name, value };
    } },
  ]));

  loop = this.RULE('loop', (): KStmtAst => {
    const loopKind = this.OPTION(() => this.OR([
      { ALT: () => this.CONSUME(KwParallel) },
      { ALT: () => this.CONSUME(KwVector) },
      { ALT: () => this.CONSUME(KwUnroll) },
    ]));
    const tok = this.CONSUME(KwFor);
    const v = this.SUBRULE(this.name);
    this.CONSUME(KwIn);
    const start = this.SUBRULE(this.expr);
    this.CONSUME(DotDot);
    const end = this.SUBRULE2(this.expr);
    const step = this.OPTION2(() => { this.CONSUME(KwStep); return this.CONSUME(KInt); });
    const body = this.SUBRULE(this.block);
    return { kind: 'loop', tok: loopKind ?? tok, loopKind, var: v, start, end, step, body };
  });

  ifStmt = this.RULE('ifStmt', (): KStmtAst => {
    const tok = this.CONSUME(KwIf);
    const cond = this.SUBRULE(this.expr);
    const then = this.SUBRULE(this.block);
    let else_: KStmtAst[] = [];
    this.OPTION(() => {
      this.CONSUME(KwElse);
      this.OR([
        { ALT: () => { else_ = [this.SUBRULE(this.ifStmt)]; } },
        { ALT: () => { else_ = this.SUBRULE2(this.block); } },
      ]);
    });
    return { kind: 'if', tok, cond, then, else: else_ };
  });

  /** `atomic add buf[i], value acq_rel device` */
  atomic = this.RULE('atomic', (): KAtomicAst => {
    const tok = this.CONSUME(KwAtomic);
    const op = this.CONSUME(Identifier);
    const buffer = this.SUBRULE(this.name);
    this.CONSUME(LBracket);
    const index = this.SUBRULE(this.expr);
    this.CONSUME(RBracket);
    this.CONSUME(Comma);
    const value = this.SUBRULE2(this.expr);
    const order = this.CONSUME2(Identifier);
    const scope = this.CONSUME3(Identifier);
    return { tok, op, buffer, index, value, order, scope };
  });

  // ------------------------------------------------------------ expressions, loosest first

  expr = this.RULE('expr', (): KExprAst => {
    const a = this.SUBRULE(this.orExpr);
    let out = a;
    // Comparisons do not chain; the builder says so (a clearer message than a parse error here).
    this.MANY(() => {
      const tok = this.OR([
        { ALT: () => this.CONSUME(EqEq) }, { ALT: () => this.CONSUME(NotEq) },
        { ALT: () => this.CONSUME(LtEq) }, { ALT: () => this.CONSUME(GtEq) },
        { ALT: () => this.CONSUME(LAngle) }, { ALT: () => this.CONSUME(RAngle) },
      ]);
      const b = this.SUBRULE2(this.orExpr);
      out = { kind: 'binary', tok, a: out, b };
    });
    return out;
  });

  /** One left-associative level: `next (op next)*` (chevrotain needs distinct SUBRULE indices per call). */
  private leftAssoc(name: string, ops: TokenType[], first: () => KExprAst, again: () => KExprAst) {
    const alts = ops.map((t) => ({ ALT: () => this.CONSUME(t) }));
    return this.RULE(name, (): KExprAst => {
      let a = first();
      this.MANY(() => {
        const tok = this.OR(alts);
        const b = again();
        a = { kind: 'binary', tok, a, b };
      });
      return a;
    });
  }

  mulExpr = this.leftAssoc('mulExpr', [Star, Slash, SlashSlash, Percent, PercentPercent],
    () => this.SUBRULE(this.unaryExpr), () => this.SUBRULE2(this.unaryExpr));
  addExpr = this.leftAssoc('addExpr', [Plus, Minus], () => this.SUBRULE(this.mulExpr), () => this.SUBRULE2(this.mulExpr));
  shiftExpr = this.leftAssoc('shiftExpr', [Shl, Shr], () => this.SUBRULE(this.addExpr), () => this.SUBRULE2(this.addExpr));
  andExpr = this.leftAssoc('andExpr', [Amp], () => this.SUBRULE(this.shiftExpr), () => this.SUBRULE2(this.shiftExpr));
  xorExpr = this.leftAssoc('xorExpr', [Caret], () => this.SUBRULE(this.andExpr), () => this.SUBRULE2(this.andExpr));
  orExpr = this.leftAssoc('orExpr', [Pipe], () => this.SUBRULE(this.xorExpr), () => this.SUBRULE2(this.xorExpr));

  unaryExpr = this.RULE('unaryExpr', (): KExprAst => this.OR([
    { ALT: () => {
      const tok = this.CONSUME(Minus);
      const a = this.SUBRULE(this.unaryExpr);
      // `-` directly before a literal is part of it: `-3` is the constant −3, `-(3)` negates 3.
      return this.ACTION(() => (a.kind === 'lit' && !a.neg ? { ...a, neg: tok } : { kind: 'unary' as const, tok, a }));
    } },
    { ALT: () => {
      const tok = this.CONSUME(Bang);
      const a = this.SUBRULE2(this.unaryExpr);
      return { kind: 'unary' as const, tok, a };
    } },
    { ALT: () => this.SUBRULE(this.primary) },
  ]));

  primary = this.RULE('primary', (): KExprAst => this.OR([
    { ALT: () => {
      const tok = this.OR2([
        { ALT: () => this.CONSUME(KInt) }, { ALT: () => this.CONSUME(KFloat) }, { ALT: () => this.CONSUME(HexLit) },
        { ALT: () => this.CONSUME(KwTrue) }, { ALT: () => this.CONSUME(KwFalse) },
        { ALT: () => this.CONSUME(KwNan) }, { ALT: () => this.CONSUME(KwInf) },
      ]);
      const type = this.OPTION(() => { this.CONSUME(Colon); return this.SUBRULE(this.dtype); });
      return { kind: 'lit' as const, tok, neg: undefined, type };
    } },
    { ALT: () => {
      const tok = this.CONSUME(Identifier);
      const args = this.OPTION2(() => {
        this.CONSUME(LParen);
        const xs: KExprAst[] = [];
        this.MANY_SEP({ SEP: Comma, DEF: () => xs.push(this.SUBRULE(this.expr)) });
        this.CONSUME(RParen);
        return xs;
      });
      return args ? { kind: 'call' as const, tok, args } : { kind: 'name' as const, tok };
    } },
    { ALT: () => ({ kind: 'name' as const, tok: this.CONSUME(StringLit) }) },
    { ALT: () => {
      const tok = this.CONSUME2(LParen);
      const a = this.SUBRULE2(this.expr);
      this.CONSUME2(RParen);
      return { kind: 'paren' as const, tok, a };
    } },
    { ALT: () => {
      const tok = this.OR3([
        { ALT: () => this.CONSUME(KwCast) }, { ALT: () => this.CONSUME(KwBitcast) }, { ALT: () => this.CONSUME(KwBroadcast) },
      ]);
      this.CONSUME(LAngle);
      const type = this.SUBRULE2(this.dtype);
      this.CONSUME(RAngle);
      this.CONSUME3(LParen);
      const a = this.SUBRULE3(this.expr);
      this.CONSUME3(RParen);
      return { kind: 'typed' as const, tok, type, a };
    } },
    { ALT: () => {
      const tok = this.CONSUME(KwLoad);
      const type = this.OPTION3(() => {
        this.CONSUME2(LAngle);
        const t = this.SUBRULE3(this.dtype);
        this.CONSUME2(RAngle);
        return t;
      });
      const buffer = this.SUBRULE(this.name);
      this.CONSUME(LBracket);
      const index = this.SUBRULE4(this.expr);
      this.CONSUME(RBracket);
      return { kind: 'load' as const, tok, type, buffer, index };
    } },
  ]));
}

let parser: KernelParser | undefined;
const kernelParser = () => (parser ??= new KernelParser());

function parseAsts(text: string, place: { file?: string }): KernelAst[] {
  const lexed = kernelLexer().tokenize(text);
  if (lexed.errors.length > 0) {
    const e = lexed.errors[0]!;
    const ch = text[e.offset] ?? '';
    const what = ch === '"' ? 'an unterminated string or a bad escape in a string' : `unexpected character ${JSON.stringify(ch)}`;
    throw new TesseraError(`${e.line ?? '?'}:${e.column ?? '?'}: ${what}`, place);
  }
  const p = kernelParser();
  p.input = lexed.tokens;
  let asts: KernelAst[];
  try {
    asts = p.kernels();
  } catch (e) {
    if (e instanceof RangeError) throw new TesseraError(`the text is nested too deeply to parse`, place);
    throw e;
  }
  if (p.errors.length > 0) {
    const e = p.errors[0]!;
    throw new TesseraError(`${tokenPlace(e.token, text)}: ${e.message}`, place);
  }
  return asts;
}

/**
 * Parses text holding one or more kernels. Every failure — lexical, syntactic or semantic (undefined
 * names, type mismatches) — is a TesseraError whose reason starts with line:column.
 */
export function parseKernels(text: string, opts: ParseOptions = {}): Kernel[] {
  const place = { file: opts.file };
  const asts = parseAsts(text, place);
  try {
    return buildKernels(asts, text, place);
  } catch (e) {
    if (e instanceof RangeError) throw new TesseraError(`the text is nested too deeply to parse`, place);
    throw e;
  }
}

/** Parses text holding exactly one kernel. */
export function parseKernel(text: string, opts: ParseOptions = {}): Kernel {
  const ks = parseKernels(text, opts);
  if (ks.length !== 1) {
    throw new TesseraError(`expected one kernel, found ${ks.length}`, { file: opts.file });
  }
  return ks[0]!;
}
