// Control flow and container ops: If, Loop, Scan (bodies run through the interpreter's runGraph, so its
// deadline check between nodes can interrupt them), SequenceMap and the Sequence*/Optional* families.
import { allocData, dtypeFromOnnx, type DType, type TensorData } from '../dtype.ts';
import { TesseraError } from '../errors.ts';
import { Graph, Node, Value, type Attr } from '../graph.ts';
import { registerOps, type InferContext, type OpSchema, type RunContext } from '../registry.ts';
import {
  checkShape, MAX_TENSOR_ELEMENTS, Tensor,
  type OptionalValue, type RuntimeValue, type SequenceValue,
} from '../tensor.ts';
import { tensorType, typeToString, type Dim, type TensorType, type ValueType } from '../types.ts';

// ---------------------------------------------------------------------------------------------------
// Type helpers

/** Which non-tensor kinds a version of an op accepts for its heterogeneous values. */
interface KindRules { sequence: boolean; optional: boolean }

function checkKind(t: ValueType | undefined, rules: KindRules, what: string, opName: string, since: number): void {
  if (!t) return;
  if ((t.kind === 'sequence' && !rules.sequence) || (t.kind === 'optional' && !rules.optional)) {
    throw new TesseraError(`${what} is a ${t.kind} (${typeToString(t)}), which ${opName}-${since} does not accept`);
  }
}

function mergeShapes(ctx: InferContext, a: Dim[] | undefined, b: Dim[] | undefined): Dim[] | undefined {
  if (!a || !b || a.length !== b.length) return undefined;
  return a.map((d, i) => (d === b[i] ? d : ctx.freshDim()));
}

/**
 * The type of a value that is either `a` or `b` (If branches, a loop-carried value before and after the
 * loop). Dims that differ become fresh symbols, differing ranks an unknown shape. Differing element types
 * are an error; differing kinds are an error when `kindsMustMatch`, else the result is unknown.
 */
function unionType(
  ctx: InferContext, a: ValueType | undefined, b: ValueType | undefined, what: string, kindsMustMatch: boolean,
): ValueType | undefined {
  if (!a || !b) return undefined;
  if (a.kind !== b.kind) {
    if (kindsMustMatch) throw new TesseraError(`${what} is ${typeToString(a)} in one case and ${typeToString(b)} in the other`);
    return undefined;
  }
  if (a.kind === 'tensor') {
    const bt = b as TensorType;
    if (a.dtype !== bt.dtype) throw new TesseraError(`${what} is ${typeToString(a)} in one case and ${typeToString(b)} in the other`);
    return tensorType(a.dtype, mergeShapes(ctx, a.shape, bt.shape));
  }
  const elem = unionType(ctx, a.elem, (b as typeof a).elem, what, kindsMustMatch);
  return { kind: a.kind, elem };
}

/** Element types agree (kind and dtype, recursively); shapes are not compared. */
function sameElementKinds(a: ValueType | undefined, b: ValueType | undefined): boolean {
  if (!a || !b) return true;
  if (a.kind !== b.kind) return false;
  if (a.kind === 'tensor') return a.dtype === (b as TensorType).dtype;
  return sameElementKinds(a.elem, (b as typeof a).elem);
}

/** Infers a body graph after checking its formal inputs against the values it will receive. */
function inferBody(ctx: InferContext, g: Graph, inputTypes: (ValueType | undefined)[], what: string): (ValueType | undefined)[] {
  if (g.inputs.length !== inputTypes.length) {
    throw new TesseraError(`${what} takes ${g.inputs.length} inputs, expected ${inputTypes.length}`);
  }
  g.inputs.forEach((v, i) => {
    const t = inputTypes[i];
    if (!sameElementKinds(v.type, t)) {
      throw new TesseraError(`${what} input '${v.name}' is declared ${typeToString(v.type)} but receives ${typeToString(t)}`);
    }
  });
  return ctx.inferGraph(g, inputTypes);
}

function bodyAttr(ctx: InferContext | RunContext, name: string): Graph {
  const g = ctx.attrs.graph(name);
  if (!g) throw new TesseraError(`required attribute '${name}' is missing`);
  return g;
}

/** Checks a condition, trip count or position input type: allowed dtype and, where known, one element. */
function requireScalarType(ctx: InferContext, i: number, allowed: readonly DType[], what: string): void {
  const t = ctx.inputType(i);
  if (!t) return;
  if (t.kind !== 'tensor' || !allowed.includes(t.dtype)) {
    throw new TesseraError(`${what} must be a ${allowed.join(' or ')} tensor, got ${typeToString(t)}`);
  }
  if (t.shape && t.shape.some((d) => typeof d === 'number' && d !== 1)) {
    throw new TesseraError(`${what} must hold a single element, got shape [${t.shape.join(',')}]`);
  }
}

/** Condition, trip count and position inputs hold exactly one element (scalars, or [1] from some exporters). */
function oneElement(t: Tensor, what: string): Tensor {
  if (t.size !== 1) throw new TesseraError(`${what} must hold a single element, got shape [${t.shape.join(',')}]`);
  return t;
}

function readBool(v: RuntimeValue | undefined, what: string): boolean {
  if (!v || v.kind !== 'tensor') throw new TesseraError(`${what} must be a bool tensor, got ${v ? v.kind : 'nothing'}`);
  if (v.dtype !== 'bool') throw new TesseraError(`${what} must be a bool tensor, got ${v.dtype}`);
  return oneElement(v, what).data[0] !== 0;
}

function readInteger(t: Tensor, what: string): number {
  if (t.dtype !== 'i32' && t.dtype !== 'i64') throw new TesseraError(`${what} must be an int32 or int64 tensor, got ${t.dtype}`);
  return oneElement(t, what).num(0);
}

// ---------------------------------------------------------------------------------------------------
// Tensor kernels (layout copies shared by Scan, Loop and the sequence ops)

type Copyable = { set(a: ArrayLike<unknown>, offset?: number): void; subarray(b: number, e: number): ArrayLike<unknown> };

function copyRange(src: TensorData, srcOff: number, dst: TensorData, dstOff: number, len: number): void {
  if (len <= 0) return;
  if (Array.isArray(src)) {
    const d = dst as string[];
    for (let i = 0; i < len; i++) d[dstOff + i] = src[srcOff + i]!;
  } else {
    (dst as unknown as Copyable).set((src as unknown as Copyable).subarray(srcOff, srcOff + len), dstOff);
  }
}

const prod = (dims: readonly number[], from: number, to: number): number => {
  let n = 1;
  for (let i = from; i < to; i++) n *= dims[i]!;
  return n;
};

