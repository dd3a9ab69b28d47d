// The executable verifier of the kernel IR: tests run it after every construction and transformation.
// It checks, and reports with the kernel's name and the statement's place:
// - names: every variable is defined before use and in scope (size params, loop variables, lets, locals,
//   atomic results); no definition shadows a visible name; only locals are assigned; buffers are declared
//   once, loaded only when readable and stored only when writable; atomics need 'readwrite'.
// - types: every node's type follows the rules of ir/kernel/build.ts; indices, loop bounds and buffer sizes
//   are i32 scalars; a stored value has the buffer's element type (any lane count); constants fit their type.
// - privacy: a 'parallel' or 'vector' loop body does not assign a local declared outside that loop (each
//   iteration has its own copy on a real target; the serial interpreter would share it).
// - barriers (the rule): a barrier synchronizes the iterations of its innermost enclosing 'parallel' loop,
//   so every iteration must reach it equally often. Inside such a loop, a barrier must not sit in a
//   'vector' loop, nor under an `if` or a serial/unroll loop whose condition or bounds are *varying*. The
//   varying values are the parallel loop's variable, loads, atomic results, locals declared inside the
//   parallel loop, and anything computed from these (lets, loop variables of loops with varying bounds).
//   Values defined outside the parallel loop (sizes, outer loop variables, outer lets, outer locals, which
//   the loop cannot assign) are uniform. Barriers outside every parallel loop are always allowed.
import { TesseraError } from '../errors.ts';
import {
  binaryType, bitcastCheck, castCheck, constCheck, isIntElem, isNumericElem, KSCALARS, LANES,
  selectType, typeName, typesEqual, unaryType,
} from './build.ts';
import { INDEX, type BufferParam, type Expr, type Kernel, type KernelPattern, type KType, type Stmt } from './ir.ts';

/** A one-line summary of a statement for messages (the printer lives in grammar/, which ir/ cannot use). */
export function describeStmt(s: Stmt): string {
  switch (s.kind) {
    case 'let': return `let ${s.name}`;
    case 'local': return `local ${s.name}`;
    case 'assign': return `${s.name} = …`;
    case 'store': return `store ${s.buffer}[…]`;
    case 'loop': return `${s.loopKind === 'serial' ? '' : `${s.loopKind} `}for ${s.var}`;
    case 'if': return 'if';
    case 'atomic': return `${s.result !== undefined ? `let ${s.result} = ` : ''}atomic ${s.op} ${s.buffer}[…]`;
    case 'barrier': return `barrier ${s.scope}`;
    case 'comment': return 'comment';
  }
}

type NameKind = 'size' | 'loop' | 'let' | 'local' | 'result';
interface NameInfo { kind: NameKind; type: KType; varying: boolean; /** parallel/vector nesting depth where defined */ depth: number }

interface Ctx {
  names: Map<string, NameInfo>;
  /** Number of enclosing parallel/vector loops (locals are private to the innermost). */
  depth: number;
  /** The innermost enclosing parallel loop's variable, when there is one. */
  parallelVar: string | undefined;
  /** Why the current position may be reached differently by the iterations of that loop (or undefined). */
  divergent: string | undefined;
  inVector: boolean;
}

class Verifier {
  private readonly buffers = new Map<string, BufferParam>();
  private path: string[] = [];
  private stmtNow: Stmt | undefined;

  constructor(private readonly k: Kernel) {}

  declare(b: BufferParam): void { this.buffers.set(b.name, b); }

  private fail(reason: string): never {
    const where = this.stmtNow ? `statement '${describeStmt(this.stmtNow)}' at ${this.path.join(' > ')}: ` : this.path.length ? `${this.path.join(' > ')}: ` : '';
    throw new TesseraError(`kernel '${this.k.name}': ${where}${reason}`);
  }

