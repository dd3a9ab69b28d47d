// The kernel verifier: one accepted kernel per rule family and one rejection per rule, each message
// naming the kernel, the statement and its place.
import { describe, expect, it } from 'vitest';
import * as K from '../../ir/kernel/build.ts';
import type { Expr, Kernel, Stmt } from '../../ir/kernel/ir.ts';
import { kernelProblem, verifyExpr, verifyKernel } from '../../ir/kernel/verify.ts';

const a = K.buffer('a', 'f32', K.v('n'), 'read');
const y = K.buffer('y', 'f32', K.v('n'), 'write');
const c = K.buffer('c', 'u32', 4, 'readwrite');
const t = K.buffer('t', 'f32', 64, 'readwrite', 'workgroup');
const kern = (body: Stmt[]): Kernel => K.kernel('k', { buffers: [a, y, c, t], sizes: ['n'], body });
const i = K.v('i'), n = K.v('n');

describe('accepts', () => {
  it('loops, lets, locals, ifs, atomics, barriers in uniform control flow', () => {
    verifyKernel(kern([
      K.local('acc', 'f32', 0),
      K.loop('i', 0, n, (i) => [K.assign('acc', K.add(K.v('acc', 'f32'), K.load(a, i)))]),
      K.parallel('g', 0, 4, (g) => [
        K.local('mine', 'f32', 0),
        K.parallel('l', 0, 16, (l) => [
          K.let_('j', K.add(K.mul(g, 16), l)),
          K.store(t, l, K.v('acc', 'f32')),
          K.barrier('workgroup'),
          K.loop('s', 0, 4, () => [K.if_(K.lt(K.v('n'), 8), [K.barrier()])]), // bounds and condition are uniform
          K.if_(K.lt(K.v('j'), n), [K.store(y, K.v('j'), K.load(t, K.floormod(K.add(l, 1), 16)))]),
        ]),
        K.assign('mine', K.c('f32', 1)),
        K.atomic('add', c, 0, K.c('u32', 1), { result: 'old', order: 'acq_rel' }),
        K.store(y, g, K.cast('f32', K.v('old', 'u32'))),
      ]),
      // Sibling blocks may reuse names.
      K.loop('i', 0, 2, (i) => [K.let_('x', i)]),
      K.comment('done'),
    ]));
  });

  it('a barrier outside every parallel loop', () => {
    verifyKernel(kern([K.if_(K.lt(n, 3), [K.barrier('device')])]));
  });

  it('expressions on their own, with vectors', () => {
    const v = K.load(a, 0, 4);
    verifyExpr(K.reduceLanes('max', K.select(K.lt(v, K.broadcast(K.v('x', 'f32'), 4)), v, K.c({ elem: 'f32', lanes: 4 }, 0))), { x: K.T.f32 }, [a]);
  });
});

