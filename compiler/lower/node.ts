// What one op's lowering function sees of its node: inputs as TensorRefs, attributes, the op version,
// and how to read shape-like inputs (constants or symbolic index expressions).
import { TesseraError } from '../../ir/errors.ts';
import type { Node } from '../../ir/graph.ts';
import type { Expr } from '../../ir/kernel/ir.ts';
import type { AttrView } from '../../ir/registry.ts';
import type { Tensor } from '../../ir/tensor.ts';
import { dataDependent, type Lowering, type TensorRef } from './context.ts';
import { ci } from './index-math.ts';

/** What a lowering function sees of its node. */
export class NodeLowering {
  constructor(
    readonly L: Lowering,
    readonly node: Node,
    /** The version of the op's definition in use (ONNX's `since`). */
    readonly since: number,
    /** The model's opset for the node's domain. */
    readonly opset: number,
    readonly attrs: AttrView,
    private readonly ins: (TensorRef | undefined)[],
  ) {}

  get op(): string { return this.node.op; }
  /** Inputs given (trailing omitted ones excluded). */
  get inputCount(): number {
    let n = this.ins.length;
    while (n > 0 && this.ins[n - 1] === undefined) n--;
    return n;
  }
  get outputCount(): number { return this.node.outputs.length; }

  has(i: number): boolean { return this.ins[i] !== undefined; }
  hasOutput(i: number): boolean { const v = this.node.outputs[i]; return !!v && v.name !== ''; }

  input(i: number): TensorRef {
    const r = this.ins[i];
    if (!r) throw new TesseraError(`input ${i} is required but missing`);
    return r;
  }
  optInput(i: number): TensorRef | undefined { return this.ins[i]; }

  /** A compile-time tensor input (or undefined). */
  constant(i: number): Tensor | undefined { return this.ins[i]?.constant; }

  /**
   * The values of a small integer input as index expressions: constants, or symbolic shape arithmetic.
   * Anything else is data the output shape would depend on: a clear error.
   */
  ints(i: number): Expr[] {
    const r = this.input(i);
    if (r.sym) return r.sym;
    if (r.constant) return r.constant.toNumbers().map(clampI32).map(ci);
    throw dataDependent(this.op);
  }

  /** The values of an input that must be known numbers at compile time (axes, pads, repeats, …). */
  constInts(i: number, what: string): number[] {
    const r = this.input(i);
    if (r.constant) return r.constant.toNumbers();
    if (r.sym && r.sym.every((e) => e.kind === 'const')) return r.sym.map((e) => Number((e as { value: number }).value));
    if (r.sym) throw new TesseraError(`${what} depends on symbolic dimensions; compile with --shape to specialize them`);
    throw dataDependent(this.op);
  }

  output(i: number, ref: TensorRef): void { this.L.setOutput(this.node, i, ref); }
}

/** Clamps a compile-time integer (possibly an i64 sentinel like INT64_MAX) into i32. */
export const clampI32 = (x: number): number => Math.max(-(2 ** 31), Math.min(2 ** 31 - 1, x));

export type OpLowering = (n: NodeLowering) => void;

/** Ops whose output depends on symbolic integers only: evaluated at compile time over index expressions. */
export type SymEval = (n: NodeLowering, vals: (Expr[] | undefined)[]) => Expr[][] | undefined;