  run(): void {
    const k = this.k;
    if (typeof k.name !== 'string' || k.name === '') this.fail('a kernel needs a name');
    const names = new Map<string, NameInfo>();
    for (const s of k.sizes) {
      if (names.has(s.name)) this.fail(`size '${s.name}' is declared twice`);
      names.set(s.name, { kind: 'size', type: INDEX, varying: false, depth: 0 });
    }
    const ctx: Ctx = { names, depth: 0, parallelVar: undefined, divergent: undefined, inVector: false };
    for (const b of k.buffers) {
      this.path = [`buffer ${b.name}`];
      if (this.buffers.has(b.name)) this.fail(`buffer '${b.name}' is declared twice`);
      if (names.has(b.name)) this.fail(`buffer '${b.name}' has the name of a size`);
      if (!KSCALARS.includes(b.elem)) this.fail(`buffer '${b.name}' has an unknown element type '${String(b.elem)}'`);
      if (b.access !== 'read' && b.access !== 'write' && b.access !== 'readwrite') this.fail(`buffer '${b.name}' has an unknown access '${String(b.access)}'`);
      if (b.space !== 'global' && b.space !== 'workgroup') this.fail(`buffer '${b.name}' has an unknown space '${String(b.space)}'`);
      this.buffers.set(b.name, b);
    }
    for (const b of k.buffers) {
      this.path = [`buffer ${b.name}`];
      this.expr(b.size, ctx, 'its size');
      this.index(b.size, 'a buffer size');
      if (hasLoad(b.size)) this.fail(`a buffer size cannot load from a buffer`);
      if (b.space === 'workgroup' && hasVar(b.size)) this.fail(`workgroup buffer '${b.name}' needs a constant size (it is allocated at compile time)`);
    }
    this.path = [];
    this.block(k.body, ctx, 'body');
    if (k.pattern) this.pattern(k.pattern, ctx);
  }

  /** A pattern names buffers of the kernel with the right element types and access, and i32 size expressions. */
  private pattern(p: KernelPattern, ctx: Ctx): void {
    this.path = ['pattern'];
    if (p.kind !== 'matmul') this.fail(`unknown pattern kind '${String(p.kind)}'`);
    const buf = (name: string | undefined, role: string, write: boolean) => {
      const b = name === undefined ? undefined : this.buffers.get(name);
      if (!b) return this.fail(`the pattern's ${role} '${String(name)}' is not a buffer of the kernel`);
      if (b.elem !== p.elem) this.fail(`the pattern's ${role} '${b.name}' holds ${b.elem}, the pattern says ${p.elem}`);
      if (write ? b.access === 'read' : b.access === 'write') this.fail(`the pattern's ${role} '${b.name}' is ${b.access}`);
    };
    buf(p.a, 'a', false);
    buf(p.b, 'b', false);
    buf(p.y, 'y', true);
    if (p.scratch !== undefined) {
      buf(p.scratch, 'scratch', true);
      if (this.buffers.get(p.scratch)!.access !== 'readwrite') this.fail(`the pattern's scratch '${p.scratch}' must be 'readwrite'`);
      if (new Set([p.a, p.b, p.y, p.scratch]).size !== 4) this.fail(`the pattern's scratch '${p.scratch}' is also an operand`);
    }
    if (!KSCALARS.includes(p.acc)) this.fail(`the pattern has an unknown accumulation type '${String(p.acc)}'`);
    for (const f of ['batch', 'm', 'n', 'k', 'aBatchStride', 'bBatchStride'] as const) {
      this.expr(p[f], ctx, `its ${f}`);
      this.index(p[f], `the pattern's ${f}`);
      if (hasLoad(p[f])) this.fail(`the pattern's ${f} cannot load from a buffer`);
    }
    this.path = [];
  }

  private index(e: Expr, what: string): void {
    if (!typesEqual(e.type, INDEX)) this.fail(`${what} must be an i32 scalar, got ${typeName(e.type)}`);
  }

  private type(t: KType, what: string): void {
    if (!t || !KSCALARS.includes(t.elem) || !LANES.includes(t.lanes)) this.fail(`${what} has an invalid type ${JSON.stringify(t)}`);
  }

  private define(ctx: Ctx, name: string, info: Omit<NameInfo, 'depth'>): void {
    if (typeof name !== 'string' || name === '') this.fail(`a definition needs a name`);
    const old = ctx.names.get(name);
    if (old) this.fail(`'${name}' is already defined (${old.kind === 'size' ? 'a size' : `a ${old.kind === 'result' ? 'atomic result' : old.kind}`}) and cannot be redefined while visible`);
    ctx.names.set(name, { ...info, depth: ctx.depth });
  }

  private block(stmts: Stmt[], outer: Ctx, label: string): void {
    const ctx: Ctx = { ...outer, names: new Map(outer.names) };
    if (!Array.isArray(stmts)) this.fail(`${label} is not a list of statements`);
    stmts.forEach((s, i) => {
      this.path.push(`${label}[${i}]`);
      this.stmt(s, ctx);
      this.path.pop();
    });
  }

