// Recurrent ops: RNN, GRU, LSTM (directions, sequence_lens, initial states, peepholes, clip,
// linear_before_reset, input_forget, custom activations, layout 0/1), one kernel per node.
//
// The (direction, batch) pairs are independent: the parallel loop. Each runs the time steps serially and
// keeps its state in its own slice of scratch buffers. A step has phases so that no value is read after
// it is overwritten: (A) every gate's pre-activation from the input and the *previous* hidden state,
// (B, GRU only) the candidate gate, which needs the reset gate first, (C) the new state per hidden unit.
// Positions past a sequence's length are written with zeros (as the reference leaves them), and a
// zero-length sequence ends with zero states.
import { TesseraError } from '../../../ir/errors.ts';
import {
  abs, add, assign, c, div, ge, gt, if_, let_, load, local, loop, lt, max, min, mul, select, store, sub, unary, v,
  type BufferRef,
} from '../../../ir/kernel/build.ts';
import type { Expr, Stmt } from '../../../ir/kernel/ir.ts';
import type { KernelBuilder } from '../context.ts';
import { ci, iadd, imul, isub } from '../index-math.ts';
import { computeElem, nest, to, widen } from '../loops.ts';
import type { NodeLowering, OpLowering } from '../node.ts';
import { expm1, log1p } from './elementwise.ts';

type Kind = 'RNN' | 'GRU' | 'LSTM';
const GATES: Record<Kind, number> = { RNN: 1, GRU: 3, LSTM: 4 };
const DEFAULT_ACTS: Record<Kind, string[]> = { RNN: ['Tanh'], GRU: ['Sigmoid', 'Tanh'], LSTM: ['Sigmoid', 'Tanh', 'Tanh'] };

type Act = (x: Expr) => Expr;

const ACT_DEFAULTS: Record<string, [boolean, boolean, number, number]> = {
  // usesAlpha, usesBeta, alpha, beta (the standalone ops' defaults)
  relu: [false, false, 0, 0], tanh: [false, false, 0, 0], sigmoid: [false, false, 0, 0], affine: [true, true, 1, 0],
  leakyrelu: [true, false, 0.01, 0], thresholdedrelu: [true, false, 1, 0], scaledtanh: [true, true, 1, 1],
  hardsigmoid: [true, true, 0.2, 0.5], elu: [true, false, 1, 0], softsign: [false, false, 0, 0], softplus: [false, false, 0, 0],
};

function activation(name: string, a: number, b: number): Act {
  const k = (x: Expr, n: number) => c(x.type, n);
  switch (name) {
    case 'relu': return (x) => select(gt(x, k(x, 0)), x, k(x, 0));
    case 'tanh': return (x) => unary('tanh', x);
    case 'sigmoid': return (x) => div(k(x, 1), add(k(x, 1), unary('exp', sub(k(x, 0), x))));
    case 'affine': return (x) => add(mul(k(x, a), x), k(x, b));
    case 'leakyrelu': return (x) => select(ge(x, k(x, 0)), x, mul(k(x, a), x));
    case 'thresholdedrelu': return (x) => select(ge(x, k(x, a)), x, k(x, 0));
    case 'scaledtanh': return (x) => mul(k(x, a), unary('tanh', mul(k(x, b), x)));
    case 'hardsigmoid': return (x) => max(k(x, 0), min(k(x, 1), add(mul(k(x, a), x), k(x, b))));
    case 'elu': return (x) => select(ge(x, k(x, 0)), x, mul(k(x, a), expm1(x)));
    case 'softsign': return (x) => div(x, add(k(x, 1), abs(x)));
    case 'softplus': return (x) => select(gt(x, k(x, 0)), add(x, log1p(unary('exp', sub(k(x, 0), x)))), log1p(unary('exp', x)));
    default: throw new TesseraError(`unknown activation '${name}'`);
  }
}

