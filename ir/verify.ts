// The executable verifier of the graph IR: SSA (one definition per value), definitions dominate uses
// (nodes are in topological order, sub-graphs see enclosing values), graph outputs are defined, and
// every node names a known op. Tests run it after every pass.
import { TesseraError } from './errors.ts';
import type { Graph, Model, Value } from './graph.ts';
import { isOpKnown } from './registry.ts';

export function verifyModel(model: Model): void {
  if (!model.opsets.has('')) throw new TesseraError('the model imports no ai.onnx opset');
  verifyGraph(model.graph, [], model);
}

function verifyGraph(g: Graph, outer: Set<Value>[], model: Model): void {
  const defined = new Set<Value>();
  const define = (v: Value, what: string) => {
    if (defined.has(v)) {
      throw new TesseraError(`value '${v.name}' is defined twice (${what})`);
    }
    defined.add(v);
  };
  for (const v of g.inputs) define(v, 'graph input');
  for (const v of g.initializers.keys()) if (!defined.has(v)) define(v, 'initializer');
  const visible = (v: Value) => defined.has(v) || outer.some((s) => s.has(v));
  for (const node of g.nodes) {
    const place = { node: node.name, op: node.op };
    if (!model.opsets.has(node.domain)) {
      throw new TesseraError(`domain '${node.domain}' is not imported by the model`, place);
    }
    if (!isOpKnown(node.domain, node.op)) {
      throw new TesseraError(`unknown op ${node.domain ? node.domain + '.' : ''}${node.op}`, place);
    }
    for (const v of node.inputs) {
      if (v && !visible(v)) throw new TesseraError(`input '${v.name}' is used before it is defined`, place);
    }
    for (const a of node.attrs.values()) {
      const gs = a.kind === 'graph' ? [a.value] : a.kind === 'graphs' ? a.value : [];
      for (const sg of gs) {
        try { verifyGraph(sg, [...outer, defined], model); } catch (e) {
          throw e instanceof TesseraError ? e.at(place) : e;
        }
      }
    }
    for (const v of node.outputs) {
      if (!v) continue;
      if (defined.has(v)) throw new TesseraError(`output '${v.name}' is defined twice`, place);
      if (v.producer !== node) throw new TesseraError(`output '${v.name}' does not record this node as its producer`, place);
      defined.add(v);
    }
  }
  for (const v of g.outputs) {
    if (!visible(v)) throw new TesseraError(`graph${g.name ? ` '${g.name}'` : ''} output '${v.name}' is not defined`);
  }
}
