// Properties over random kernels (test/kernel/random-kernel.ts):
// (2) they round-trip through the printer and parser exactly (and print(parse(t)) is a fixed point), and
//     the interpreter gives bit-identical buffers before and after simplifyKernel;
// (3) the verifier accepts every generated (and simplified) kernel and rejects targeted mutations: an
//     undefined variable, a store to a read-only buffer, operands of different types, an assignment to a
//     let, a barrier under a condition that varies across a parallel loop.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseKernel } from '../../grammar/kernel-parser.ts';
import { printKernel } from '../../grammar/kernel-printer.ts';
import { TesseraError } from '../../ir/errors.ts';
import * as K from '../../ir/kernel/build.ts';
import { kernelDiff } from '../../ir/kernel/equal.ts';
import { interpretKernel, type BufferData } from '../../ir/kernel/interpret.ts';
import type { Expr, Kernel, Stmt } from '../../ir/kernel/ir.ts';
import { simplifyKernel } from '../../ir/kernel/simplify.ts';
import { kernelProblem, verifyKernel } from '../../ir/kernel/verify.ts';
import { buffersDiff, cloneBuffers, RandomKernel } from '../../compiler/fuzz/kernel-programs.ts';

function roundTrip(k: Kernel): void {
  const text = printKernel(k);
  const back = parseKernel(text);
  const diff = kernelDiff(k, back);
  if (diff) throw new Error(`parse(print(k)) differs: ${diff}\n--- text ---\n${text}`);
  expect(printKernel(back)).toBe(text);
}

function run(k: Kernel, buffers: Record<string, BufferData>, sizes: Record<string, number>): Record<string, BufferData> | string {
  const bufs = cloneBuffers(buffers);
  try {
    interpretKernel(k, { buffers: bufs, sizes });
    return bufs;
  } catch (e) {
    if (e instanceof TesseraError) return e.message;
    throw e;
  }
}

describe('random kernels', () => {
  it('round-trip through text and evaluate identically after simplifyKernel (300 runs)', () => {
    let ran = 0;
    fc.assert(fc.property(fc.gen(), (g) => {
      const { kernel, buffers, sizes } = new RandomKernel(g).build();
      verifyKernel(kernel);
      roundTrip(kernel);
      const simple = simplifyKernel(kernel);
      const problem = kernelProblem(simple);
      if (problem) throw new Error(`the simplified kernel does not verify: ${problem}\n--- before ---\n${printKernel(kernel)}\n--- after ---\n${printKernel(simple)}`);
      roundTrip(simple);
      const before = run(kernel, buffers, sizes);
      if (typeof before === 'string') return; // e.g. an integer division by zero: any result is allowed after
      const after = run(simple, buffers, sizes);
      const diff = typeof after === 'string' ? `the simplified kernel fails: ${after}` : buffersDiff(before, after);
      if (diff) throw new Error(`${diff}\n  sizes ${JSON.stringify(sizes)}\n--- before ---\n${printKernel(kernel)}\n--- after ---\n${printKernel(simple)}`);
      ran++;
    }), { numRuns: 300 });
    expect(ran).toBeGreaterThan(200);
  });
});

// ---------------------------------------------------------------- targeted mutations

interface Slot { expr: Expr; set(e: Expr): void }

/** Every expression position of a kernel body, with a way to replace it. */
function exprSlots(stmts: Stmt[]): Slot[] {
  const out: Slot[] = [];
  const visit = (e: Expr, set: (x: Expr) => void) => {
    out.push({ expr: e, set });
    switch (e.kind) {
      case 'binary': visit(e.a, (x) => { e.a = x; }); visit(e.b, (x) => { e.b = x; }); break;
      case 'select': visit(e.cond, (x) => { e.cond = x; }); visit(e.a, (x) => { e.a = x; }); visit(e.b, (x) => { e.b = x; }); break;
      case 'load': visit(e.index, (x) => { e.index = x; }); break;
      case 'const': case 'var': break;
      default: visit(e.a, (x) => { (e as { a: Expr }).a = x; });
    }
  };
  for (const s of stmts) {
    switch (s.kind) {
      case 'let': case 'assign': visit(s.value, (x) => { s.value = x; }); break;
      case 'local': visit(s.init, (x) => { s.init = x; }); break;
      case 'store': case 'atomic': visit(s.index, (x) => { s.index = x; }); visit(s.value, (x) => { s.value = x; }); break;
      case 'loop': visit(s.start, (x) => { s.start = x; }); visit(s.end, (x) => { s.end = x; }); out.push(...exprSlots(s.body)); break;
      case 'if': visit(s.cond, (x) => { s.cond = x; }); out.push(...exprSlots(s.then), ...exprSlots(s.else)); break;
      default: break;
    }
  }
  return out;
}