/** The slab [start, start+len) along `axis`; with `dropAxis` (len must be 1) the axis is removed. */
function sliceAxis(x: Tensor, axis: number, start: number, len: number, dropAxis: boolean): Tensor {
  const outer = prod(x.shape, 0, axis), d = x.shape[axis]!, inner = prod(x.shape, axis + 1, x.rank);
  const shape = [...x.shape];
  if (dropAxis) shape.splice(axis, 1); else shape[axis] = len;
  const out = allocData(x.dtype, outer * len * inner);
  const chunk = len * inner;
  for (let o = 0; o < outer; o++) copyRange(x.data, (o * d + start) * inner, out, o * chunk, chunk);
  return new Tensor(x.dtype, shape, out);
}

/** Concatenates tensors of equal rank along `axis`; all other dims must agree. */
function concatAxis(items: readonly Tensor[], axis: number, what: string): Tensor {
  const first = items[0]!;
  const shape = [...first.shape];
  let total = 0;
  for (const [k, t] of items.entries()) {
    if (t.dtype !== first.dtype) throw new TesseraError(`${what}: tensor ${k} has type ${t.dtype}, tensor 0 has ${first.dtype}`);
    if (t.rank !== first.rank || t.shape.some((d, i) => i !== axis && d !== first.shape[i])) {
      throw new TesseraError(`${what}: tensor ${k} has shape [${t.shape.join(',')}], which does not match [${first.shape.join(',')}] outside axis ${axis}`);
    }
    total += t.shape[axis]!;
  }
  shape[axis] = total;
  const n = checkShape(shape, what);
  const out = allocData(first.dtype, n);
  const outer = prod(shape, 0, axis), inner = prod(shape, axis + 1, shape.length);
  let off = 0;
  for (let o = 0; o < outer; o++) {
    for (const t of items) {
      const chunk = t.shape[axis]! * inner;
      copyRange(t.data, o * chunk, out, off, chunk);
      off += chunk;
    }
  }
  return new Tensor(first.dtype, shape, out);
}

/** Stacks equally shaped tensors along a new axis. */
function stackAxis(items: readonly Tensor[], axis: number, what: string): Tensor {
  const first = items[0]!;
  for (const [k, t] of items.entries()) {
    if (t.dtype !== first.dtype || t.rank !== first.rank || t.shape.some((d, i) => d !== first.shape[i])) {
      throw new TesseraError(`${what}: element ${k} is ${t.dtype}[${t.shape.join(',')}] but element 0 is ${first.dtype}[${first.shape.join(',')}]; all must have the same type and shape`);
    }
  }
  const expanded = items.map((t) => { const s = [...t.shape]; s.splice(axis, 0, 1); return t.reshape(s); });
  return concatAxis(expanded, axis, what);
}

/** An empty tensor for a scan output that received no elements: its inferred shape, unknown dims as 0. */
function emptyFromType(t: ValueType | undefined, what: string): Tensor {
  if (!t || t.kind !== 'tensor') throw new TesseraError(`${what} has no elements and its type is unknown`);
  const shape = t.shape ? t.shape.map((d) => (typeof d === 'number' ? d : 0)) : [0];
  return Tensor.zeros(t.dtype, shape);
}

// ---------------------------------------------------------------------------------------------------
// If

function ifSchema(since: number, rules: KindRules): OpSchema {
  return {
    name: 'If', since, inputs: [1, 1], outputs: [1, Infinity],
    attrs: { then_branch: { kind: 'graph', required: true }, else_branch: { kind: 'graph', required: true } },
    infer(ctx) {
      requireScalarType(ctx, 0, ['bool'], 'cond');
      const thenG = bodyAttr(ctx, 'then_branch'), elseG = bodyAttr(ctx, 'else_branch');
      const n = ctx.node.outputs.length;
      for (const [name, g] of [['then_branch', thenG], ['else_branch', elseG]] as const) {
        if (g.outputs.length !== n) throw new TesseraError(`${name} has ${g.outputs.length} outputs, the node has ${n}`);
      }
      const thenT = inferBody(ctx, thenG, [], 'then_branch');
      const elseT = inferBody(ctx, elseG, [], 'else_branch');
      return thenT.map((t, i) => {
        checkKind(t, rules, `then_branch output ${i}`, 'If', since);
        checkKind(elseT[i], rules, `else_branch output ${i}`, 'If', since);
        return unionType(ctx, t, elseT[i], `output ${i}`, true);
      });
    },
    run(ctx) {
      const cond = readBool(ctx.inputs[0], 'cond');
      const g = bodyAttr(ctx, cond ? 'then_branch' : 'else_branch');
      const outs = ctx.runGraph(g, []);
      if (outs.length < ctx.node.outputs.length) {
        throw new TesseraError(`${cond ? 'then' : 'else'}_branch produced ${outs.length} outputs, the node has ${ctx.node.outputs.length}`);
      }
      return outs;
    },
  };
}

// ---------------------------------------------------------------------------------------------------
// Loop

/** A copy of a body graph with its own Values (outer values shared), for trial type inference. */
function cloneGraph(g: Graph, map: Map<Value, Value>): Graph {
  const own = (v: Value): Value => {
    const c = new Value(v.name, v.type);
    map.set(v, c);
    return c;
  };
  const use = (v: Value): Value => map.get(v) ?? v;
  const c = new Graph(g.name);
  c.inputs = g.inputs.map(own);
  for (const [v, t] of g.initializers) c.initializers.set(map.get(v) ?? own(v), t);
  c.nodes = g.nodes.map((n) => {
    const inputs = n.inputs.map((v) => (v ? use(v) : null));
    const attrs = new Map<string, Attr>();
    for (const [k, a] of n.attrs) {
      if (a.kind === 'graph') attrs.set(k, { kind: 'graph', value: cloneGraph(a.value, map) });
      else if (a.kind === 'graphs') attrs.set(k, { kind: 'graphs', value: a.value.map((s) => cloneGraph(s, map)) });
      else attrs.set(k, a);
    }
    const node = new Node(n.name, n.op, n.domain, inputs, [], attrs);
    node.outputs = n.outputs.map((v) => {
      if (!v) return null;
      const o = own(v);
      o.producer = node;
      return o;
    });
    return node;
  });
  c.outputs = g.outputs.map(use);
  return c;
}

/** A body input whose declared type leaves room for the type we pass (so ours is what inference uses). */
function takesPassedType(v: Value): boolean {
  return !v.type || (v.type.kind === 'tensor' && !v.type.shape);
}

