// Graph IR → kernel IR Program: binds the model's symbolic input dimensions to size symbols, walks the
// nodes in order (folding what is known at compile time, evaluating symbolic shape arithmetic, lowering
// the rest through the table in registry.ts), then binds the outputs and plans buffer lifetimes.
import { makeRunContext } from '../../ir/context.ts';
import { TesseraError } from '../../ir/errors.ts';
import type { Model, Node } from '../../ir/graph.ts';
import { inferModel } from '../../ir/infer.ts';
import type { Expr } from '../../ir/kernel/ir.ts';
import type { Program, ProgramIO } from '../../ir/kernel/program.ts';
import { AttrView, lookupOp } from '../../ir/registry.ts';
import type { Tensor } from '../../ir/tensor.ts';
import '../../ir/ops/index.ts';
import { dataDependent, kscalar, Lowering, type LowerOptions, type TensorRef } from './context.ts';
import { ci } from './index-math.ts';
import { emitMap } from './loops.ts';
import { assignLiveRanges } from './memory.ts';
import { clampI32, NodeLowering } from './node.ts';
import { LOWERINGS, SYM_EVALUATORS } from './registry.ts';

/** Most elements a node's inputs may have for it to be folded at compile time by the reference op. */
const FOLD_INPUT_LIMIT = 1 << 24;

export function lower(model: Model, opts: LowerOptions = {}): Program {
  const { constants } = inferModel(model);
  const L = new Lowering(opts);
  const g = model.graph;

  // Symbolic dimensions bound by --shape.
  const formals = g.inputs.filter((v) => !g.initializers.has(v));
  const bound = new Map<string, number>();
  for (const [name, dims] of opts.shapes ?? []) {
    const v = formals.find((x) => x.name === name);
    if (!v) throw new TesseraError(`--shape names '${name}', which is not an input of the model (inputs: ${formals.map((x) => x.name).join(', ')})`);
    const t = v.type;
    if (t?.kind !== 'tensor') throw new TesseraError(`input '${name}' is not a tensor`);
    if (t.shape && t.shape.length !== dims.length) throw new TesseraError(`--shape ${name} has rank ${dims.length}, the input has rank ${t.shape.length}`);
    t.shape?.forEach((d, i) => {
      const want = dims[i]!;
      if (typeof d === 'number' && d !== want) throw new TesseraError(`--shape ${name}: dimension ${i} is ${d} in the model, not ${want}`);
      if (typeof d === 'string') {
        const prev = bound.get(d);
        if (prev !== undefined && prev !== want) throw new TesseraError(`--shape binds '${d}' to both ${prev} and ${want}`);
        bound.set(d, want);
      }
    });
  }

  const inputs: ProgramIO[] = [];
  for (const [name] of opts.values ?? []) {
    if (!formals.some((x) => x.name === name)) throw new TesseraError(`a compile-time value is given for '${name}', which is not an input of the model`);
  }
  for (const v of formals) {
    const known = opts.values?.get(v.name);
    if (known) {
      if (known.dtype === 'string') throw new TesseraError(`input '${v.name}' is a string tensor; strings cannot be compiled`);
      L.values.set(v, { dtype: known.dtype, shape: known.shape.map(ci), constant: known });
      continue;
    }
    const t = v.type;
    if (t?.kind !== 'tensor') throw new TesseraError(`input '${v.name}' is a ${t?.kind ?? 'value of unknown type'}; only tensor inputs can be compiled`);
    const dtype = kscalar(t.dtype, `input '${v.name}'`);
    const spec = opts.shapes?.get(v.name);
    const dims = t.shape ?? spec;
    if (!dims) throw new TesseraError(`input '${v.name}' has no known rank; give its shape with --shape ${v.name}=d0,d1,…`);
    const shape: Expr[] = dims.map((d, axis) => {
      if (spec) return ci(spec[axis]!);
      if (typeof d === 'number') return ci(d);
      const b = bound.get(d);
      return b !== undefined ? ci(b) : L.symbol(d, { input: v.name, axis });
    });
    const buffer = L.newBuffer('input', dtype, shape, `in_${v.name}`, v.name);
    L.values.set(v, { dtype, shape, buffer });
    inputs.push({ name: v.name, dtype: t.dtype, shape, buffer });
  }
  for (const [v, t] of g.initializers) {
    if (t.dtype === 'string') { L.values.set(v, { dtype: 'u8', shape: t.shape.map(ci), constant: t }); continue; }
    L.values.set(v, { dtype: t.dtype, shape: t.shape.map(ci), constant: t });
  }

  for (const node of g.nodes) lowerNode(L, model, node, constants);
  L.node = undefined;

  const outputs: ProgramIO[] = [];
  const asOutput = new Set<string>();
  for (const v of g.outputs) {
    const ref = L.values.get(v);
    if (!ref) throw new TesseraError(`graph output '${v.name}' is never computed`);
    const dtype = v.type?.kind === 'tensor' ? v.type.dtype : ref.dtype;
    let buffer: string;
    const b = ref.buffer !== undefined ? L.buffer(ref.buffer) : undefined;
    if (b && b.kind === 'temp' && !asOutput.has(b.name)) {
      b.kind = 'output';
      b.value = v.name;
      buffer = b.name;
    } else {
      const out: TensorRef = { dtype: ref.dtype, shape: ref.shape, buffer: L.newBuffer('output', ref.dtype, ref.shape, `out_${v.name}`, v.name) };
      emitMap(L, [ref], ref.dtype, (xs) => xs[0]!, { into: out, hint: 'copy' });
      buffer = out.buffer!;
    }
    asOutput.add(buffer);
    outputs.push({ name: v.name, dtype, shape: ref.shape, buffer });
  }
  const program = L.program(inputs, outputs);
  assignLiveRanges(program);
  return program;
}

