// A stream of random choices that fast-check generates and shrinks. Every decision of the graph builder
// (which op, which dtype, which shape, which attribute) reads the next number of the stream, reduced to
// the range asked for. Zero is always the simplest option (an exhausted stream reads zeros), so shrinking a
// stream towards zeros and dropping its tail walks a failing graph towards the simplest one that still fails.
export class Choices {
  private i = 0;
  constructor(private readonly xs: readonly number[]) {}

  /** An integer in [0, n); 0 when the stream is exhausted. */
  below(n: number): number {
    if (n <= 1) return 0;
    const x = this.xs[this.i++];
    return x === undefined ? 0 : x % n;
  }

  /** An integer in [lo, hi]; shrinks towards lo. */
  int(lo: number, hi: number): number {
    return lo + this.below(hi - lo + 1);
  }

  /** One of the options; shrinks towards the first. */
  pick<T>(options: readonly T[]): T {
    if (options.length === 0) throw new Error('Choices.pick of an empty list');
    return options[this.below(options.length)]!;
  }

  /** true with about `percent` percent probability; shrinks to false. */
  chance(percent: number): boolean {
    return this.below(100) >= 100 - percent;
  }

  /** A random subset of 0..n-1 in increasing order; shrinks towards the empty set. */
  subset(n: number, percent = 50): number[] {
    const out: number[] = [];
    for (let i = 0; i < n; i++) if (this.chance(percent)) out.push(i);
    return out;
  }

  /** A random permutation of 0..n-1; shrinks towards the identity. */
  permutation(n: number): number[] {
    const p = Array.from({ length: n }, (_, i) => i);
    for (let i = 0; i < n - 1; i++) {
      const j = i + this.below(n - i);
      [p[i], p[j]] = [p[j]!, p[i]!];
    }
    return p;
  }
}