function loopSchema(since: number, rules: KindRules): OpSchema {
  return {
    name: 'Loop', since, inputs: [0, Infinity], outputs: [1, Infinity],
    attrs: { body: { kind: 'graph', required: true } },
    infer(ctx) {
      const body = bodyAttr(ctx, 'body');
      const hasM = ctx.node.inputs[0] != null, hasCond = ctx.node.inputs[1] != null;
      if (!hasM && !hasCond) throw new TesseraError('Loop has neither a trip count M nor a condition, so it would never end');
      if (hasM) requireScalarType(ctx, 0, ['i64'], 'trip count M');
      if (hasCond) requireScalarType(ctx, 1, ['bool'], 'cond');
      const nCarried = Math.max(0, ctx.node.inputs.length - 2);
      const nScan = ctx.node.outputs.length - nCarried;
      if (nScan < 0) throw new TesseraError(`Loop has ${nCarried} loop-carried inputs but only ${ctx.node.outputs.length} outputs`);
      if (body.outputs.length !== 1 + nCarried + nScan) {
        throw new TesseraError(`body has ${body.outputs.length} outputs, expected ${1 + nCarried + nScan} (condition, ${nCarried} loop-carried values, ${nScan} scan outputs)`);
      }
      const initial: (ValueType | undefined)[] = [];
      for (let i = 0; i < nCarried; i++) {
        const t = ctx.inputType(2 + i);
        checkKind(t, rules, `loop-carried input ${i}`, 'Loop', since);
        initial.push(t);
      }
      const head: ValueType[] = [tensorType('i64', []), tensorType('bool', [])];
      let carriedIn = initial;
      // A carried value may change shape across iterations. Where the body does not declare its input
      // shape, infer a throw-away copy first and widen the dims that change, so the body's own types hold
      // for every iteration, not only the first.
      if (body.inputs.length === 2 + nCarried && initial.some((t, i) => t && takesPassedType(body.inputs[2 + i]!))) {
        const trial = inferBody(ctx, cloneGraph(body, new Map()), [...head, ...initial], 'body');
        carriedIn = initial.map((t, i) => unionType(ctx, t, trial[1 + i], `loop-carried value ${i}`, false));
      }
      const out = inferBody(ctx, body, [...head, ...carriedIn], 'body');
      const condOut = out[0];
      if (condOut && (condOut.kind !== 'tensor' || condOut.dtype !== 'bool')) {
        throw new TesseraError(`body output 0 (the condition) must be a bool tensor, got ${typeToString(condOut)}`);
      }
      const result: (ValueType | undefined)[] = [];
      for (let i = 0; i < nCarried; i++) {
        checkKind(out[1 + i], rules, `body output ${1 + i}`, 'Loop', since);
        result.push(unionType(ctx, initial[i], out[1 + i], `loop-carried value ${i}`, false));
      }
      const trips = tripCountDim(ctx, hasM, hasCond);
      for (let k = 0; k < nScan; k++) {
        const t = out[1 + nCarried + k];
        if (!t) { result.push(undefined); continue; }
        if (t.kind !== 'tensor') throw new TesseraError(`scan output ${k} must be a tensor, got ${typeToString(t)}`);
        result.push(tensorType(t.dtype, t.shape ? [trips ?? ctx.freshDim(), ...t.shape] : undefined));
      }
      return result;
    },
    run: runLoop,
  };
}

/** The number of iterations when it is known before running (constant M and no condition, or false cond). */
function tripCountDim(ctx: InferContext, hasM: boolean, hasCond: boolean): number | undefined {
  const c = hasCond ? ctx.constant(1) : undefined;
  if (c && c.size === 1 && c.data[0] === 0) return 0;
  const m = hasM ? ctx.constant(0) : undefined;
  if (!hasCond && m && m.size === 1) {
    const n = m.num(0);
    return n <= 0 ? 0 : n <= MAX_TENSOR_ELEMENTS ? n : undefined;
  }
  return undefined;
}

function readTripCount(t: Tensor): bigint {
  if (t.dtype !== 'i64') throw new TesseraError(`trip count M must be an int64 tensor, got ${t.dtype}`);
  return oneElement(t, 'trip count M').data[0] as bigint;
}

const iterTensor = (i: bigint): Tensor => new Tensor('i64', [], BigInt64Array.of(i));
const TRUE = (): Tensor => new Tensor('bool', [], Uint8Array.of(1));

/** Absent loop-carried inputs (an empty name) stand for empty optionals. */
function carriedInitial(ctx: RunContext, n: number): RuntimeValue[] {
  const out: RuntimeValue[] = [];
  for (let i = 0; i < n; i++) out.push(ctx.inputs[2 + i] ?? { kind: 'optional', value: undefined });
  return out;
}

function runLoop(ctx: RunContext): RuntimeValue[] {
  const body = bodyAttr(ctx, 'body');
  const m = ctx.optTensor(0), condIn = ctx.optTensor(1);
  if (!m && !condIn) throw new TesseraError('Loop has neither a trip count M nor a condition, so it would never end');
  const maxTrips = m ? readTripCount(m) : undefined;
  let keepGoing = condIn ? readBool(condIn, 'cond') : true;
  const nCarried = Math.max(0, ctx.inputs.length - 2);
  const nScan = body.outputs.length - 1 - nCarried;
  if (nScan < 0 || body.inputs.length !== 2 + nCarried) {
    throw new TesseraError(`body takes ${body.inputs.length} inputs and has ${body.outputs.length} outputs, which does not fit ${nCarried} loop-carried values`);
  }

  let carried = carriedInitial(ctx, nCarried);
  let condValue: RuntimeValue = condIn ?? TRUE();
  const scans: Tensor[][] = Array.from({ length: nScan }, () => []);
  let i = 0n;
  while ((maxTrips === undefined || i < maxTrips) && keepGoing) {
    const outs = ctx.runGraph(body, [iterTensor(i), condValue, ...carried]);
    condValue = outs[0]!;
    // Without a cond input the body's condition output is ignored (a plain for loop).
    if (condIn) keepGoing = readBool(condValue, 'body output 0 (the condition)');
    carried = outs.slice(1, 1 + nCarried);
    for (let k = 0; k < nScan; k++) collectScanElement(scans[k]!, outs[1 + nCarried + k], k, i);
    i++;
  }
  return [...carried, ...scans.map((items, k) => finishScan(ctx, items, nCarried + k))];
}

