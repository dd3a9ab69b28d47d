// The reference interpreter: executes the graph IR on the CPU with TypedArrays. It is the living
// definition of every op (the semantics live in the op registry) and the oracle for every backend.
import { makeRunContext } from '../ir/context.ts';
import { TesseraError } from '../ir/errors.ts';
import type { Graph, Model, Node, Value } from '../ir/graph.ts';
import { lookupOp, type OpSchema } from '../ir/registry.ts';
import type { RuntimeValue } from '../ir/tensor.ts';
import { describeValue } from '../ir/tensor.ts';
import { seededRandom } from '../ir/random.ts';
import { ScopeChain } from '../ir/scope.ts';
import '../ir/ops/index.ts';

/** Variable scope chain: sub-graphs see the values of enclosing graphs. */
class Scope extends ScopeChain<Value, RuntimeValue> {
  get values(): Map<Value, RuntimeValue> { return this.own; }
  get(v: Value): RuntimeValue | undefined { return this.lookup(v); }
}

export interface ReferenceOptions {
  seed?: number;
  /** Wall-clock budget per run() in ms, checked between nodes, so a runaway Loop cannot hang a caller. */
  deadlineMs?: number;
}

export class ReferenceInterpreter {
  private readonly schemaCache = new Map<Node, OpSchema>();
  private readonly random: () => number;

  private deadline = Infinity;

  constructor(readonly model: Model, private readonly options: ReferenceOptions = {}) {
    this.random = seededRandom(options.seed ?? 0);
  }

  private opsetOf(domain: string): number {
    const d = domain === 'ai.onnx' ? '' : domain;
    const v = this.model.opsets.get(d);
    if (v === undefined) throw new TesseraError(`no opset imported for domain '${domain || 'ai.onnx'}'`);
    return v;
  }

  private schemaFor(node: Node): OpSchema {
    let s = this.schemaCache.get(node);
    if (!s) {
      const opset = this.opsetOf(node.domain);
      s = lookupOp(node.domain, node.op, opset);
      if (!s) {
        throw new TesseraError(`unknown op ${node.domain ? node.domain + '.' : ''}${node.op} (opset ${opset})`, { node: node.name, op: node.op });
      }
      if (s.unsupported) throw new TesseraError(s.unsupported, { node: node.name, op: node.op });
      this.schemaCache.set(node, s);
    }
    return s;
  }

  /** Runs the main graph with inputs by name; returns outputs by name. Feeds are validated first. */
  run(feeds: Record<string, RuntimeValue>): Record<string, RuntimeValue> {
    const g = this.model.graph;
    this.deadline = this.options.deadlineMs ? Date.now() + this.options.deadlineMs : Infinity;
    validateFeeds(g, feeds);
    const overrides = new Map<Value, RuntimeValue>();
    for (const v of g.inputs) if (g.initializers.has(v) && feeds[v.name] !== undefined) overrides.set(v, feeds[v.name]!);
    const inputs = g.inputs.filter((v) => !g.initializers.has(v)).map((v) => feeds[v.name]);
    const outs = this.runGraph(g, inputs, undefined, true, overrides);
    const result: Record<string, RuntimeValue> = {};
    g.outputs.forEach((v, i) => { result[v.name] = outs[i]!; });
    return result;
  }

  /**
   * Executes `g` in a child scope of `parent`. Graph inputs that are initializers take the initializer's
   * value unless a feed overrides them (ONNX semantics); `inputs` lists the non-initializer inputs in
   * order for the main graph, or all formal inputs for sub-graphs.
   */
  runGraph(g: Graph, inputs: (RuntimeValue | undefined)[], parent: Scope | undefined, isMain = false,
    overrides?: Map<Value, RuntimeValue>): RuntimeValue[] {
    // Checked here as well as between nodes, so that loops over bodies without nodes stay interruptible.
    if (Date.now() > this.deadline) throw new TesseraError(`run exceeded its time limit of ${this.options.deadlineMs} ms (in graph '${g.name}')`);
    const scope = new Scope(parent);
    for (const [v, t] of g.initializers) scope.values.set(v, overrides?.get(v) ?? t);
    const formals = isMain ? g.inputs.filter((v) => !g.initializers.has(v)) : g.inputs;
    formals.forEach((v, i) => {
      const x = inputs[i];
      if (x !== undefined) scope.values.set(v, x);
    });

    // Release intermediate values after their last use in this graph (sub-graph uses count as uses).
    const lastUse = new Map<Value, number>();
    g.nodes.forEach((n, i) => {
      for (const v of n.inputs) if (v) lastUse.set(v, i);
      for (const { graph } of regionsOf(n)) for (const v of capturedValues(graph)) lastUse.set(v, i);
    });
    const keep = new Set(g.outputs);

    for (let i = 0; i < g.nodes.length; i++) {
      const node = g.nodes[i]!;
      if (Date.now() > this.deadline) {
        throw new TesseraError(`run exceeded its time limit of ${this.options.deadlineMs} ms`, { node: node.name, op: node.op });
      }
      const schema = this.schemaFor(node);
      const args = node.inputs.map((v) => {
        if (!v || v.name === '') return undefined;
        const x = scope.get(v);
        if (x === undefined) {
          throw new TesseraError(`input '${v.name}' has no value (not fed, not computed)`, { node: node.name, op: node.op });
        }
        return x;
      });
      let results: (RuntimeValue | undefined)[];
      try {
        const ctx = makeRunContext(node, schema, this.opsetOf(node.domain), args,
          (sub, subInputs) => this.runGraph(sub, subInputs, scope), this.random);
        results = schema.run(ctx);
      } catch (e) {
        throw asPlacedError(e, node, args);
      }
      node.outputs.forEach((v, k) => {
        if (!v || v.name === '') return;
        const r = results[k];
        if (r === undefined) {
          throw new TesseraError(`produced no value for output ${k} ('${v.name}')`, { node: node.name, op: node.op });
        }
        scope.values.set(v, r);
      });
      for (const v of node.inputs) {
        if (v && lastUse.get(v) === i && !keep.has(v) && !g.initializers.has(v)) scope.values.delete(v);
      }
    }
    return g.outputs.map((v) => {
      const x = scope.get(v);
      if (x === undefined) throw new TesseraError(`graph '${g.name}' output '${v.name}' was never computed`);
      return x;
    });
  }
}

