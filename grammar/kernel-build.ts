// Syntax tree → kernel IR: resolves names through block scopes, gives literals their types (inferLiteral),
// and type-checks every node with the constructors of ir/kernel/build.ts, reporting at line:column.
import type { IToken } from 'chevrotain';
import type { ErrorPlace } from '../ir/errors.ts';
import { TesseraError } from '../ir/errors.ts';
import * as K from '../ir/kernel/build.ts';
import { INDEX, type AtomicOp, type BinaryOp, type BufferParam, type Expr, type Kernel, type KernelPattern, type KType, type MemoryOrder, type MemoryScope, type Stmt, type UnaryOp } from '../ir/kernel/ir.ts';
import type { KBufferAst, KernelAst, KExprAst, KPatternAst, KStmtAst } from './kernel-ast.ts';
import { BINARY_CALLS, inferLiteral, INFIX, KFloat, KInt, KwBitcast, KwBroadcast, KwCast, KwParallel, KwUnroll, KwVector, literalKind, type LiteralKind } from './kernel-syntax.ts';
import { HexLit, KwFalse, KwInf, KwNan, KwTrue, StringLit, tokenPlace } from './lexer.ts';

type NameKind = 'size' | 'loop' | 'let' | 'local' | 'result';
const PATTERN_FIELDS = ['a', 'b', 'y', 'scratch', 'batch', 'm', 'n', 'k', 'a_batch_stride', 'b_batch_stride', 'trans_a', 'trans_b', 'elem', 'acc'] as const;
type Scope = Map<string, { type: KType; kind: NameKind }>;

const OP_BY_SYMBOL = new Map<string, BinaryOp>(Object.entries(INFIX).map(([op, sym]) => [sym, op as BinaryOp]));
const UNARY_CALLS = new Set<string>(K.UNARY_OPS);
const ATOMIC_OPS: AtomicOp[] = ['add', 'sub', 'min', 'max', 'and', 'or', 'xor', 'exchange'];
const ORDERS: MemoryOrder[] = ['relaxed', 'acquire', 'release', 'acq_rel'];
const SCOPES: MemoryScope[] = ['workgroup', 'device'];

export function buildKernels(asts: KernelAst[], text: string, place: ErrorPlace): Kernel[] {
  return asts.map((a) => new KernelBuilder(text, place).kernel(a));
}

/** An unannotated literal (possibly with its `-`): its type comes from the other side. */
const isBareLit = (a: KExprAst): boolean => a.kind === 'lit' && a.type === undefined;

class KernelBuilder {
  private readonly buffers = new Map<string, BufferParam>();

  constructor(private readonly text: string, private readonly place: ErrorPlace) {}

  private err(tok: IToken | undefined, reason: string): TesseraError {
    return new TesseraError(`${tokenPlace(tok, this.text)}: ${reason}`, this.place);
  }

  /** Runs an IR constructor, turning its type error into one at `tok`. */
  private at<X>(tok: IToken, f: () => X): X {
    try {
      return f();
    } catch (e) {
      if (e instanceof TesseraError) throw this.err(tok, e.reason);
      throw e;
    }
  }

  private name(tok: IToken): string {
    return tok.tokenType === StringLit ? (JSON.parse(tok.image) as string) : tok.image;
  }

  private type(tok: IToken): KType {
    const t = K.parseTypeName(tok.image);
    if (!t) throw this.err(tok, `unknown type '${tok.image}' (a dtype such as f32 or i64, or a vector such as f32x4 or u8x16)`);
    return t;
  }

  private word<T extends string>(tok: IToken, allowed: readonly T[], what: string): T {
    if (!(allowed as readonly string[]).includes(tok.image)) throw this.err(tok, `unknown ${what} '${tok.image}' (expected ${allowed.join(', ')})`);
    return tok.image as T;
  }

  private define(scope: Scope, tok: IToken, kind: NameKind, type: KType): string {
    const name = this.name(tok);
    if (scope.has(name)) throw this.err(tok, `'${name}' is already defined here (names cannot be redefined while visible)`);
    scope.set(name, { type, kind });
    return name;
  }

  private buffer(tok: IToken): BufferParam {
    const name = this.name(tok);
    const b = this.buffers.get(name);
    if (!b) throw this.err(tok, `buffer '${name}' is not declared`);
    return b;
  }

  kernel(ast: KernelAst): Kernel {
    const scope: Scope = new Map();
    const sizes = ast.sizes.map((tok) => ({ name: this.define(scope, tok, 'size', INDEX) }));
    const buffers = ast.buffers.map((b) => this.bufferParam(b, scope));
    const k: Kernel = { name: this.name(ast.name), buffers, sizes, body: this.block(ast.body, scope) };
    if (ast.pattern) k.pattern = this.pattern(ast.pattern, scope);
    return k;
  }

