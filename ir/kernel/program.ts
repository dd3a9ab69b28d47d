// A compiled program: what lowering produces, what the artifact stores and what an executor runs.
// It is target-neutral: the same Program is rendered to WASM, WGSL or PTX by a backend.
//
// Sizes: symbolic dimensions of the model's inputs stay symbolic. `symbols` binds each to an input's
// axis at run time; buffer sizes, output shapes and kernel size arguments are kernel-IR index
// expressions (i32) over those symbols, so one artifact serves any batch or sequence length.
import type { DType } from '../dtype.ts';
import type { Expr, Kernel, KScalar } from './ir.ts';

export interface SizeSymbol {
  name: string;
  /** Where its value comes from: a dimension of a graph input. */
  from: { input: string; axis: number };
}

export type ProgramBufferKind = 'input' | 'output' | 'weight' | 'temp';

export interface ProgramBuffer {
  name: string;
  elem: KScalar;
  /** Element count, an expression over the symbols. */
  size: Expr;
  kind: ProgramBufferKind;
  /** The graph value it holds (inputs and outputs: the model's input/output name). */
  value?: string;
  /** Weights: the tensor's bytes in the weights blob (little-endian, the storage of `elem`). */
  weight?: { offset: number; byteLength: number };
  /**
   * Temps (and outputs) may share arena memory when their lifetimes do not overlap: the index of the
   * first and last dispatch that touch the buffer (for the memory plan).
   */
  live?: [number, number];
  /** Another buffer this one aliases at the same offset (Reshape/Squeeze/Identity without a copy). */
  aliasOf?: string;
}

export interface Dispatch {
  kernel: string;
  /** Kernel buffer parameter name → program buffer name. */
  buffers: Record<string, string>;
  /** Kernel size parameter name → expression over the symbols. */
  sizes: Record<string, Expr>;
}

export interface ProgramIO {
  name: string;
  dtype: DType;
  /** Each dimension: a constant, or an expression over the symbols. */
  shape: Expr[];
  buffer: string;
}

export interface Program {
  symbols: SizeSymbol[];
  inputs: ProgramIO[];
  outputs: ProgramIO[];
  buffers: ProgramBuffer[];
  kernels: Kernel[];
  /** Executed in order; the order is a topological order of the graph. */
  dispatches: Dispatch[];
  /** Weights blob (all `weight` buffers' bytes). */
  weights: Uint8Array;
}