function constRef(t: Tensor): TensorRef {
  return { dtype: t.dtype === 'string' ? 'u8' : t.dtype, shape: t.shape.map(ci), constant: t };
}

function lowerNode(L: Lowering, model: Model, node: Node, constants: Map<import('../../ir/graph.ts').Value, Tensor>): void {
  L.node = node;
  const place = { node: node.name, op: node.op };
  try {
    const domain = node.domain === 'ai.onnx' ? '' : node.domain;
    const opset = model.opsets.get(domain);
    const schema = opset === undefined ? undefined : lookupOp(node.domain, node.op, opset);
    if (!schema || opset === undefined) throw new TesseraError(`unknown op`);
    const ins = node.inputs.map((v) => {
      if (!v || v.name === '') return undefined;
      const r = L.values.get(v);
      if (!r) throw new TesseraError(`input '${v.name}' has no value (not fed, not computed)`);
      return r;
    });

    // 1. Every output already known to inference (initializer-fed shape math, Shape of static shapes, …).
    if (node.outputs.every((o) => !o || o.name === '' || constants.has(o))) {
      node.outputs.forEach((o) => { if (o && o.name !== '') L.values.set(o, constRef(constants.get(o)!)); });
      return;
    }

    // 2. Every input known: fold with the reference op (big Constant nodes and weight preprocessing).
    const hasRegions = [...node.attrs.values()].some((a) => a.kind === 'graph' || a.kind === 'graphs');
    const inputElems = ins.reduce((s, r) => s + (r?.constant?.size ?? 0), 0);
    // Generators (ConstantOfShape, Expand, Tile, …) with big outputs stay kernels: a fill is cheaper than
    // shipping its result in the weights blob.
    const outputElems = node.outputs.reduce((s, o) => {
      const t = o?.type;
      if (t?.kind !== 'tensor' || !t.shape || t.shape.some((d) => typeof d !== 'number')) return s;
      return s + (t.shape as number[]).reduce((a, b) => a * b, 1);
    }, 0);
    const bloats = outputElems > Math.max(4 * inputElems, 1 << 16) && LOWERINGS[node.op] !== undefined;
    if (!schema.nondeterministic && !hasRegions && !bloats && ins.every((r) => !r || r.constant) && inputElems <= FOLD_INPUT_LIMIT) {
      const ctx = makeRunContext(node, schema, opset, ins.map((r) => r?.constant), () => { throw new Error('no sub-graphs'); }, () => 0.5);
      const res = schema.run(ctx);
      node.outputs.forEach((o, i) => {
        const r = res[i];
        if (!o || o.name === '' || !r) return;
        if (r.kind !== 'tensor') throw new TesseraError(`output ${i} is a ${r.kind}; only tensors can be compiled`);
        L.values.set(o, constRef(r));
      });
      return;
    }

    const attrs = new AttrView(node, schema);
    const n = new NodeLowering(L, node, schema.since, opset, attrs, ins);

    // 3. Integer arithmetic over symbolic shapes stays symbolic.
    const symEval = SYM_EVALUATORS[node.op];
    const smallOutputs = node.outputs.every((o) => !o || o.type?.kind !== 'tensor' || !o.type.shape || o.type.shape.length <= 1);
    if (symEval && domain === '' && smallOutputs && ins.some((r) => r?.sym) && ins.every((r) => !r || r.sym || r.constant)) {
      const vals = ins.map((r) => (r ? r.sym ?? constSym(r.constant!) : undefined));
      const outs = symEval(n, vals);
      if (outs) {
        outs.forEach((sym, i) => {
          const o = node.outputs[i];
          if (!o || o.name === '' || o.type?.kind !== 'tensor') return;
          const shape = symShape(o.type.shape, sym.length);
          L.values.set(o, { dtype: kscalar(o.type.dtype, `output ${i}`), shape, sym: sym.map((e) => L.dim(e)) });
        });
        return;
      }
    }

    // 4. If with a condition known at compile time: the taken branch is lowered in place.
    if (node.op === 'If' && domain === '') {
      const cond = ins[0];
      const value = cond?.constant ? cond.constant.num(0) : cond?.sym?.[0]?.kind === 'const' ? Number(cond.sym[0].value) : undefined;
      if (value === undefined) throw dataDependent('If');
      const branch = attrs.graph(value !== 0 ? 'then_branch' : 'else_branch')!;
      for (const [v, t] of branch.initializers) L.values.set(v, constRef(t));
      for (const sub of branch.nodes) lowerNode(L, model, sub, constants);
      L.node = node;
      node.outputs.forEach((o, i) => {
        const r = L.values.get(branch.outputs[i]!);
        if (!o || o.name === '') return;
        if (!r) throw new TesseraError(`branch output ${i} ('${branch.outputs[i]!.name}') was never computed`);
        L.values.set(o, r);
      });
      return;
    }

    for (const r of ins) if (r?.constant?.dtype === 'string') throw new TesseraError(`string tensors cannot be compiled`);
    const fn = domain === '' ? LOWERINGS[node.op] : undefined;
    if (!fn) throw new TesseraError(`cannot be compiled for target ${L.target} yet`);
    fn(n);
    node.outputs.forEach((o, i) => {
      if (o && o.name !== '' && !L.values.has(o)) throw new Error(`internal: the lowering of ${node.op} set no value for output ${i}`);
    });
  } catch (e) {
    if (e instanceof TesseraError) throw e.at(place);
    const err = e as Error;
    const wrapped = new Error(`internal error lowering node '${node.name}' (${node.op}): ${err.message}`, { cause: e });
    wrapped.stack = `${wrapped.message}\n${err.stack ?? ''}`;
    throw wrapped;
  }
}

/** A constant integer tensor as index expressions (undefined for floats or values beyond i32). */
function constSym(t: Tensor): Expr[] | undefined {
  if (t.dtype === 'string' || t.dtype === 'f16' || t.dtype === 'bf16' || t.dtype === 'f32' || t.dtype === 'f64' || t.size > 64) return undefined;
  return t.toNumbers().map((x) => ci(clampI32(x)));
}

/** The shape of a symbolic value: rank from inference, the element count from the values. */
function symShape(shape: (number | string)[] | undefined, n: number): Expr[] {
  if (shape && shape.length === 0) return [];
  return [ci(n)];
}