  /** A matmul pattern: buffer names, size expressions over the kernel's sizes, flags and dtypes by field. */
  private pattern(ast: KPatternAst, scope: Scope): KernelPattern {
    if (ast.kind.image !== 'matmul') throw this.err(ast.kind, `unknown pattern '${ast.kind.image}' (expected matmul)`);
    const fields = new Map<string, KPatternAst['fields'][number]>();
    for (const f of ast.fields) {
      const n = this.name(f.name);
      if (!(PATTERN_FIELDS as readonly string[]).includes(n)) throw this.err(f.name, `unknown matmul field '${n}' (expected ${PATTERN_FIELDS.join(', ')})`);
      if (fields.has(n)) throw this.err(f.name, `matmul field '${n}' is given twice`);
      fields.set(n, f);
    }
    const get = (n: string) => fields.get(n) ?? (() => { throw this.err(ast.kind, `matmul pattern without field '${n}'`); })();
    const bufferName = (n: string) => {
      const v = get(n).value;
      if (v?.kind !== 'name') throw this.err(get(n).name, `matmul field '${n}' must name a buffer`);
      return this.buffer(v.tok).name;
    };
    const size = (n: string) => {
      const v = get(n).value;
      if (!v) throw this.err(get(n).name, `matmul field '${n}' must be a size expression`);
      return this.expr(v, scope, INDEX);
    };
    const flag = (n: string) => {
      const v = get(n).value;
      if (v?.kind !== 'lit' || (v.tok.tokenType !== KwTrue && v.tok.tokenType !== KwFalse)) throw this.err(get(n).name, `matmul field '${n}' must be true or false`);
      return v.tok.tokenType === KwTrue;
    };
    const elem = (n: string) => {
      const f = get(n);
      const t = f.dtype ? this.type(f.dtype) : undefined;
      if (!t || t.lanes !== 1) throw this.err(f.name, `matmul field '${n}' must be a scalar dtype`);
      return t.elem;
    };
    const p: KernelPattern = {
      kind: 'matmul', a: bufferName('a'), b: bufferName('b'), y: bufferName('y'),
      batch: size('batch'), m: size('m'), n: size('n'), k: size('k'),
      aBatchStride: size('a_batch_stride'), bBatchStride: size('b_batch_stride'),
      transA: flag('trans_a'), transB: flag('trans_b'), elem: elem('elem'), acc: elem('acc'),
    };
    if (fields.has('scratch')) p.scratch = bufferName('scratch');
    return p;
  }

  private bufferParam(ast: KBufferAst, scope: Scope): BufferParam {
    const name = this.name(ast.name);
    if (this.buffers.has(name)) throw this.err(ast.name, `buffer '${name}' is declared twice`);
    const t = this.type(ast.elem);
    if (t.lanes !== 1) throw this.err(ast.elem, `a buffer holds scalars, not ${ast.elem.image}`);
    const size = this.expr(ast.size, scope, INDEX);
    const access = this.word(ast.access, ['read', 'write', 'readwrite'] as const, 'buffer access');
    const space = ast.space ? this.word(ast.space, ['global', 'workgroup'] as const, 'memory space') : 'global';
    const b = this.at(ast.tok, () => K.buffer(name, t.elem, size, access, space));
    this.buffers.set(name, b);
    return b;
  }

  private block(stmts: KStmtAst[], outer: Scope): Stmt[] {
    const scope: Scope = new Map(outer);
    return stmts.map((s) => this.stmt(s, scope));
  }