  /** Checks an expression; returns whether its value may differ between iterations of the innermost parallel loop. */
  expr(e: Expr, ctx: Ctx, what: string): boolean {
    if (!e || typeof e !== 'object') this.fail(`${what} is not an expression`);
    this.type(e.type, `${what} (${e.kind})`);
    const expect = (t: KType | string) => {
      if (typeof t === 'string') this.fail(t);
      if (!typesEqual(t, e.type)) this.fail(`${e.kind}${'op' in e ? ` ${e.op}` : ''} has type ${typeName(e.type)} but its operands give ${typeName(t)}`);
    };
    switch (e.kind) {
      case 'const': {
        const why = constCheck(e.type, e.value);
        if (why) this.fail(`constant: ${why}`);
        return false;
      }
      case 'var': {
        const n = ctx.names.get(e.name);
        if (!n) this.fail(`'${e.name}' is not defined here`);
        if (!typesEqual(n.type, e.type)) this.fail(`'${e.name}' is ${typeName(n.type)} but is used as ${typeName(e.type)}`);
        return n.varying;
      }
      case 'binary': {
        const va = this.expr(e.a, ctx, what), vb = this.expr(e.b, ctx, what);
        expect(binaryType(e.op, e.a.type, e.b.type));
        return va || vb;
      }
      case 'unary': {
        const va = this.expr(e.a, ctx, what);
        expect(unaryType(e.op, e.a.type));
        return va;
      }
      case 'cast': case 'bitcast': {
        const va = this.expr(e.a, ctx, what);
        const why = e.kind === 'cast' ? castCheck(e.type, e.a.type) : bitcastCheck(e.type, e.a.type);
        if (why) this.fail(why);
        return va;
      }
      case 'select': {
        const vs = [this.expr(e.cond, ctx, what), this.expr(e.a, ctx, what), this.expr(e.b, ctx, what)];
        expect(selectType(e.cond.type, e.a.type, e.b.type));
        return vs.some(Boolean);
      }
      case 'load': {
        const b = this.buffers.get(e.buffer);
        if (!b) this.fail(`load from '${e.buffer}', which is not a buffer of this kernel`);
        if (b.access === 'write') this.fail(`load from '${e.buffer}', which is write-only`);
        this.expr(e.index, ctx, 'a load index');
        this.index(e.index, 'a load index');
        if (e.type.elem !== b.elem) this.fail(`load from '${e.buffer}' (${b.elem}) has type ${typeName(e.type)}`);
        return true;
      }
      case 'broadcast': {
        const va = this.expr(e.a, ctx, what);
        if (e.a.type.lanes !== 1 || e.type.lanes === 1 || e.a.type.elem !== e.type.elem) {
          this.fail(`broadcast turns a scalar into a vector of its type, not ${typeName(e.a.type)} into ${typeName(e.type)}`);
        }
        return va;
      }
      case 'extract': {
        const va = this.expr(e.a, ctx, what);
        if (!Number.isInteger(e.lane) || e.lane < 0 || e.lane >= e.a.type.lanes || e.a.type.lanes === 1 || !typesEqual(e.type, { elem: e.a.type.elem, lanes: 1 })) {
          this.fail(`extract of lane ${e.lane} from ${typeName(e.a.type)} cannot give ${typeName(e.type)}`);
        }
        return va;
      }
      case 'reduce_lanes': {
        const va = this.expr(e.a, ctx, what);
        if (e.op !== 'add' && e.op !== 'min' && e.op !== 'max') this.fail(`unknown lane reduction '${String(e.op)}'`);
        if (e.a.type.lanes === 1 || !isNumericElem(e.a.type.elem) || !typesEqual(e.type, { elem: e.a.type.elem, lanes: 1 })) {
          this.fail(`reduce_${e.op} of ${typeName(e.a.type)} cannot give ${typeName(e.type)}`);
        }
        return va;
      }
      default:
        return this.fail(`unknown expression kind '${(e as { kind: string }).kind}'`);
    }
  }

