// The one printer of the kernel IR; grammar/kernel-parser.ts reads its output back (parse(print(k)) is
// structurally equal to k, and print(parse(text)) is a fixed point). See kernel-parser.ts for the syntax.
//
// Lossless by construction: integers print exactly (i64/u64 as bigints), floats print the shortest decimal
// that rounds back to the same value of their type, a literal carries `:type` exactly when the parser
// would not infer it (inferLiteral), and parentheses follow the precedence table of kernel-syntax.ts.
import { roundToElem, typeName } from '../ir/kernel/build.ts';
import type { BufferParam, Expr, Kernel, KernelPattern, KType, Stmt } from '../ir/kernel/ir.ts';

const INDEX_T: KType = { elem: 'i32', lanes: 1 };
import { binaryPrec, inferLiteral, INFIX, literalKind, PREC } from './kernel-syntax.ts';
import { printName } from './lexer.ts';

const sameType = (a: KType, b: KType) => a.elem === b.elem && a.lanes === b.lanes;

/** The shortest decimal that reads back as v after rounding to the float type; always float syntax. */
function floatText(v: number, t: KType): string {
  if (Number.isNaN(v)) return 'nan';
  if (v === Infinity) return 'inf';
  if (v === -Infinity) return '-inf';
  if (Object.is(v, -0)) return '-0.0';
  let s = String(v);
  if (t.elem !== 'f64') {
    for (let p = 1; p <= 17; p++) {
      const d = Number(v.toPrecision(p));
      if (roundToElem(t.elem, d) === v) { s = String(d); break; }
    }
  }
  return /^-?[0-9]+$/.test(s) ? `${s}.0` : s;
}

interface Printed { text: string; prec: number }

class KernelPrinter {
  private readonly buffers = new Map<string, BufferParam>();

  constructor(k: Kernel) {
    for (const b of k.buffers) this.buffers.set(b.name, b);
  }

  /** A constant as a literal; `:type` unless inferLiteral(kind, expected) gives its type. */
  private literal(e: Extract<Expr, { kind: 'const' }>, expected: KType | undefined): string {
    const kind = literalKind(e.type.elem);
    let text: string;
    if (kind === 'bool') text = e.value ? 'true' : 'false';
    else if (kind === 'int') text = String(e.value);
    else text = floatText(e.value as number, e.type);
    return sameType(inferLiteral(kind, expected), e.type) ? text : `${text}:${typeName(e.type)}`;
  }

  expr(e: Expr, expected?: KType): Printed {
    const atom = (text: string): Printed => ({ text, prec: PREC.atom });
    switch (e.kind) {
      case 'const': return atom(this.literal(e, expected));
      case 'var': return atom(printName(e.name));
      case 'binary': {
        const [a, b] = this.pair(e.a, e.b);
        const sym = INFIX[e.op];
        if (!sym) return atom(`${e.op}(${a.text}, ${b.text})`);
        const p = binaryPrec(e.op);
        // Left-associative; comparisons do not chain at all.
        const left = a.prec < p || (p === PREC.cmp && a.prec <= p) ? `(${a.text})` : a.text;
        const right = b.prec <= p ? `(${b.text})` : b.text;
        return { text: `${left} ${sym} ${right}`, prec: p };
      }
      case 'unary': {
        const a = this.expr(e.a);
        if (e.op === 'neg' || e.op === 'not') {
          // `-3` would read back as the constant −3: a negated constant keeps its parentheses.
          const inner = a.prec < PREC.unary || (e.op === 'neg' && e.a.kind === 'const') ? `(${a.text})` : a.text;
          return { text: `${e.op === 'neg' ? '-' : '!'}${inner}`, prec: PREC.unary };
        }
        return atom(`${e.op}(${a.text})`);
      }
      case 'cast': case 'bitcast': return atom(`${e.kind}<${typeName(e.type)}>(${this.expr(e.a).text})`);
      case 'broadcast': return atom(`broadcast<${typeName(e.type)}>(${this.expr(e.a, { elem: e.type.elem, lanes: 1 }).text})`);
      case 'select': {
        const [a, b] = this.pair(e.a, e.b);
        return atom(`select(${this.expr(e.cond).text}, ${a.text}, ${b.text})`);
      }
      case 'load': {
        const t = e.type.lanes === 1 ? '' : `<${typeName(e.type)}>`;
        return atom(`load${t} ${printName(e.buffer)}[${this.expr(e.index).text}]`);
      }
      case 'extract': return atom(`extract(${this.expr(e.a).text}, ${e.lane})`);
      case 'reduce_lanes': return atom(`reduce_${e.op}(${this.expr(e.a).text})`);
    }
  }

  /** Two operands of one type, printed the way the parser infers them (see KernelBuilder.pair). */
  private pair(a: Expr, b: Expr): [Printed, Printed] {
    if (a.kind === 'const' && b.kind !== 'const') return [this.expr(a, b.type), this.expr(b)];
    const pa = this.expr(a);
    const bareA = a.kind === 'const' && sameType(inferLiteral(literalKind(a.type.elem), undefined), a.type);
    return [pa, this.expr(b, bareA ? undefined : a.type)];
  }