describe('rejects', () => {
  const bad = (what: string, body: Stmt[], want: string | RegExp, k: Kernel = kern(body)) => [what, k, want] as const;
  const wrongType = (e: Expr, type: Expr['type']): Expr => ({ ...e, type });
  const cases = [
    bad('an undefined variable', [K.store(y, 0, K.v('x', 'f32'))], "kernel 'k': statement 'store y[…]' at body[0]: 'x' is not defined here"),
    bad('a variable used out of its scope', [K.loop('i', 0, n, [K.let_('x', K.c('f32', 1))]), K.store(y, 0, K.v('x', 'f32'))], /statement 'store y\[…\]' at body\[1\]: 'x' is not defined here/),
    bad('a variable used with another type', [K.let_('x', K.c('f32', 1)), K.store(y, 0, K.cast('f32', K.v('x', 'i32')))], /'x' is f32 but is used as i32/),
    bad('shadowing', [K.loop('i', 0, n, [K.let_('i', K.c('i32', 1))])], /statement 'let i' at body\[0\] > for i > body\[0\]: 'i' is already defined \(a loop\)/),
    bad('redefining a size', [K.let_('n', K.c('i32', 1))], /'n' is already defined \(a size\)/),
    bad('a store to a read-only buffer', [K.store(a, 0, K.c('f32', 1))], "kernel 'k': statement 'store a[…]' at body[0]: store to 'a', which is read-only"),
    bad('a load from a write-only buffer', [K.store(y, 0, K.load(y, 1))], /load from 'y', which is write-only/),
    bad('an undeclared buffer', [K.store(y, 0, K.load({ name: 'w', elem: 'f32' }, 0))], /load from 'w', which is not a buffer of this kernel/),
    bad('a store of another element type', [K.store({ name: 'y', elem: 'i32' }, 0, K.c('i32', 1))], /store to 'y' \(f32\) of a i32 value/),
    bad('a non-i32 index', [{ kind: 'store', buffer: 'y', index: K.c('i64', 0n), value: K.c('f32', 1) }], /a store index must be an i32 scalar, got i64/),
    bad('a binary node with operands of two types', [K.store(y, 0, { kind: 'binary', type: K.T.f32, op: 'add', a: K.c('f32', 1), b: K.c('f64', 1) })], /add needs operands of one type, got f32 and f64/),
    bad('a node whose type disagrees with its operands', [K.store(y, 0, wrongType(K.add(K.c('f32', 1), K.c('f32', 2)), { elem: 'f32', lanes: 4 }))], /binary add has type f32x4 but its operands give f32/),
    bad('a comparison typed as a number', [K.let_('b', wrongType(K.lt(i, 1), K.T.i32))], /'i' is not defined here|has type i32 but its operands give bool/),
    bad('a constant out of range', [K.let_('x', { kind: 'const', type: K.T.u8, value: 256 })], /constant: 256 is not a u8 value/),
    bad('an f32 constant that is not an f32', [K.let_('x', { kind: 'const', type: K.T.f32, value: 0.1 })], /0.1 is not exactly representable in f32/),
    bad('an assignment to a let', [K.let_('x', K.c('f32', 1)), K.assign('x', K.c('f32', 2))], /assignment to 'x', which is a let \(only locals can be assigned\)/),
    bad('an assignment to a loop variable', [K.loop('i', 0, n, [K.assign('i', K.c('i32', 2))])], /which is a loop \(only locals can be assigned\)/),
    bad('an assignment of another type', [K.local('x', 'f32', 0), K.assign('x', K.c('i32', 2))], /local 'x' is f32 but the value is i32/),
    bad('an assignment to an outer local inside a parallel loop', [K.local('x', 'f32', 0), K.parallel('i', 0, n, [K.assign('x', K.c('f32', 2))])], /assignment to local 'x' declared outside the enclosing parallel\/vector loop/),
    bad('a loop with a float bound', [{ kind: 'loop', var: 'i', start: K.c('i32', 0), end: K.c('f32', 4), step: 1, loopKind: 'serial', body: [] }], /a loop end must be an i32 scalar, got f32/),
    bad('a loop with step 0', [{ ...K.loop('i', 0, 4, []), step: 0 } as Stmt], /a loop step must be a positive i32, got 0/),
    bad('an if on a number', [{ kind: 'if', cond: K.c('i32', 1), then: [], else: [] }], /an if condition must be a bool scalar, got i32/),
    bad('an atomic on a read-only buffer', [K.atomic('add', a, 0, K.c('f32', 1))], /atomic on 'a', which is not 'readwrite'/),
    bad('an atomic min on f32', [K.atomic('min', K.buffer('z', 'f32', 4, 'readwrite'), 0, K.c('f32', 1))], /atomic min is not defined on f32/,
      K.kernel('k', { buffers: [K.buffer('z', 'f32', 4, 'readwrite')], body: [K.atomic('min', K.buffer('z', 'f32', 4, 'readwrite'), 0, K.c('f32', 1))] })),
    bad('a barrier under a varying if', [K.parallel('i', 0, n, (i) => [K.if_(K.lt(i, 2), [K.barrier()])])],
      "kernel 'k': statement 'barrier workgroup' at body[0] > parallel for i > body[0] > if > then[0]: a barrier inside an if whose condition varies: every iteration of the parallel loop over 'i' must reach it equally often"),
    bad('a barrier in a loop whose bounds vary', [K.parallel('i', 0, n, (i) => [K.loop('s', 0, i, [K.barrier()])])], /a barrier inside a serial loop whose bounds vary/),
    bad('a barrier under a condition on a loaded value', [K.parallel('i', 0, n, () => [K.let_('x', K.load(a, 0)), K.if_(K.gt(K.v('x', 'f32'), 0), [K.barrier()])])], /a barrier inside an if whose condition varies/),
    bad('a barrier under a condition on a local of the loop', [K.parallel('i', 0, n, () => [K.local('m', 'i32', 0), K.if_(K.eq(K.v('m'), 0), [K.barrier()])])], /a barrier inside an if whose condition varies/),
    bad('a barrier in a vector loop', [K.parallel('i', 0, n, () => [K.loop('l', 0, 4, [K.barrier()], { kind: 'vector' })])], /a barrier cannot be inside a vector loop/),
    bad('a workgroup buffer of runtime size', [], /workgroup buffer 's' needs a constant size/, K.kernel('k', { buffers: [K.buffer('s', 'f32', K.v('n'), 'readwrite', 'workgroup')], sizes: ['n'], body: [] })),
    bad('a buffer declared twice', [], /buffer 'a' is declared twice/, K.kernel('k', { buffers: [a, a], sizes: ['n'], body: [] })),
    bad('a buffer size that loads', [], /a buffer size cannot load from a buffer/, K.kernel('k', { buffers: [K.buffer('b', 'i32', 4, 'read'), K.buffer('d', 'f32', K.load({ name: 'b', elem: 'i32' }, 0), 'read')], body: [] })),
    bad('a bitcast that changes the bit count', [K.let_('x', { kind: 'bitcast', type: K.T.u16, a: K.c('f32', 1) })], /bitcast keeps the bit count: f32 has 32 bits, u16 16/),
    bad('an extract beyond the lanes', [K.let_('x', { kind: 'extract', type: K.T.f32, a: K.load(a, 0, 4), lane: 4 })], /extract of lane 4 from f32x4 cannot give f32/),
  ];
  it.each(cases)('%s', (_, k, want) => {
    const problem = kernelProblem(k);
    expect(problem).toBeDefined();
    if (typeof want === 'string') expect(problem).toBe(want);
    else expect(problem).toMatch(want);
  });
});