function collectScanElement(items: Tensor[], v: RuntimeValue | undefined, k: number, iteration: bigint): void {
  if (!v || v.kind !== 'tensor') throw new TesseraError(`scan output ${k} must be a tensor, got ${v ? v.kind : 'nothing'}`);
  const first = items[0];
  if (first && (first.dtype !== v.dtype || first.rank !== v.rank || first.shape.some((d, j) => d !== v.shape[j]))) {
    throw new TesseraError(`scan output ${k} is ${v.dtype}[${v.shape.join(',')}] in iteration ${iteration} but was ${first.dtype}[${first.shape.join(',')}] before; it must not change`);
  }
  if (first && (items.length + 1) * Math.max(1, first.size) > MAX_TENSOR_ELEMENTS) {
    throw new TesseraError(`scan output ${k} grows past the limit of ${MAX_TENSOR_ELEMENTS} elements`);
  }
  items.push(v);
}

function finishScan(ctx: RunContext, items: Tensor[], outIndex: number): Tensor {
  if (items.length === 0) return emptyFromType(ctx.node.outputs[outIndex]?.type, `scan output ${outIndex}`);
  return stackAxis(items, 0, `scan output ${outIndex}`);
}

// ---------------------------------------------------------------------------------------------------
// Scan

function scanAxes(ctx: InferContext | RunContext, name: string, count: number, rankOf: (j: number) => number | undefined, negativeOk: boolean): number[] {
  const given = ctx.attrs.ints(name);
  if (given && given.length !== count) throw new TesseraError(`attribute '${name}' has ${given.length} entries, expected ${count}`);
  return Array.from({ length: count }, (_, j) => {
    const a = given?.[j] ?? 0;
    const r = rankOf(j);
    if (a < 0 && !negativeOk) throw new TesseraError(`${name}[${j}] is ${a}; negative axes need opset 11`);
    if (r === undefined) {
      if (a < 0) throw new TesseraError(`${name}[${j}] is negative but the rank is unknown`);
      return a;
    }
    const n = a < 0 ? a + r : a;
    if (n < 0 || n >= r) throw new TesseraError(`${name}[${j}] = ${a} is out of range for rank ${r}`);
    return n;
  });
}

function directions(ctx: InferContext | RunContext, name: string, count: number): number[] {
  const given = ctx.attrs.ints(name);
  if (given && given.length !== count) throw new TesseraError(`attribute '${name}' has ${given.length} entries, expected ${count}`);
  return Array.from({ length: count }, (_, j) => {
    const d = given?.[j] ?? 0;
    if (d !== 0 && d !== 1) throw new TesseraError(`${name}[${j}] is ${d}, expected 0 (forward) or 1 (reverse)`);
    return d;
  });
}

interface ScanLayout { nState: number; nScanIn: number; nScanOut: number; first: number }

function scanLayout(ctx: InferContext | RunContext, body: Graph, first: number): ScanLayout {
  const m = ctx.attrs.int('num_scan_inputs');
  const nIn = ctx.node.inputs.length - first;
  if (m < 1 || m > nIn) throw new TesseraError(`num_scan_inputs is ${m}, but the node has ${nIn} state and scan inputs`);
  const nState = nIn - m;
  const nScanOut = ctx.node.outputs.length - nState;
  if (nScanOut < 0) throw new TesseraError(`Scan has ${nState} state variables but only ${ctx.node.outputs.length} outputs`);
  if (body.inputs.length !== nState + m) throw new TesseraError(`body takes ${body.inputs.length} inputs, expected ${nState + m} (${nState} states, ${m} scan elements)`);
  if (body.outputs.length !== nState + nScanOut) throw new TesseraError(`body has ${body.outputs.length} outputs, expected ${nState + nScanOut} (${nState} states, ${nScanOut} scan outputs)`);
  return { nState, nScanIn: m, nScanOut, first };
}

function requireTensorType(t: ValueType | undefined, what: string): TensorType | undefined {
  if (t && t.kind !== 'tensor') throw new TesseraError(`${what} must be a tensor, got ${typeToString(t)}`);
  return t;
}

const dropDim = (shape: Dim[] | undefined, axis: number): Dim[] | undefined =>
  shape && shape.filter((_, i) => i !== axis);
const insertDim = (shape: Dim[] | undefined, axis: number, d: Dim): Dim[] | undefined =>
  shape && [...shape.slice(0, axis), d, ...shape.slice(axis)];