  private stmt(s: Stmt, ctx: Ctx): void {
    const outerStmt = this.stmtNow;
    this.stmtNow = s;
    switch (s.kind) {
      case 'let': {
        const varying = this.expr(s.value, ctx, 'the value');
        this.define(ctx, s.name, { kind: 'let', type: s.value.type, varying });
        break;
      }
      case 'local': {
        this.type(s.type, `local '${s.name}'`);
        this.expr(s.init, ctx, 'the initial value');
        if (!typesEqual(s.type, s.init.type)) this.fail(`local '${s.name}' is ${typeName(s.type)} but its initial value is ${typeName(s.init.type)}`);
        // Locals of the parallel loop's own body may be assigned in divergent flow: varying.
        this.define(ctx, s.name, { kind: 'local', type: s.type, varying: ctx.parallelVar !== undefined });
        break;
      }
      case 'assign': {
        const n = ctx.names.get(s.name);
        if (!n) this.fail(`assignment to '${s.name}', which is not defined here`);
        if (n.kind !== 'local') this.fail(`assignment to '${s.name}', which is a ${n.kind === 'result' ? 'atomic result' : n.kind} (only locals can be assigned)`);
        if (n.depth < ctx.depth) this.fail(`assignment to local '${s.name}' declared outside the enclosing parallel/vector loop (each iteration has its own copy; use a buffer)`);
        this.expr(s.value, ctx, 'the value');
        if (!typesEqual(n.type, s.value.type)) this.fail(`local '${s.name}' is ${typeName(n.type)} but the value is ${typeName(s.value.type)}`);
        break;
      }
      case 'store': {
        const b = this.buffers.get(s.buffer);
        if (!b) this.fail(`store to '${s.buffer}', which is not a buffer of this kernel`);
        if (b.access === 'read') this.fail(`store to '${s.buffer}', which is read-only`);
        this.expr(s.index, ctx, 'the index');
        this.index(s.index, 'a store index');
        this.expr(s.value, ctx, 'the value');
        if (s.value.type.elem !== b.elem) this.fail(`store to '${s.buffer}' (${b.elem}) of a ${typeName(s.value.type)} value`);
        break;
      }
      case 'loop': this.loop(s, ctx); break;
      case 'if': {
        const varying = this.expr(s.cond, ctx, 'the condition');
        if (!typesEqual(s.cond.type, { elem: 'bool', lanes: 1 })) this.fail(`an if condition must be a bool scalar, got ${typeName(s.cond.type)}`);
        const inner: Ctx = { ...ctx, divergent: ctx.divergent ?? (ctx.parallelVar !== undefined && varying ? 'an if whose condition varies' : undefined) };
        this.path.push('if');
        this.block(s.then, inner, 'then');
        this.block(s.else, inner, 'else');
        this.path.pop();
        break;
      }
      case 'atomic': {
        const b = this.buffers.get(s.buffer);
        if (!b) this.fail(`atomic on '${s.buffer}', which is not a buffer of this kernel`);
        if (b.access !== 'readwrite') this.fail(`atomic on '${s.buffer}', which is not 'readwrite'`);
        const ops = ['add', 'sub', 'min', 'max', 'and', 'or', 'xor', 'exchange'];
        if (!ops.includes(s.op)) this.fail(`unknown atomic op '${String(s.op)}'`);
        const intOk = isIntElem(b.elem) && b.elem !== 'i8' && b.elem !== 'u8' && b.elem !== 'i16' && b.elem !== 'u16';
        const floatOk = b.elem === 'f32' && (s.op === 'add' || s.op === 'exchange');
        if (!intOk && !floatOk) this.fail(`atomic ${s.op} is not defined on ${b.elem} (32/64-bit integers; f32 add and exchange)`);
        if (!['relaxed', 'acquire', 'release', 'acq_rel'].includes(s.order)) this.fail(`unknown memory order '${String(s.order)}'`);
        if (s.scope !== 'workgroup' && s.scope !== 'device') this.fail(`unknown memory scope '${String(s.scope)}'`);
        this.expr(s.index, ctx, 'the index');
        this.index(s.index, 'an atomic index');
        this.expr(s.value, ctx, 'the value');
        if (!typesEqual(s.value.type, { elem: b.elem, lanes: 1 })) this.fail(`atomic on '${s.buffer}' (${b.elem}) needs a ${b.elem} scalar, got ${typeName(s.value.type)}`);
        if (s.result !== undefined) this.define(ctx, s.result, { kind: 'result', type: { elem: b.elem, lanes: 1 }, varying: true });
        break;
      }
      case 'barrier': {
        if (s.scope !== 'workgroup' && s.scope !== 'device') this.fail(`unknown memory scope '${String(s.scope)}'`);
        if (ctx.parallelVar !== undefined) {
          if (ctx.inVector) this.fail(`a barrier cannot be inside a vector loop`);
          if (ctx.divergent) this.fail(`a barrier inside ${ctx.divergent}: every iteration of the parallel loop over '${ctx.parallelVar}' must reach it equally often`);
        }
        break;
      }
      case 'comment':
        if (typeof s.text !== 'string') this.fail(`a comment needs text`);
        break;
      default:
        this.fail(`unknown statement kind '${(s as { kind: string }).kind}'`);
    }
    this.stmtNow = outerStmt;
  }