  private stmt(s: KStmtAst, scope: Scope): Stmt {
    switch (s.kind) {
      case 'let': {
        const value = this.expr(s.value, scope, undefined);
        return K.let_(this.define(scope, s.name, 'let', value.type), value);
      }
      case 'local': {
        const t = this.type(s.type);
        const init = this.expr(s.init, scope, t);
        const st = this.at(s.tok, () => K.local(this.name(s.name), t, init));
        this.define(scope, s.name, 'local', t);
        return st;
      }
      case 'assign': {
        const name = this.name(s.name);
        const n = scope.get(name);
        if (!n) throw this.err(s.name, `'${name}' is not defined`);
        if (n.kind !== 'local') throw this.err(s.name, `'${name}' is a ${n.kind === 'result' ? 'atomic result' : n.kind}; only locals can be assigned`);
        const value = this.expr(s.value, scope, n.type);
        if (!K.typesEqual(value.type, n.type)) throw this.err(s.tok, `local '${name}' is ${K.typeName(n.type)} but the value is ${K.typeName(value.type)}`);
        return K.assign(name, value);
      }
      case 'store': {
        const b = this.buffer(s.buffer);
        const index = this.expr(s.index, scope, INDEX);
        const value = this.expr(s.value, scope, { elem: b.elem, lanes: 1 });
        return this.at(s.tok, () => K.store(b, index, value));
      }
      case 'loop': {
        const kind = s.loopKind?.tokenType === KwParallel ? 'parallel' : s.loopKind?.tokenType === KwVector ? 'vector' : s.loopKind?.tokenType === KwUnroll ? 'unroll' : 'serial';
        const start = this.expr(s.start, scope, INDEX), end = this.expr(s.end, scope, INDEX);
        let step = 1;
        if (s.step) {
          step = Number(s.step.image);
          if (!Number.isSafeInteger(step) || step < 1 || step > 2 ** 31 - 1) throw this.err(s.step, `a loop step must be a positive i32, got ${s.step.image}`);
        }
        const inner: Scope = new Map(scope);
        const name = this.define(inner, s.var, 'loop', INDEX);
        const body = this.block(s.body, inner);
        return this.at(s.tok, () => K.loop(name, start, end, body, { kind, step }));
      }
      case 'if': {
        const cond = this.expr(s.cond, scope, undefined);
        const then = this.block(s.then, scope), else_ = this.block(s.else, scope);
        return this.at(s.tok, () => K.if_(cond, then, else_));
      }
      case 'atomic': {
        const a = s.atomic;
        const op = this.word(a.op, ATOMIC_OPS, 'atomic op');
        const b = this.buffer(a.buffer);
        const index = this.expr(a.index, scope, INDEX);
        const value = this.expr(a.value, scope, { elem: b.elem, lanes: 1 });
        const order = this.word(a.order, ORDERS, 'memory order');
        const memScope = this.word(a.scope, SCOPES, 'memory scope');
        const result = s.result ? this.define(scope, s.result, 'result', { elem: b.elem, lanes: 1 }) : undefined;
        return this.at(a.tok, () => K.atomic(op, b, index, value, { order, scope: memScope, ...(result !== undefined ? { result } : {}) }));
      }
      case 'barrier': return K.barrier(this.word(s.scope, SCOPES, 'memory scope'));
      case 'comment':
        if (s.tok.image !== 'comment') throw this.err(s.tok, `expected a statement but found '${s.tok.image}' followed by a string (a comment is written comment "text";)`);
        return K.comment(JSON.parse(s.text.image) as string);
    }
  }

  // ------------------------------------------------------------ expressions

  private litKind(tok: IToken): LiteralKind {
    const t = tok.tokenType;
    if (t === KInt || t === HexLit) return 'int';
    if (t === KwTrue || t === KwFalse) return 'bool';
    return 'float';
  }

  private literal(ast: Extract<KExprAst, { kind: 'lit' }>, expected: KType | undefined): Expr {
    const kind = this.litKind(ast.tok);
    const t = ast.type ? this.type(ast.type) : inferLiteral(kind, expected);
    if (literalKind(t.elem) !== kind) {
      throw this.err(ast.type ?? ast.tok, `${kind === 'int' ? 'an integer' : kind === 'float' ? 'a float' : 'a bool'} literal cannot have type ${K.typeName(t)}`);
    }
    const tok = ast.neg ?? ast.tok;
    if (kind === 'bool') {
      if (ast.neg) throw this.err(ast.neg, `a bool literal cannot be negated with '-' (use !)`);
      return K.c(t, ast.tok.tokenType === KwTrue);
    }
    if (kind === 'int') {
      let v = BigInt(ast.tok.image);
      if (ast.neg) v = -v;
      const [lo, hi] = K.intRange(t.elem);
      if (v < lo || v > hi) throw this.err(tok, `${v} is out of range for ${t.elem}`);
      return K.c(t, t.elem === 'i64' || t.elem === 'u64' ? v : Number(v));
    }
    let f = ast.tok.tokenType === KwNan ? NaN : ast.tok.tokenType === KwInf ? Infinity : Number(ast.tok.image);
    if (ast.tok.tokenType === KFloat && !Number.isFinite(f)) throw this.err(ast.tok, `${ast.tok.image} is too large for a float literal (write inf)`);
    if (ast.neg) f = -f;
    return this.at(tok, () => K.c(t, f));
  }