const scan8Schema: OpSchema = {
  name: 'Scan', since: 8, inputs: [2, Infinity], outputs: [1, Infinity],
  attrs: {
    body: { kind: 'graph', required: true }, num_scan_inputs: { kind: 'int', required: true },
    directions: { kind: 'ints' },
  },
  infer(ctx) {
    const body = bodyAttr(ctx, 'body');
    const L = scanLayout(ctx, body, 1);
    directions(ctx, 'directions', L.nScanIn);
    if (ctx.node.inputs[0]) {
      const t = requireTensorType(ctx.inputType(0), 'sequence_lens');
      if (t && t.dtype !== 'i64') throw new TesseraError(`sequence_lens must be int64, got ${t.dtype}`);
    }
    const types = ctx.node.inputs.slice(1).map((_, j) => requireTensorType(ctx.inputType(1 + j), `input ${1 + j}`));
    let batch: Dim | undefined, seqLen: Dim | undefined;
    const bodyIn = types.map((t, j) => {
      if (!t) return undefined;
      const isScan = j >= L.nState;
      const minRank = isScan ? 2 : 1;
      if (t.shape && t.shape.length < minRank) throw new TesseraError(`input ${1 + j} needs rank ≥ ${minRank} (batch${isScan ? ', sequence' : ''} axes), got ${typeToString(t)}`);
      if (t.shape) {
        batch ??= t.shape[0];
        if (isScan) seqLen ??= t.shape[1];
      }
      return tensorType(t.dtype, t.shape && t.shape.slice(isScan ? 2 : 1));
    });
    const out = inferBody(ctx, body, bodyIn, 'body');
    const b = batch ?? ctx.freshDim();
    const s = seqLen ?? ctx.freshDim();
    return out.map((t, k) => {
      const tt = requireTensorType(t, `body output ${k}`);
      if (!tt) return undefined;
      const lead: Dim[] = k < L.nState ? [b] : [b, s];
      return tensorType(tt.dtype, tt.shape && [...lead, ...tt.shape]);
    });
  },
  run(ctx) {
    const body = bodyAttr(ctx, 'body');
    const L = scanLayout(ctx, body, 1);
    const dirs = directions(ctx, 'directions', L.nScanIn);
    const values = ctx.node.inputs.slice(1).map((_, j) => ctx.tensor(1 + j));
    const states = values.slice(0, L.nState), scanIns = values.slice(L.nState);
    for (const [j, x] of values.entries()) {
      const isScan = j >= L.nState;
      if (x.rank < (isScan ? 2 : 1)) throw new TesseraError(`input ${1 + j} needs rank ≥ ${isScan ? 2 : 1}, got [${x.shape.join(',')}]`);
    }
    const batch = scanIns[0]!.shape[0]!, maxLen = scanIns[0]!.shape[1]!;
    for (const [j, x] of values.entries()) {
      if (x.shape[0] !== batch) throw new TesseraError(`input ${1 + j} has batch size ${x.shape[0]}, expected ${batch}`);
      if (j >= L.nState && x.shape[1] !== maxLen) throw new TesseraError(`scan input ${j - L.nState} has sequence length ${x.shape[1]}, expected ${maxLen}`);
    }
    const lensT = ctx.optTensor(0);
    let lens: number[] | undefined;
    if (lensT) {
      if (lensT.dtype !== 'i64') throw new TesseraError(`sequence_lens must be int64, got ${lensT.dtype}`);
      if (lensT.size !== batch) throw new TesseraError(`sequence_lens has ${lensT.size} entries, expected the batch size ${batch}`);
      lens = lensT.toNumbers();
      for (const [b, n] of lens.entries()) {
        if (n < 0 || n > maxLen) throw new TesseraError(`sequence_lens[${b}] = ${n} is outside [0, ${maxLen}]`);
      }
    }
    const finalStates: RuntimeValue[][] = Array.from({ length: L.nState }, () => []);
    const scanOuts: Tensor[][][] = Array.from({ length: L.nScanOut }, () => []);
    for (let b = 0; b < batch; b++) {
      let st: RuntimeValue[] = states.map((x) => sliceAxis(x, 0, b, 1, true));
      const seqs = scanIns.map((x) => sliceAxis(x, 0, b, 1, true));
      const n = lens ? lens[b]! : maxLen;
      const perBatch: Tensor[][] = Array.from({ length: L.nScanOut }, () => []);
      for (let t = 0; t < n; t++) {
        const elems = seqs.map((x, j) => sliceAxis(x, 0, dirs[j] === 1 ? n - 1 - t : t, 1, true));
        const outs = ctx.runGraph(body, [...st, ...elems]);
        st = outs.slice(0, L.nState);
        for (let k = 0; k < L.nScanOut; k++) collectScanElement(perBatch[k]!, outs[L.nState + k], k, BigInt(t));
      }
      st.forEach((v, k) => finalStates[k]!.push(v));
      perBatch.forEach((items, k) => scanOuts[k]!.push(items));
    }
    const stateOut = finalStates.map((items, k) => {
      const ts = items.map((v) => { if (v.kind !== 'tensor') throw new TesseraError(`state ${k} must be a tensor`); return v; });
      return ts.length ? stackAxis(ts, 0, `final state ${k}`) : emptyFromType(ctx.node.outputs[k]?.type, `final state ${k}`);
    });
    const scanOut = scanOuts.map((perBatch, k) => {
      const sample = perBatch.find((items) => items.length > 0)?.[0];
      const outIndex = L.nState + k;
      if (!sample) {
        const t = emptyFromType(ctx.node.outputs[outIndex]?.type, `scan output ${k}`);
        const shape = [...t.shape]; shape[0] = batch; if (shape.length > 1) shape[1] = maxLen;
        return Tensor.zeros(t.dtype, shape);
      }
      // Steps past a sequence's length are padding; the spec leaves them undefined, they are zeros here.
      const padding = Tensor.zeros(sample.dtype, sample.shape);
      const rows = perBatch.map((items) => {
        const full = [...items];
        while (full.length < maxLen) full.push(padding);
        return stackAxis(full, 0, `scan output ${k}`);
      });
      return stackAxis(rows, 0, `scan output ${k}`);
    });
    return [...stateOut, ...scanOut];
  },
};

function scanSchema(since: number): OpSchema {
  const negativeOk = since >= 11;
  return {
    name: 'Scan', since, inputs: [1, Infinity], outputs: [1, Infinity],
    attrs: {
      body: { kind: 'graph', required: true }, num_scan_inputs: { kind: 'int', required: true },
      scan_input_axes: { kind: 'ints' }, scan_input_directions: { kind: 'ints' },
      scan_output_axes: { kind: 'ints' }, scan_output_directions: { kind: 'ints' },
    },
    infer(ctx) {
      const body = bodyAttr(ctx, 'body');
      const L = scanLayout(ctx, body, 0);
      const types = ctx.node.inputs.map((_, j) => requireTensorType(ctx.inputType(j), `input ${j}`));
      const inAxes = scanAxes(ctx, 'scan_input_axes', L.nScanIn, (j) => types[L.nState + j]?.shape?.length, negativeOk);
      directions(ctx, 'scan_input_directions', L.nScanIn);
      directions(ctx, 'scan_output_directions', L.nScanOut);
      let seqLen: Dim | undefined;
      const bodyIn = types.map((t, j) => {
        if (!t || j < L.nState) return t;
        const axis = inAxes[j - L.nState]!;
        if (t.shape) {
          const d = t.shape[axis]!;
          if (typeof seqLen === 'number' && typeof d === 'number' && d !== seqLen) {
            throw new TesseraError(`scan input ${j - L.nState} has sequence length ${d}, expected ${seqLen}`);
          }
          if (seqLen === undefined || typeof seqLen !== 'number') seqLen = d;
        }
        return tensorType(t.dtype, dropDim(t.shape, axis));
      });
      const out = inferBody(ctx, body, bodyIn, 'body');
      const outTypes = out.map((t, k) => requireTensorType(t, `body output ${k}`));
      const outAxes = scanAxes(ctx, 'scan_output_axes', L.nScanOut, (k) => {
        const s = outTypes[L.nState + k]?.shape;
        return s && s.length + 1;
      }, negativeOk);
      const s = seqLen ?? ctx.freshDim();
      return outTypes.map((t, k) => {
        if (!t || k < L.nState) return t;
        return tensorType(t.dtype, insertDim(t.shape, outAxes[k - L.nState]!, s));
      });
    },
    run(ctx) {
      const body = bodyAttr(ctx, 'body');
      const L = scanLayout(ctx, body, 0);
      const values = ctx.node.inputs.map((_, j) => ctx.tensor(j));
      const scanIns = values.slice(L.nState);
      const inAxes = scanAxes(ctx, 'scan_input_axes', L.nScanIn, (j) => scanIns[j]!.rank, negativeOk);
      const inDirs = directions(ctx, 'scan_input_directions', L.nScanIn);
      const outDirs = directions(ctx, 'scan_output_directions', L.nScanOut);
      const len = scanIns[0]!.shape[inAxes[0]!]!;
      scanIns.forEach((x, j) => {
        if (x.shape[inAxes[j]!] !== len) throw new TesseraError(`scan input ${j} has sequence length ${x.shape[inAxes[j]!]}, expected ${len}`);
      });
      let st: RuntimeValue[] = values.slice(0, L.nState);
      const collected: Tensor[][] = Array.from({ length: L.nScanOut }, () => []);
      for (let t = 0; t < len; t++) {
        const elems = scanIns.map((x, j) => sliceAxis(x, inAxes[j]!, inDirs[j] === 1 ? len - 1 - t : t, 1, true));
        const outs = ctx.runGraph(body, [...st, ...elems]);
        st = outs.slice(0, L.nState);
        for (let k = 0; k < L.nScanOut; k++) collectScanElement(collected[k]!, outs[L.nState + k], k, BigInt(t));
      }
      const outAxes = scanAxes(ctx, 'scan_output_axes', L.nScanOut, (k) => {
        const first = collected[k]![0];
        if (first) return first.rank + 1;
        const t = ctx.node.outputs[L.nState + k]?.type;
        return t?.kind === 'tensor' && t.shape ? t.shape.length : undefined;
      }, negativeOk);
      const scanOut = collected.map((items, k) => {
        if (items.length === 0) return emptyFromType(ctx.node.outputs[L.nState + k]?.type, `scan output ${k}`);
        const ordered = outDirs[k] === 1 ? [...items].reverse() : items;
        return stackAxis(ordered, outAxes[k]!, `scan output ${k}`);
      });
      return [...st, ...scanOut];
    },
  };
}