  private stmt(s: Stmt, indent: string): string {
    const x = (e: Expr, t?: KType) => this.expr(e, t).text;
    const elemOf = (buf: string): KType | undefined => {
      const b = this.buffers.get(buf);
      return b ? { elem: b.elem, lanes: 1 } : undefined;
    };
    switch (s.kind) {
      case 'let': return `${indent}let ${printName(s.name)} = ${x(s.value)};`;
      case 'local': return `${indent}local ${printName(s.name)}: ${typeName(s.type)} = ${x(s.init, s.type)};`;
      case 'assign': return `${indent}${printName(s.name)} = ${x(s.value, this.localTypes.get(s.name))};`;
      case 'store': return `${indent}store ${printName(s.buffer)}[${x(s.index)}] = ${x(s.value, elemOf(s.buffer))};`;
      case 'loop': {
        const kind = s.loopKind === 'serial' ? '' : `${s.loopKind} `;
        const a = this.expr(s.start), b = this.expr(s.end);
        const range = a.prec === PREC.atom ? `${a.text}..${b.text}` : `${a.text} .. ${b.text}`;
        const step = s.step === 1 ? '' : ` step ${s.step}`;
        return `${indent}${kind}for ${printName(s.var)} in ${range}${step} ${this.blockWithLocals(s.body, indent)}`;
      }
      case 'if': {
        let text = `${indent}if ${x(s.cond)} ${this.blockWithLocals(s.then, indent)}`;
        if (s.else.length === 1 && s.else[0]!.kind === 'if') text += ` else ${this.stmt(s.else[0]!, indent).slice(indent.length)}`;
        else if (s.else.length > 0) text += ` else ${this.blockWithLocals(s.else, indent)}`;
        return text;
      }
      case 'atomic': {
        const head = s.result !== undefined ? `let ${printName(s.result)} = ` : '';
        return `${indent}${head}atomic ${s.op} ${printName(s.buffer)}[${x(s.index)}], ${x(s.value, elemOf(s.buffer))} ${s.order} ${s.scope};`;
      }
      case 'barrier': return `${indent}barrier ${s.scope};`;
      case 'comment': return `${indent}comment ${JSON.stringify(s.text)};`;
    }
  }

  /** Types of the locals visible while printing (assignments infer their literal from the local). */
  private localTypes = new Map<string, KType>();

  private blockWithLocals(stmts: Stmt[], indent: string): string {
    if (stmts.length === 0) return '{}';
    const lines: string[] = [];
    const saved = new Map(this.localTypes);
    for (const s of stmts) {
      if (s.kind === 'local') this.localTypes.set(s.name, s.type);
      lines.push(this.stmt(s, `${indent}  `));
    }
    this.localTypes = saved;
    return `{\n${lines.join('\n')}\n${indent}}`;
  }

  kernel(k: Kernel): string {
    const bufs = k.buffers.map((b) => {
      const space = b.space === 'global' ? '' : ` ${b.space}`;
      return `buf ${b.elem} ${printName(b.name)}[${this.expr(b.size).text}] ${b.access}${space}`;
    });
    const sizes = k.sizes.length > 0 ? `size ${k.sizes.map((s) => printName(s.name)).join(', ')}` : '';
    const params = bufs.length > 0 ? `${bufs.join(', ')}${sizes ? `; ${sizes}` : ''}` : sizes;
    this.localTypes = new Map();
    return `kernel ${printName(k.name)}(${params}) ${k.pattern ? `${this.pattern(k.pattern)} ` : ''}${this.blockWithLocals(k.body, '')}\n`;
  }

  /** `matmul {a: a, b: b, y: y, …}`; grammar/kernel-build.ts reads it back. */
  private pattern(p: KernelPattern): string {
    const fields: [string, string][] = [['a', printName(p.a)], ['b', printName(p.b)], ['y', printName(p.y)]];
    if (p.scratch !== undefined) fields.push(['scratch', printName(p.scratch)]);
    for (const [f, e] of [['batch', p.batch], ['m', p.m], ['n', p.n], ['k', p.k], ['a_batch_stride', p.aBatchStride], ['b_batch_stride', p.bBatchStride]] as const) {
      fields.push([f, this.expr(e, INDEX_T).text]);
    }
    fields.push(['trans_a', String(p.transA)], ['trans_b', String(p.transB)], ['elem', p.elem], ['acc', p.acc]);
    return `${p.kind} {${fields.map(([f, x]) => `${f}: ${x}`).join(', ')}}`;
  }
}

/** The kernel as text (ends with a newline). */
export function printKernel(k: Kernel): string {
  return new KernelPrinter(k).kernel(k);
}

/** Several kernels, separated by a blank line; parseKernels reads them back. */
export function printKernels(ks: Kernel[]): string {
  return ks.map(printKernel).join('\n');
}

/** One expression as kernel-IR text (for messages and tests; buffer-typed literals need the kernel). */
export function printExpr(e: Expr): string {
  return new KernelPrinter({ name: '', buffers: [], sizes: [], body: [] }).expr(e).text;
}
