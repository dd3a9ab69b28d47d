// Runtime values of the reference interpreter: tensors, sequences, optionals.
import { allocData, isBigInt, roundFloatsInPlace, type DType, type TensorData } from './dtype.ts';
import { TesseraError } from './errors.ts';

/** Largest element count a single tensor may have (guards against absurd shapes in models). */
export const MAX_TENSOR_ELEMENTS = 2 ** 31 - 1;

export function sizeOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function stridesOf(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) { s[i] = acc; acc *= shape[i]!; }
  return s;
}

/** Checks a concrete shape is valid and not absurdly large; returns its element count. */
export function checkShape(shape: readonly number[], what = 'tensor'): number {
  let n = 1;
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) throw new TesseraError(`${what} has invalid dimension ${d} in shape [${shape.join(',')}]`);
    n *= d;
  }
  if (n > MAX_TENSOR_ELEMENTS) {
    throw new TesseraError(`${what} shape [${shape.join(',')}] has ${n} elements, more than the limit of ${MAX_TENSOR_ELEMENTS}`);
  }
  return n;
}

export class Tensor {
  readonly kind = 'tensor' as const;
  constructor(
    readonly dtype: DType,
    readonly shape: readonly number[],
    readonly data: TensorData,
  ) {}

  get size(): number { return this.data.length; }
  get rank(): number { return this.shape.length; }

  /** Zero-filled tensor (validated shape). */
  static zeros(dtype: DType, shape: readonly number[]): Tensor {
    return new Tensor(dtype, shape, allocData(dtype, checkShape(shape)));
  }

  /** Builds a tensor from plain values (numbers, bigints, booleans or strings); rounds f16/bf16. */
  static from(dtype: DType, shape: readonly number[], values: ArrayLike<number | bigint | boolean | string>): Tensor {
    const n = checkShape(shape);
    if (values.length !== n) throw new TesseraError(`tensor of shape [${shape.join(',')}] needs ${n} values, got ${values.length}`);
    const data = allocData(dtype, n);
    if (dtype === 'string') for (let i = 0; i < n; i++) (data as string[])[i] = String(values[i]);
    else if (isBigInt(dtype)) {
      const a = data as BigInt64Array;
      for (let i = 0; i < n; i++) { const v = values[i]!; a[i] = typeof v === 'bigint' ? v : BigInt(Math.trunc(Number(v))); }
    } else {
      const a = data as Float64Array;
      for (let i = 0; i < n; i++) { const v = values[i]!; a[i] = typeof v === 'bigint' ? Number(v) : Number(v); }
      roundFloatsInPlace(dtype, data);
    }
    return new Tensor(dtype, shape, data);
  }

  static scalar(dtype: DType, v: number | bigint | boolean | string): Tensor {
    return Tensor.from(dtype, [], [v]);
  }

  /** Element i as a JS number (bigints converted; strings not allowed). */
  num(i: number): number {
    const v = this.data[i];
    return typeof v === 'bigint' ? Number(v) : (v as number);
  }

  /** All elements as JS numbers (for shape-like tensors: axes, pads, sizes). */
  toNumbers(): number[] {
    const out = new Array<number>(this.data.length);
    for (let i = 0; i < out.length; i++) out[i] = this.num(i);
    return out;
  }

  reshape(shape: readonly number[]): Tensor {
    return new Tensor(this.dtype, shape, this.data);
  }
}

export interface SequenceValue {
  kind: 'sequence';
  /** Element dtype when known (an empty sequence still has one). */
  dtype: DType | undefined;
  items: Tensor[];
}

export interface OptionalValue {
  kind: 'optional';
  value: Tensor | SequenceValue | undefined;
}

export type RuntimeValue = Tensor | SequenceValue | OptionalValue;

export function describeValue(v: RuntimeValue | undefined): string {
  if (v === undefined) return 'none';
  if (v.kind === 'tensor') return `${v.dtype}[${v.shape.join(',')}]`;
  if (v.kind === 'sequence') return `seq<${v.dtype ?? '?'}>(${v.items.length})`;
  return `opt<${describeValue(v.value)}>`;
}