// ---------------------------------------------------------------------------------------------------
// Sequences

function sequenceType(ctx: InferContext, i: number, what = `input ${i}`): ValueType | undefined {
  const t = ctx.inputType(i);
  if (t && t.kind !== 'sequence') throw new TesseraError(`${what} must be a sequence, got ${typeToString(t)}`);
  return t?.elem;
}

function elemTensorType(t: ValueType | undefined, what: string): TensorType | undefined {
  if (t && t.kind !== 'tensor') throw new TesseraError(`${what} must hold tensors, got ${typeToString(t)}`);
  return t;
}

const seqOf = (elem: ValueType | undefined): ValueType => ({ kind: 'sequence', elem });

function position(t: Tensor | undefined, n: number, allowEnd: boolean, fallback: number): number {
  if (!t) return fallback;
  const p = readInteger(t, 'position');
  const hi = allowEnd ? n : n - 1;
  if (p < -n || p > hi) throw new TesseraError(`position ${p} is out of range [${-n}, ${hi}] for a sequence of ${n} tensors`);
  return p < 0 ? p + n : p;
}

function inferPosition(ctx: InferContext, i: number): void {
  if (ctx.node.inputs[i] == null) return;
  requireScalarType(ctx, i, ['i32', 'i64'], 'position');
}

function checkItemDtype(seq: SequenceValue, t: Tensor): void {
  if (seq.dtype !== undefined && seq.dtype !== t.dtype) {
    throw new TesseraError(`cannot put a ${t.dtype} tensor into a sequence of ${seq.dtype}`);
  }
}