  /** Builds two operands that must share a type: an unannotated literal takes the other side's type. */
  private pair(a: KExprAst, b: KExprAst, scope: Scope): [Expr, Expr] {
    if (isBareLit(a) && !isBareLit(b)) {
      const y = this.expr(b, scope, undefined);
      return [this.expr(a, scope, y.type), y];
    }
    const x = this.expr(a, scope, undefined);
    return [x, this.expr(b, scope, isBareLit(a) ? undefined : x.type)];
  }

  private expr(ast: KExprAst, scope: Scope, expected: KType | undefined): Expr {
    switch (ast.kind) {
      case 'lit': return this.literal(ast, expected);
      case 'paren': return this.expr(ast.a, scope, expected);
      case 'name': {
        const name = this.name(ast.tok);
        const n = scope.get(name);
        if (!n) throw this.err(ast.tok, `'${name}' is not defined`);
        return K.v(name, n.type);
      }
      case 'unary': {
        const a = this.expr(ast.a, scope, undefined);
        return this.at(ast.tok, () => K.unary(ast.tok.image === '-' ? 'neg' : 'not', a));
      }
      case 'binary': {
        const op = OP_BY_SYMBOL.get(ast.tok.image)!;
        if (K.isComparison(op) && ast.a.kind === 'binary' && K.isComparison(OP_BY_SYMBOL.get(ast.a.tok.image)!)) {
          throw this.err(ast.tok, `comparisons do not chain: add parentheses, e.g. (a < b) & (b < c)`);
        }
        const [x, y] = this.pair(ast.a, ast.b, scope);
        return this.at(ast.tok, () => K.binary(op, x, y));
      }
      case 'typed': {
        const t = this.type(ast.type);
        if (ast.tok.tokenType === KwBroadcast) {
          const a = this.expr(ast.a, scope, { elem: t.elem, lanes: 1 });
          return this.at(ast.tok, () => {
            const e = K.broadcast(a, t.lanes);
            if (a.type.elem !== t.elem) throw new TesseraError(`broadcast<${K.typeName(t)}> needs a ${t.elem} scalar, got ${K.typeName(a.type)}`);
            return e;
          });
        }
        const a = this.expr(ast.a, scope, undefined);
        return this.at(ast.tok, () => (ast.tok.tokenType === KwCast ? K.cast(t, a) : ast.tok.tokenType === KwBitcast ? K.bitcast(t, a) : K.cast(t, a)));
      }
      case 'load': {
        const b = this.buffer(ast.buffer);
        const index = this.expr(ast.index, scope, INDEX);
        let lanes: KType['lanes'] = 1;
        if (ast.type) {
          const t = this.type(ast.type);
          if (t.elem !== b.elem) throw this.err(ast.type, `buffer '${b.name}' holds ${b.elem}, not ${t.elem}`);
          lanes = t.lanes;
        }
        return this.at(ast.tok, () => K.load(b, index, lanes));
      }
      case 'call': return this.call(ast, scope);
    }
  }

  private call(ast: Extract<KExprAst, { kind: 'call' }>, scope: Scope): Expr {
    const f = ast.tok.image;
    const args = ast.args;
    const arity = (n: number) => {
      if (args.length !== n) throw this.err(ast.tok, `${f} takes ${n} argument${n === 1 ? '' : 's'}, got ${args.length}`);
    };
    if ((BINARY_CALLS as readonly string[]).includes(f)) {
      arity(2);
      const [x, y] = this.pair(args[0]!, args[1]!, scope);
      return this.at(ast.tok, () => K.binary(f as BinaryOp, x, y));
    }
    if (UNARY_CALLS.has(f)) {
      arity(1);
      const a = this.expr(args[0]!, scope, undefined);
      return this.at(ast.tok, () => K.unary(f as UnaryOp, a));
    }
    switch (f) {
      case 'select': {
        arity(3);
        const cond = this.expr(args[0]!, scope, undefined);
        const [x, y] = this.pair(args[1]!, args[2]!, scope);
        return this.at(ast.tok, () => K.select(cond, x, y));
      }
      case 'extract': {
        arity(2);
        const a = this.expr(args[0]!, scope, undefined);
        const lane = args[1]!;
        if (lane.kind !== 'lit' || lane.tok.tokenType !== KInt || lane.neg || lane.type) throw this.err(ast.tok, `extract takes a lane number: extract(v, 2)`);
        return this.at(ast.tok, () => K.extract(a, Number(lane.tok.image)));
      }
      case 'reduce_add': case 'reduce_min': case 'reduce_max': {
        arity(1);
        const a = this.expr(args[0]!, scope, undefined);
        return this.at(ast.tok, () => K.reduceLanes(f.slice(7) as 'add' | 'min' | 'max', a));
      }
      default:
        throw this.err(ast.tok, `unknown function '${f}'`);
    }
  }
}
