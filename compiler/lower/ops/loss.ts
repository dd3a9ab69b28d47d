// Losses: NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss (LogSoftmax over the class axis, then
// NLL). With reduction 'none' each (n, d…) loss is independent (a parallel loop); 'sum' and 'mean'
// accumulate the losses and the class weights of the counted targets in one serial loop (mean divides by
// the weight sum, so ignored targets count for nothing).
import { TesseraError } from '../../../ir/errors.ts';
import { add, and, assign, c, cast, div, ge, let_, load, local, lt, mul, ne, neg, select, store, v } from '../../../ir/kernel/build.ts';
import type { Expr, Stmt } from '../../../ir/kernel/ir.ts';
import { viewAs, type Lowering, type TensorRef } from '../context.ts';
import { ci, iadd, imul, prod } from '../index-math.ts';
import { computeElem, nest, to, widen } from '../loops.ts';
import type { NodeLowering, OpLowering } from '../node.ts';
import { softmaxKernel } from './reduce.ts';

const INDEX = { elem: 'i32', lanes: 1 } as const;

function nll(n: NodeLowering, logp: TensorRef, target: TensorRef, weight: TensorRef | undefined): TensorRef {
  const L: Lowering = n.L;
  const red = n.attrs.string('reduction', 'mean');
  if (red !== 'none' && red !== 'sum' && red !== 'mean') throw new TesseraError(`reduction must be none, sum or mean, got '${red}'`);
  const ignore = n.attrs.has('ignore_index') ? n.attrs.int('ignore_index') : undefined;
  const [N, C] = [logp.shape[0]!, logp.shape[1]!];
  const D = L.dim(prod(logp.shape.slice(2)));
  const tshape = [N, ...logp.shape.slice(2)];
  const ce = computeElem(logp.dtype);
  const out = L.temp(logp.dtype, red === 'none' ? tshape : []);
  const kb = L.kernel();
  const P = kb.input(logp, 'logp'), T = kb.input(target, 'target'), W = weight ? kb.input(weight, 'weight') : undefined;
  const Y = kb.output(out);
  const flat = [N, D];
  /** The loss and weight of element (nn, d): statements binding them, then the names. */
  const element = (nn: Expr, d: Expr): { stmts: Stmt[]; loss: Expr; w: Expr } => {
    const t = kb.fresh('t'), cls = kb.fresh('cls'), wt = kb.fresh('w'), ok = kb.fresh('ok');
    const cv = v(cls);
    const counted = ignore === undefined ? c('bool', 1) : ne(cv, ignore);
    const safe = select(v(ok, 'bool'), cv, ci(0));
    const w = W ? widen(load(W, safe)) : c(ce, 1);
    return {
      stmts: [
        let_(t, load(T, iadd(imul(nn, D), d))),
        let_(cls, cast(INDEX, v(t, target.dtype))),
        // Out-of-range targets read class 0 (their loss is garbage either way; the reference raises).
        let_(ok, and(counted, and(ge(cv, 0), lt(cv, C)))),
        let_(wt, select(v(ok, 'bool'), w, c(ce, 0))),
      ],
      loss: select(v(ok, 'bool'), neg(mul(widen(load(P, iadd(imul(iadd(imul(nn, C), safe), D), d))), v(wt, ce))), c(ce, 0)),
      w: v(wt, ce),
    };
  };
  if (red === 'none') {
    kb.finish(nest(kb, flat, ([nn, d]) => {
      const e = element(nn!, d!);
      return [...e.stmts, store(Y, iadd(imul(nn!, D), d!), to(logp.dtype, e.loss))];
    }));
    return out;
  }
  const total = kb.fresh('total'), wsum = kb.fresh('wsum');
  const body = nest(kb, flat, ([nn, d]) => {
    const e = element(nn!, d!);
    return [...e.stmts, assign(total, add(v(total, ce), e.loss)), assign(wsum, add(v(wsum, ce), e.w))];
  }, { parallel: false });
  const result = red === 'sum' ? v(total, ce) : div(v(total, ce), v(wsum, ce));
  kb.finish([local(total, ce, c(ce, 0)), local(wsum, ce, c(ce, 0)), ...body, store(Y, 0, to(logp.dtype, result))]);
  return out;
}

const lowerNLL: OpLowering = (n) => {
  const x = n.input(0);
  if (x.shape.length < 2) throw new TesseraError(`input must have rank >= 2 (N, C, ...), got rank ${x.shape.length}`);
  n.output(0, nll(n, x, n.input(1), n.optInput(2)));
};

const lowerSCE: OpLowering = (n) => {
  const x = n.input(0);
  if (x.shape.length < 2) throw new TesseraError(`scores must have rank >= 2 (N, C, ...), got rank ${x.shape.length}`);
  const view = [x.shape[0]!, x.shape[1]!, n.L.dim(prod(x.shape.slice(2)))];
  const logp = n.L.temp(x.dtype, x.shape);
  softmaxKernel(n.L, viewAs(x, view), viewAs(logp, view), 'logsoftmax');
  n.output(0, nll(n, logp, n.input(1), n.optInput(2)));
  if (n.hasOutput(1)) n.output(1, logp);
};

export const lossLowerings: Record<string, OpLowering> = {
  NegativeLogLikelihoodLoss: lowerNLL,
  SoftmaxCrossEntropyLoss: lowerSCE,
};