const sequenceOps: OpSchema[] = [
  {
    name: 'SequenceEmpty', since: 11, inputs: [0, 0], outputs: [1, 1],
    attrs: { dtype: { kind: 'int', default: 1 } },
    infer: (ctx) => [seqOf(tensorType(emptyDtype(ctx), undefined))],
    run: (ctx) => [{ kind: 'sequence', dtype: emptyDtype(ctx), items: [] }],
  },
  {
    name: 'SequenceConstruct', since: 11, inputs: [1, Infinity], outputs: [1, 1],
    infer(ctx) {
      let elem: TensorType | undefined;
      for (let i = 0; i < ctx.inputCount; i++) {
        const t = ctx.tensorInput(i);
        if (!elem) { elem = t; continue; }
        if (elem.dtype !== t.dtype) throw new TesseraError(`input ${i} has type ${t.dtype}, input 0 has ${elem.dtype}; all must match`);
        elem = tensorType(t.dtype, mergeShapes(ctx, elem.shape, t.shape));
      }
      return [seqOf(elem)];
    },
    run(ctx) {
      const items: Tensor[] = [];
      for (let i = 0; i < ctx.inputCount; i++) items.push(ctx.tensor(i));
      const dtype = items[0]!.dtype;
      items.forEach((t, i) => { if (t.dtype !== dtype) throw new TesseraError(`input ${i} has type ${t.dtype}, input 0 has ${dtype}; all must match`); });
      return [{ kind: 'sequence', dtype, items }];
    },
  },
  {
    name: 'SequenceInsert', since: 11, inputs: [2, 3], outputs: [1, 1],
    infer(ctx) {
      const elem = elemTensorType(sequenceType(ctx, 0), 'input_sequence');
      const t = ctx.tensorInput(1);
      inferPosition(ctx, 2);
      if (elem && elem.dtype !== t.dtype) throw new TesseraError(`cannot insert a ${t.dtype} tensor into a sequence of ${elem.dtype}`);
      return [seqOf(tensorType(t.dtype, elem ? mergeShapes(ctx, elem.shape, t.shape) : undefined))];
    },
    run(ctx) {
      const seq = ctx.sequence(0), t = ctx.tensor(1);
      checkItemDtype(seq, t);
      const p = position(ctx.optTensor(2), seq.items.length, true, seq.items.length);
      const items = [...seq.items];
      items.splice(p, 0, t);
      return [{ kind: 'sequence', dtype: t.dtype, items }];
    },
  },
  {
    name: 'SequenceAt', since: 11, inputs: [2, 2], outputs: [1, 1],
    infer(ctx) {
      const elem = elemTensorType(sequenceType(ctx, 0), 'input_sequence');
      inferPosition(ctx, 1);
      return [elem];
    },
    run(ctx) {
      const seq = ctx.sequence(0);
      const n = seq.items.length;
      if (n === 0) throw new TesseraError('cannot take an element of an empty sequence');
      return [seq.items[position(ctx.tensor(1), n, false, 0)]!];
    },
  },
  {
    name: 'SequenceErase', since: 11, inputs: [1, 2], outputs: [1, 1],
    infer(ctx) {
      sequenceType(ctx, 0);
      inferPosition(ctx, 1);
      return [ctx.inputType(0)];
    },
    run(ctx) {
      const seq = ctx.sequence(0);
      const n = seq.items.length;
      if (n === 0) throw new TesseraError('cannot erase from an empty sequence');
      const p = position(ctx.optTensor(1), n, false, n - 1);
      const items = [...seq.items];
      items.splice(p, 1);
      return [{ kind: 'sequence', dtype: seq.dtype, items }];
    },
  },
  {
    name: 'SequenceLength', since: 11, inputs: [1, 1], outputs: [1, 1],
    infer(ctx) { sequenceType(ctx, 0); return [tensorType('i64', [])]; },
    run: (ctx) => [new Tensor('i64', [], BigInt64Array.of(BigInt(ctx.sequence(0).items.length)))],
  },
  {
    name: 'ConcatFromSequence', since: 11, inputs: [1, 1], outputs: [1, 1],
    attrs: { axis: { kind: 'int', required: true }, new_axis: { kind: 'int', default: 0 } },
    infer(ctx) {
      const elem = elemTensorType(sequenceType(ctx, 0), 'input_sequence');
      const newAxis = newAxisFlag(ctx);
      if (!elem) return [undefined];
      if (!elem.shape) return [tensorType(elem.dtype, undefined)];
      const axis = concatAxisOf(ctx, elem.shape.length, newAxis);
      const shape = [...elem.shape];
      if (newAxis) shape.splice(axis, 0, ctx.freshDim());
      else shape[axis] = ctx.freshDim();
      return [tensorType(elem.dtype, shape)];
    },
    run(ctx) {
      const seq = ctx.sequence(0);
      const newAxis = newAxisFlag(ctx);
      if (seq.items.length === 0) throw new TesseraError('cannot concatenate an empty sequence');
      const axis = concatAxisOf(ctx, seq.items[0]!.rank, newAxis);
      return [newAxis ? stackAxis(seq.items, axis, 'ConcatFromSequence') : concatAxis(seq.items, axis, 'ConcatFromSequence')];
    },
  },
  {
    name: 'SplitToSequence', since: 11, inputs: [1, 2], outputs: [1, 1],
    attrs: { axis: { kind: 'int', default: 0 }, keepdims: { kind: 'int', default: 1 } },
    infer(ctx) {
      const x = ctx.tensorInput(0);
      const hasSplit = ctx.node.inputs[1] != null;
      if (hasSplit) {
        const s = ctx.tensorInput(1);
        if (s.dtype !== 'i32' && s.dtype !== 'i64') throw new TesseraError(`split must be int32 or int64, got ${s.dtype}`);
        if (s.shape && s.shape.length > 1) throw new TesseraError(`split must be a scalar or a 1-D tensor, got rank ${s.shape.length}`);
      }
      if (!x.shape) return [seqOf(tensorType(x.dtype, undefined))];
      const rank = x.shape.length;
      const axis = splitAxisOf(ctx, rank);
      const keepdims = ctx.attrs.int('keepdims') !== 0;
      const shape = [...x.shape];
      if (!hasSplit) {
        if (keepdims) shape[axis] = 1; else shape.splice(axis, 1);
        return [seqOf(tensorType(x.dtype, shape))];
      }
      shape[axis] = splitChunkDim(ctx, x.shape[axis]!);
      return [seqOf(tensorType(x.dtype, shape))];
    },
    run(ctx) {
      const x = ctx.tensor(0);
      const axis = splitAxisOf(ctx, x.rank);
      const dim = x.shape[axis]!;
      const split = ctx.optTensor(1);
      const items: Tensor[] = [];
      if (!split) {
        const keepdims = ctx.attrs.int('keepdims') !== 0;
        for (let i = 0; i < dim; i++) items.push(sliceAxis(x, axis, i, 1, !keepdims));
      } else {
        for (const [start, len] of splitRanges(split, dim)) items.push(sliceAxis(x, axis, start, len, false));
      }
      return [{ kind: 'sequence', dtype: x.dtype, items }];
    },
  },
  {
    name: 'SequenceMap', since: 17, inputs: [1, Infinity], outputs: [1, Infinity],
    attrs: { body: { kind: 'graph', required: true } },
    infer(ctx) {
      const body = bodyAttr(ctx, 'body');
      const n = ctx.node.inputs.length;
      if (ctx.node.inputs.some((v) => v == null)) throw new TesseraError('SequenceMap inputs cannot be omitted');
      sequenceType(ctx, 0, 'input_sequence');
      if (body.outputs.length !== ctx.node.outputs.length) {
        throw new TesseraError(`body has ${body.outputs.length} outputs, the node has ${ctx.node.outputs.length}`);
      }
      const inTypes = Array.from({ length: n }, (_, i) => {
        const t = ctx.inputType(i);
        if (t?.kind === 'optional') throw new TesseraError(`input ${i} must be a tensor or a sequence, got ${typeToString(t)}`);
        return t?.kind === 'sequence' ? t.elem : t;
      });
      const out = inferBody(ctx, body, inTypes, 'body');
      return out.map((t, k) => seqOf(elemTensorType(t, `body output ${k}`)));
    },
    run(ctx) {
      const body = bodyAttr(ctx, 'body');
      const seq0 = ctx.sequence(0);
      const n = seq0.items.length;
      ctx.inputs.forEach((v, i) => {
        if (v?.kind === 'sequence' && v.items.length !== n) {
          throw new TesseraError(`input ${i} is a sequence of ${v.items.length} tensors, input 0 has ${n}`);
        }
        if (v === undefined || v.kind === 'optional') throw new TesseraError(`input ${i} must be a tensor or a sequence`);
      });
      const outs: Tensor[][] = ctx.node.outputs.map(() => []);
      for (let j = 0; j < n; j++) {
        const args = ctx.inputs.map((v) => (v?.kind === 'sequence' ? v.items[j]! : v));
        const res = ctx.runGraph(body, args);
        outs.forEach((items, k) => {
          const r = res[k];
          if (!r || r.kind !== 'tensor') throw new TesseraError(`body output ${k} must be a tensor, got ${r ? r.kind : 'nothing'}`);
          items.push(r);
        });
      }
      return outs.map((items, k): SequenceValue => {
        const t = ctx.node.outputs[k]?.type;
        const declared = t?.kind === 'sequence' && t.elem?.kind === 'tensor' ? t.elem.dtype : undefined;
        return { kind: 'sequence', dtype: items[0]?.dtype ?? declared, items };
      });
    },
  },
];

function emptyDtype(ctx: InferContext | RunContext): DType {
  const code = ctx.attrs.int('dtype');
  const d = dtypeFromOnnx(code);
  if (typeof d === 'object') throw new TesseraError(`dtype ${code} (${d.unsupported}) is not supported`);
  return d;
}