/** Checks names, kinds, dtypes and shapes of the feeds against the graph's declared inputs. */
export function validateFeeds(g: Graph, feeds: Record<string, RuntimeValue>): void {
  const known = new Set(g.inputs.map((v) => v.name));
  const formals = g.inputs.filter((v) => !g.initializers.has(v));
  for (const name of Object.keys(feeds)) {
    if (!known.has(name)) {
      throw new TesseraError(`unknown input '${name}' (the model's inputs are ${formals.map((v) => v.name).join(', ') || 'none'})`);
    }
  }
  const symbols = new Map<string, number>();
  for (const v of formals) {
    const x = feeds[v.name];
    if (x === undefined) {
      if (v.type?.kind === 'optional') continue;
      throw new TesseraError(`input '${v.name}' is missing`);
    }
    const t = v.type;
    if (!t) continue;
    if (t.kind === 'tensor') {
      if (x.kind !== 'tensor') throw new TesseraError(`input '${v.name}' must be a tensor, got a ${x.kind}`);
      if (x.dtype !== t.dtype) throw new TesseraError(`input '${v.name}' must have dtype ${t.dtype}, got ${x.dtype}`);
      if (!t.shape) continue;
      const want = `[${t.shape.join(',')}]`;
      if (x.shape.length !== t.shape.length) {
        throw new TesseraError(`input '${v.name}' must have shape ${want} (rank ${t.shape.length}), got [${x.shape.join(',')}]`);
      }
      t.shape.forEach((d, i) => {
        const got = x.shape[i]!;
        if (typeof d === 'number') {
          if (d !== got) throw new TesseraError(`input '${v.name}' must have shape ${want}, got [${x.shape.join(',')}] (dimension ${i} is ${got}, expected ${d})`);
        } else {
          const prev = symbols.get(d);
          if (prev !== undefined && prev !== got) {
            throw new TesseraError(`input '${v.name}' dimension ${i} ('${d}') is ${got}, but '${d}' is ${prev} in another input`);
          }
          symbols.set(d, got);
        }
      });
    } else if (t.kind === 'sequence' && x.kind !== 'sequence') {
      throw new TesseraError(`input '${v.name}' must be a sequence, got a ${x.kind}`);
    }
  }
}

function regionsOf(n: Node): { graph: Graph }[] {
  const out: { graph: Graph }[] = [];
  for (const a of n.attrs.values()) {
    if (a.kind === 'graph') out.push({ graph: a.value });
    else if (a.kind === 'graphs') for (const g of a.value) out.push({ graph: g });
  }
  return out;
}

const captureCache = new WeakMap<Graph, Set<Value>>();
/** Values a sub-graph (or its nested sub-graphs) reads from enclosing scopes. */
export function capturedValues(g: Graph): Set<Value> {
  let c = captureCache.get(g);
  if (c) return c;
  const defined = new Set<Value>([...g.inputs, ...g.initializers.keys()]);
  for (const n of g.nodes) for (const v of n.outputs) if (v) defined.add(v);
  c = new Set<Value>();
  for (const n of g.nodes) {
    for (const v of n.inputs) if (v && !defined.has(v)) c.add(v);
    for (const { graph } of regionsOf(n)) for (const v of capturedValues(graph)) if (!defined.has(v)) c.add(v);
  }
  for (const v of g.outputs) if (!defined.has(v)) c.add(v);
  captureCache.set(g, c);
  return c;
}

function asPlacedError(e: unknown, node: Node, args: (RuntimeValue | undefined)[]): Error {
  if (e instanceof TesseraError) return e.at({ node: node.name, op: node.op });
  if (e instanceof RangeError) {
    // Allocation failures and invalid lengths are user-visible limits, not crashes.
    return new TesseraError(`${e.message} (inputs: ${args.map(describeValue).join(', ')})`, { node: node.name, op: node.op });
  }
  const err = e as Error;
  const wrapped = new Error(`internal error in node '${node.name}' (${node.op}) with inputs ${args.map(describeValue).join(', ')}: ${err.message}`);
  wrapped.stack = `${wrapped.message}\n${err.stack ?? ''}`;
  return wrapped;
}