  private loop(s: Extract<Stmt, { kind: 'loop' }>, ctx: Ctx): void {
    if (!['serial', 'parallel', 'vector', 'unroll'].includes(s.loopKind)) this.fail(`unknown loop kind '${String(s.loopKind)}'`);
    if (!Number.isInteger(s.step) || s.step < 1 || s.step > 2 ** 31 - 1) this.fail(`a loop step must be a positive i32, got ${s.step}`);
    const vs = this.expr(s.start, ctx, 'the loop start');
    this.index(s.start, 'a loop start');
    const ve = this.expr(s.end, ctx, 'the loop end');
    this.index(s.end, 'a loop end');
    const boundsVary = ctx.parallelVar !== undefined && (vs || ve);
    let inner: Ctx;
    if (s.loopKind === 'parallel') {
      inner = { names: new Map(ctx.names), depth: ctx.depth + 1, parallelVar: s.var, divergent: undefined, inVector: false };
      // Uniform for the new group: everything defined outside it.
      for (const [k, n] of inner.names) if (n.varying) inner.names.set(k, { ...n, varying: false });
      this.define(inner, s.var, { kind: 'loop', type: INDEX, varying: true });
    } else {
      const vector = s.loopKind === 'vector';
      inner = {
        names: new Map(ctx.names), depth: ctx.depth + (vector ? 1 : 0), parallelVar: ctx.parallelVar,
        divergent: ctx.divergent ?? (boundsVary ? `a ${s.loopKind} loop whose bounds vary` : undefined), inVector: ctx.inVector || vector,
      };
      this.define(inner, s.var, { kind: 'loop', type: INDEX, varying: boundsVary || (vector && ctx.parallelVar !== undefined) });
    }
    this.path.push(`${s.loopKind === 'serial' ? '' : `${s.loopKind} `}for ${s.var}`);
    this.block(s.body, inner, 'body');
    this.path.pop();
  }
}

function hasLoad(e: Expr): boolean {
  switch (e.kind) {
    case 'load': return true;
    case 'const': case 'var': return false;
    case 'binary': return hasLoad(e.a) || hasLoad(e.b);
    case 'select': return hasLoad(e.cond) || hasLoad(e.a) || hasLoad(e.b);
    default: return hasLoad(e.a);
  }
}

function hasVar(e: Expr): boolean {
  switch (e.kind) {
    case 'var': return true;
    case 'const': return false;
    case 'load': return hasVar(e.index);
    case 'binary': return hasVar(e.a) || hasVar(e.b);
    case 'select': return hasVar(e.cond) || hasVar(e.a) || hasVar(e.b);
    default: return hasVar(e.a);
  }
}

/** Throws a TesseraError naming the kernel, the statement and its place when the kernel is malformed. */
export function verifyKernel(k: Kernel): void {
  new Verifier(k).run();
}

/** Checks one expression whose free variables have the given types and which may load from `buffers`. */
export function verifyExpr(e: Expr, vars: Record<string, KType> = {}, buffers: BufferParam[] = []): void {
  const names = new Map<string, NameInfo>(Object.entries(vars).map(([k, type]) => [k, { kind: 'let', type, varying: false, depth: 0 }]));
  const v = new Verifier({ name: '(expression)', buffers, sizes: [], body: [] });
  for (const b of buffers) v.declare(b);
  v.expr(e, { names, depth: 0, parallelVar: undefined, divergent: undefined, inVector: false }, 'the expression');
}

/** The verifier's complaint about a kernel, or undefined when it is well formed. */
export function kernelProblem(k: Kernel): string | undefined {
  try {
    verifyKernel(k);
    return undefined;
  } catch (e) {
    if (e instanceof TesseraError) return e.message;
    throw e;
  }
}