function newAxisFlag(ctx: InferContext | RunContext): boolean {
  const v = ctx.attrs.int('new_axis');
  if (v !== 0 && v !== 1) throw new TesseraError(`new_axis must be 0 or 1, got ${v}`);
  return v === 1;
}

function concatAxisOf(ctx: InferContext | RunContext, rank: number, newAxis: boolean): number {
  const axis = ctx.attrs.int('axis');
  const r = newAxis ? rank + 1 : rank;
  const a = axis < 0 ? axis + r : axis;
  if (a < 0 || a >= r) {
    throw new TesseraError(`axis ${axis} is out of range for ${newAxis ? 'stacking' : 'concatenating'} tensors of rank ${rank}`);
  }
  return a;
}

function splitAxisOf(ctx: InferContext | RunContext, rank: number): number {
  const axis = ctx.attrs.int('axis');
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) throw new TesseraError(`axis ${axis} is out of range for rank ${rank}`);
  return a;
}

/** The dim of each chunk when it is the same for all (constant split); otherwise a fresh symbol. */
function splitChunkDim(ctx: InferContext, dim: Dim): Dim {
  const s = ctx.constant(1);
  if (!s) return ctx.freshDim();
  const values = s.toNumbers();
  if (s.rank === 0) {
    const v = values[0]!;
    if (v <= 0) throw new TesseraError(`split must be positive, got ${v}`);
    return typeof dim === 'number' && (dim % v === 0 || dim < v) ? Math.min(v, dim) : ctx.freshDim();
  }
  if (values.some((v) => v < 0)) throw new TesseraError(`split values must be non-negative, got [${values.join(',')}]`);
  const total = values.reduce((a, b) => a + b, 0);
  if (typeof dim === 'number' && total !== dim) throw new TesseraError(`split values sum to ${total}, but the axis has size ${dim}`);
  return values.length > 0 && values.every((v) => v === values[0]) ? values[0]! : ctx.freshDim();
}

function splitRanges(split: Tensor, dim: number): [number, number][] {
  if (split.dtype !== 'i32' && split.dtype !== 'i64') throw new TesseraError(`split must be int32 or int64, got ${split.dtype}`);
  if (split.rank > 1) throw new TesseraError(`split must be a scalar or a 1-D tensor, got rank ${split.rank}`);
  const ranges: [number, number][] = [];
  if (split.rank === 0) {
    const v = split.num(0);
    if (v <= 0) throw new TesseraError(`split must be positive, got ${v}`);
    for (let start = 0; start < dim; start += v) ranges.push([start, Math.min(v, dim - start)]);
    return ranges;
  }
  const values = split.toNumbers();
  let start = 0;
  for (const v of values) {
    if (v < 0) throw new TesseraError(`split values must be non-negative, got [${values.join(',')}]`);
    ranges.push([start, v]);
    start += v;
  }
  if (start !== dim) throw new TesseraError(`split values sum to ${start}, but the axis has size ${dim}`);
  return ranges;
}

// ---------------------------------------------------------------------------------------------------
// Optionals

function optionalElemType(ctx: InferContext, acceptBare: boolean): ValueType | undefined {
  const t = ctx.inputType(0);
  if (!t) return undefined;
  if (t.kind === 'optional') return t.elem;
  // Values of a loop-carried optional become bare after the first iteration, so bare inputs are read as
  // present optionals at run time; opset 18 allows them in the type too.
  if (!acceptBare) throw new TesseraError(`input must be an optional, got ${typeToString(t)}`);
  return t;
}

function optionalGetSchema(since: number): OpSchema {
  return {
    name: 'OptionalGetElement', since, inputs: [1, 1], outputs: [1, 1],
    infer: (ctx) => [optionalElemType(ctx, since >= 18)],
    run(ctx) {
      const v = ctx.inputs[0];
      if (v === undefined || (v.kind === 'optional' && v.value === undefined)) {
        throw new TesseraError('the optional input is empty');
      }
      return [v.kind === 'optional' ? v.value : v];
    },
  };
}

function optionalHasSchema(since: number): OpSchema {
  return {
    name: 'OptionalHasElement', since, inputs: [since >= 18 ? 0 : 1, 1], outputs: [1, 1],
    infer(ctx) {
      if (ctx.node.inputs[0] != null) optionalElemType(ctx, since >= 18);
      return [tensorType('bool', [])];
    },
    run(ctx) {
      const v = ctx.inputs[0];
      const has = v !== undefined && (v.kind !== 'optional' || v.value !== undefined);
      return [new Tensor('bool', [], Uint8Array.of(has ? 1 : 0))];
    },
  };
}

const optionalOps: OpSchema[] = [
  {
    name: 'Optional', since: 15, inputs: [0, 1], outputs: [1, 1],
    attrs: { type: { kind: 'type' } },
    infer(ctx) {
      const declared = ctx.attrs.type('type');
      if (ctx.node.inputs[0] == null) {
        if (!declared) throw new TesseraError("an empty Optional needs the 'type' attribute");
        return [{ kind: 'optional', elem: declared }];
      }
      const t = ctx.inputType(0);
      if (t?.kind === 'optional') throw new TesseraError(`input must be a tensor or a sequence, got ${typeToString(t)}`);
      if (declared && t && !sameElementKinds(declared, t)) {
        throw new TesseraError(`input is ${typeToString(t)} but the 'type' attribute says ${typeToString(declared)}`);
      }
      return [{ kind: 'optional', elem: t ?? declared }];
    },
    run(ctx) {
      const v = ctx.inputs[0];
      if (v?.kind === 'optional') throw new TesseraError('input must be a tensor or a sequence, got an optional');
      const out: OptionalValue = { kind: 'optional', value: v };
      return [out];
    },
  },
  optionalGetSchema(15), optionalGetSchema(18),
  optionalHasSchema(15), optionalHasSchema(18),
];

// ---------------------------------------------------------------------------------------------------

const TENSORS: KindRules = { sequence: false, optional: false };
const WITH_SEQUENCES: KindRules = { sequence: true, optional: false };
const WITH_OPTIONALS: KindRules = { sequence: true, optional: true };

registerOps([
  ifSchema(1, TENSORS), ifSchema(11, TENSORS), ifSchema(13, WITH_SEQUENCES), ifSchema(16, WITH_OPTIONALS),
  loopSchema(1, TENSORS), loopSchema(11, TENSORS), loopSchema(13, WITH_SEQUENCES), loopSchema(16, WITH_OPTIONALS),
  scan8Schema, scanSchema(9), scanSchema(11), scanSchema(16),
  ...sequenceOps,
  ...optionalOps,
]);