/** Per-direction activation lists; activation_alpha/beta are consumed in order by the functions that take them. */
function activations(n: NodeLowering, kind: Kind, D: number): Act[][] {
  const per = DEFAULT_ACTS[kind].length;
  let list = n.attrs.strings('activations') ?? [];
  if (list.length === 0) list = Array.from({ length: D }, () => DEFAULT_ACTS[kind]).flat();
  else if (list.length === per && D === 2) list = [...list, ...list];
  else if (list.length === 2 * per && D === 1) list = list.slice(0, per);
  if (list.length !== per * D) throw new TesseraError(`${kind} expects ${per * D} activations, got ${list.length}`);
  const alphas = n.attrs.floats('activation_alpha') ?? [], betas = n.attrs.floats('activation_beta') ?? [];
  let ai = 0, bi = 0;
  const acts = list.map((name) => {
    const spec = ACT_DEFAULTS[name.toLowerCase()];
    if (!spec) throw new TesseraError(`unknown activation '${name}'`);
    const a = spec[0] && ai < alphas.length ? alphas[ai++]! : spec[2];
    const b = spec[1] && bi < betas.length ? betas[bi++]! : spec[3];
    return activation(name.toLowerCase(), a, b);
  });
  return Array.from({ length: D }, (_, d) => acts.slice(d * per, (d + 1) * per));
}