function allStmts(stmts: Stmt[]): { s: Stmt; list: Stmt[]; at: number }[] {
  const out: { s: Stmt; list: Stmt[]; at: number }[] = [];
  stmts.forEach((s, at) => {
    out.push({ s, list: stmts, at });
    if (s.kind === 'loop') out.push(...allStmts(s.body));
    if (s.kind === 'if') out.push(...allStmts(s.then), ...allStmts(s.else));
  });
  return out;
}

function rejects(k: Kernel, pattern: RegExp): void {
  const problem = kernelProblem(k);
  if (!problem) throw new Error(`the verifier accepted a mutated kernel (expected ${pattern}):\n${printKernel(k)}`);
  expect(problem).toMatch(pattern);
  expect(problem).toMatch(/^kernel 'random': /);
}

describe('the verifier on random kernels', () => {
  it('accepts every generated kernel and rejects targeted mutations (250 runs)', () => {
    fc.assert(fc.property(fc.gen(), fc.nat(), (g, choice) => {
      const { kernel } = new RandomKernel(g).build();
      verifyKernel(kernel);
      const fresh = () => structuredClone(kernel);

      // An undefined variable, at a random variable use (or a new statement when there is none).
      let k = fresh();
      const uses = exprSlots(k.body).filter((x) => x.expr.kind === 'var');
      if (uses.length > 0) {
        const u = uses[choice % uses.length]!;
        u.set({ ...u.expr, name: 'nowhere' } as Expr);
      } else {
        k.body.push(K.store(k.buffers.find((b) => b.name === 'y')!, 0, K.v('nowhere')));
      }
      rejects(k, /'nowhere' is not defined here/);

      // A store to a read-only buffer of the same element type.
      k = fresh();
      const stores = allStmts(k.body).filter((x) => x.s.kind === 'store');
      const st = stores[choice % stores.length]!.s as Extract<Stmt, { kind: 'store' }>;
      const readOnly: Record<string, string> = { i32: 'a', f32: 'b', i64: 'd' };
      st.buffer = readOnly[k.buffers.find((b) => b.name === st.buffer)!.elem]!;
      rejects(k, /store to '[abd]', which is read-only/);

      // Operands of different types under an unchanged node.
      k = fresh();
      const bins = exprSlots(k.body).filter((x) => x.expr.kind === 'binary' && x.expr.a.type.lanes === 1);
      if (bins.length > 0) {
        const b = bins[choice % bins.length]!.expr as Extract<Expr, { kind: 'binary' }>;
        const other = b.a.type.elem === 'i64' ? 'i32' : 'i64';
        b.a = { kind: 'cast', type: { elem: other, lanes: 1 }, a: b.a };
        rejects(k, /needs operands of one type/);
      }

      // An assignment to a let.
      k = fresh();
      const lets = allStmts(k.body).filter((x) => x.s.kind === 'let');
      if (lets.length > 0) {
        const { s, list, at } = lets[choice % lets.length]!;
        const l = s as Extract<Stmt, { kind: 'let' }>;
        list.splice(at + 1, 0, K.assign(l.name, l.value));
        rejects(k, /only locals can be assigned/);
      }

      // A barrier under a condition on the parallel loop's variable.
      k = fresh();
      k.body.push(K.parallel('p', 0, 4, (p) => [K.if_(K.lt(p, 2), [K.barrier()])]));
      rejects(k, /a barrier inside an if whose condition varies: every iteration of the parallel loop over 'p' must reach it/);
    }), { numRuns: 250 });
  });
});