function lowerRecurrent(kind: Kind): OpLowering {
  return (n) => {
    const L = n.L;
    const X = n.input(0), W = n.input(1), R = n.input(2);
    const B = n.optInput(3), lensIn = n.optInput(4), h0 = n.optInput(5);
    const c0 = kind === 'LSTM' ? n.optInput(6) : undefined, P = kind === 'LSTM' ? n.optInput(7) : undefined;
    const direction = n.attrs.has('direction') ? n.attrs.string('direction') : 'forward';
    if (!['forward', 'reverse', 'bidirectional'].includes(direction)) throw new TesseraError(`unknown direction '${direction}'`);
    const D = direction === 'bidirectional' ? 2 : 1;
    const layout = n.opset >= 14 ? n.attrs.int('layout', 0) : 0;
    const [seq, batch, I] = layout === 0 ? [X.shape[0]!, X.shape[1]!, X.shape[2]!] : [X.shape[1]!, X.shape[0]!, X.shape[2]!];
    const H = n.attrs.has('hidden_size') ? ci(n.attrs.int('hidden_size')) : R.shape[2]!;
    const G = GATES[kind];
    const GH = L.dim(imul(G, H));
    const acts = activations(n, kind, D);
    const clip = n.attrs.has('clip') ? n.attrs.float('clip') : undefined;
    const lbr = kind === 'GRU' && n.attrs.int('linear_before_reset', 0) !== 0;
    const inputForget = kind === 'LSTM' && n.attrs.int('input_forget', 0) !== 0;
    const ce = computeElem(X.dtype);
    const dtype = X.dtype;
    const Dd = ci(D);

    const yShape = layout === 0 ? [seq, Dd, batch, H] : [batch, seq, Dd, H];
    const sShape = layout === 0 ? [Dd, batch, H] : [batch, Dd, H];
    const Y = L.temp(dtype, yShape), Yh = L.temp(dtype, sShape), Yc = kind === 'LSTM' ? L.temp(dtype, sShape) : undefined;
    const pairs = [Dd, batch];
    const hs = L.temp(ce, [Dd, batch, H], 'rnn_h'), cs = L.temp(ce, [Dd, batch, H], 'rnn_c');
    const gs = L.temp(ce, [Dd, batch, GH], 'rnn_gates'), tmp = L.temp(ce, [Dd, batch, H], 'rnn_tmp');

    const kb: KernelBuilder = L.kernel();
    const xb = kb.input(X, 'x'), wb = kb.input(W, 'w'), rb = kb.input(R, 'r');
    const bb = B ? kb.input(B, 'bias') : undefined, lb = lensIn ? kb.input(lensIn, 'lens') : undefined;
    const h0b = h0 ? kb.input(h0, 'h0') : undefined, c0b = c0 ? kb.input(c0, 'c0') : undefined, pb = P ? kb.input(P, 'p') : undefined;
    const yb = kb.output(Y, 'y'), yhb = kb.output(Yh, 'y_h'), ycb = Yc ? kb.output(Yc, 'y_c') : undefined;
    const H_ = kb.inout(hs, 'h'), C_ = kb.inout(cs, 'cstate'), G_ = kb.inout(gs, 'gates'), T_ = kb.inout(tmp, 'tmp');

    const ld = (b: BufferRef, at: Expr) => widen(load(b, at));
    const k0 = c(ce, 0);
    const clipE = (x: Expr) => (clip === undefined ? x : min(max(x, c(ce, -clip)), c(ce, clip)));

    const body = nest(kb, pairs, ([d, b]) => {
      const reverse = direction === 'reverse' ? ci(1) : direction === 'bidirectional' ? d! : ci(0);
      const isRev = kb.fresh('rev');
      const slice = (len: Expr) => imul(iadd(imul(d!, batch), b!), len);
      const hAt = (j: Expr) => iadd(slice(H), j);
      const gAt = (nn: Expr) => iadd(slice(GH), nn);
      const stAt = (j: Expr) => (layout === 0 ? iadd(imul(iadd(imul(d!, batch), b!), H), j) : iadd(imul(iadd(imul(b!, Dd), d!), H), j));
      const xAt = (t: Expr, kk: Expr) => (layout === 0 ? iadd(imul(iadd(imul(t, batch), b!), I), kk) : iadd(imul(iadd(imul(b!, seq), t), I), kk));
      const yAt = (t: Expr, j: Expr) => (layout === 0 ? iadd(imul(iadd(imul(iadd(imul(t, Dd), d!), batch), b!), H), j)
        : iadd(imul(iadd(imul(iadd(imul(b!, seq), t), Dd), d!), H), j));
      const wAt = (nn: Expr, kk: Expr) => iadd(imul(iadd(imul(d!, GH), nn), I), kk);
      const rAt = (nn: Expr, j: Expr) => iadd(imul(iadd(imul(d!, GH), nn), H), j);
      const biasW = (nn: Expr) => (bb ? ld(bb, iadd(imul(d!, imul(GH, 2)), nn)) : k0);
      const biasR = (nn: Expr) => (bb ? ld(bb, iadd(iadd(imul(d!, imul(GH, 2)), GH), nn)) : k0);
      const act = acts;
      const actOf = (i: number, x: Expr) => (D === 1 ? act[0]![i]!(x) : select(lt(d!, 1), act[0]![i]!(x), act[1]![i]!(x)));
      const len = kb.fresh('len'), s = kb.fresh('s'), t = kb.fresh('t');
      const LEN = v(len), S = v(s), T = v(t);

      /** acc = bias + Σ_k W[n,k]·x[t,k] (+ Σ_j R[n,j]·h[j] when withR), stored to gates[n]. */
      const preact = (from: number, count: Expr, withR: boolean, rBias: boolean): Stmt => {
        const nn = kb.fresh('n'), kk = kb.fresh('k'), jj = kb.fresh('j'), acc = kb.fresh('acc');
        const N = iadd(imul(from, H), v(nn));
        return loop(nn, 0, count, [
          local(acc, ce, rBias ? add(biasW(N), biasR(N)) : biasW(N)),
          loop(kk, 0, I, [assign(acc, add(v(acc, ce), mul(ld(wb, wAt(N, v(kk))), ld(xb, xAt(T, v(kk))))))]),
          ...(withR ? [loop(jj, 0, H, [assign(acc, add(v(acc, ce), mul(ld(rb, rAt(N, v(jj))), load(H_, hAt(v(jj))))))])] : []),
          store(G_, gAt(N), v(acc, ce)),
        ]);
      };
      const perUnit = (f: (j: Expr) => Stmt[]): Stmt => { const jj = kb.fresh('j'); return loop(jj, 0, H, f(v(jj))); };
      const gate = (blk: number, j: Expr) => load(G_, gAt(iadd(imul(blk, H), j)));

      const step: Stmt[] = [];
      if (kind === 'RNN') {
        step.push(preact(0, H, true, true));
        step.push(perUnit((j) => [store(H_, hAt(j), actOf(0, clipE(gate(0, j))))]));
      } else if (kind === 'GRU') {
        step.push(preact(0, imul(2, H), true, true));
        step.push(perUnit((j) => [
          store(G_, gAt(j), actOf(0, clipE(gate(0, j)))),
          store(G_, gAt(iadd(H, j)), actOf(0, clipE(gate(1, j)))),
        ]));
        if (lbr) {
          // h̃ = g(x·Wh + Wbh + r ⊙ (h·Rhᵀ + Rbh))
          step.push(preact(2, H, false, false));
          const nn = kb.fresh('n'), jj = kb.fresh('j'), acc = kb.fresh('acc');
          const N = iadd(imul(2, H), v(nn));
          step.push(loop(nn, 0, H, [
            local(acc, ce, biasR(N)),
            loop(jj, 0, H, [assign(acc, add(v(acc, ce), mul(ld(rb, rAt(N, v(jj))), load(H_, hAt(v(jj))))))]),
            store(G_, gAt(N), add(load(G_, gAt(N)), mul(gate(1, v(nn)), v(acc, ce)))),
          ]));
        } else {
          // h̃ = g(x·Wh + Wbh + Rbh + (r ⊙ h)·Rhᵀ)
          step.push(perUnit((j) => [store(T_, hAt(j), mul(gate(1, j), load(H_, hAt(j))))]));
          step.push(preact(2, H, false, true));
          const nn = kb.fresh('n'), jj = kb.fresh('j'), acc = kb.fresh('acc');
          const N = iadd(imul(2, H), v(nn));
          step.push(loop(nn, 0, H, [
            local(acc, ce, load(G_, gAt(N))),
            loop(jj, 0, H, [assign(acc, add(v(acc, ce), mul(ld(rb, rAt(N, v(jj))), load(T_, hAt(v(jj))))))]),
            store(G_, gAt(N), v(acc, ce)),
          ]));
        }
        step.push(perUnit((j) => {
          const z = kb.fresh('z'), hh = kb.fresh('hh');
          return [
            let_(z, gate(0, j)),
            let_(hh, actOf(1, clipE(gate(2, j)))),
            store(H_, hAt(j), add(mul(sub(c(ce, 1), v(z, ce)), v(hh, ce)), mul(v(z, ce), load(H_, hAt(j))))),
          ];
        }));
      } else {
        step.push(preact(0, GH, true, true));
        step.push(perUnit((j) => {
          const cp = kb.fresh('cp'), ig = kb.fresh('ig'), fg = kb.fresh('fg'), cg = kb.fresh('cg'), cn = kb.fresh('cn'), og = kb.fresh('og');
          const peep = (blk: number) => (pb ? ld(pb, iadd(imul(d!, imul(3, H)), iadd(imul(blk, H), j))) : undefined);
          const withPeep = (x: Expr, blk: number, cv: Expr) => { const p = peep(blk); return p ? add(x, mul(p, cv)) : x; };
          const CP = v(cp, ce);
          const roundC = (x: Expr) => (dtype === 'f16' || dtype === 'bf16' ? to(ce, to(dtype, x)) : x);
          return [
            let_(cp, load(C_, hAt(j))),
            let_(ig, actOf(0, clipE(withPeep(gate(0, j), 0, CP)))),
            let_(fg, inputForget ? sub(c(ce, 1), v(ig, ce)) : actOf(0, clipE(withPeep(gate(2, j), 2, CP)))),
            let_(cg, actOf(1, clipE(gate(3, j)))),
            let_(cn, roundC(add(mul(v(fg, ce), CP), mul(v(ig, ce), v(cg, ce))))),
            store(C_, hAt(j), v(cn, ce)),
            let_(og, actOf(0, clipE(withPeep(gate(1, j), 1, v(cn, ce))))),
            store(H_, hAt(j), mul(v(og, ce), actOf(2, v(cn, ce)))),
          ];
        }));
      }
      const roundH = (dtype === 'f16' || dtype === 'bf16')
        ? [perUnit((j) => [store(H_, hAt(j), to(ce, to(dtype, load(H_, hAt(j)))))])] : [];
      return [
        let_(isRev, reverse),
        let_(len, lb ? to('i32', load(lb, b!)) : seq),
        perUnit((j) => [
          store(H_, hAt(j), h0b ? ld(h0b, stAt(j)) : k0),
          store(C_, hAt(j), c0b ? ld(c0b, stAt(j)) : k0),
        ]),
        loop(s, 0, seq, [
          if_(lt(S, LEN), [
            let_(t, select(ge(v(isRev), 1), isub(isub(LEN, 1), S), S)),
            ...step,
            ...roundH,
            perUnit((j) => [store(yb, yAt(T, j), to(dtype, load(H_, hAt(j))))]),
          ], [perUnit((j) => [store(yb, yAt(S, j), to(dtype, k0))])]),
        ]),
        perUnit((j) => [
          store(yhb, stAt(j), to(dtype, select(gt(LEN, 0), load(H_, hAt(j)), k0))),
          ...(ycb ? [store(ycb, stAt(j), to(dtype, select(gt(LEN, 0), load(C_, hAt(j)), k0)))] : []),
        ]),
      ];
    });
    kb.finish(body);
    n.output(0, Y);
    n.output(1, Yh);
    if (Yc) n.output(2, Yc);
  };
}

export const rnnLowerings: Record<string, OpLowering> = {
  RNN: lowerRecurrent('RNN'),
  GRU: lowerRecurrent('GRU'),
  LSTM: lowerRecurrent('LSTM'),
};
