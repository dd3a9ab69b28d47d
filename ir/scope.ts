// Lexical scopes of nested graphs: a sub-graph sees the names/values of the graphs that enclose it.
export class ScopeChain<K, V> {
  readonly own = new Map<K, V>();
  constructor(readonly parent: ScopeChain<K, V> | undefined) {}

  /** The innermost binding of key, searching outwards. */
  lookup(key: K): V | undefined {
    for (let s: ScopeChain<K, V> | undefined = this; s; s = s.parent) {
      const v = s.own.get(key);
      if (v !== undefined) return v;
    }
    return undefined;
  }
}

/** Nested block scopes inside one function being emitted: bind in the innermost, look names up outwards. */
export class BlockScopes<V> {
  private readonly stack: Map<string, V>[] = [new Map()];

  bind(name: string, v: V): void { this.stack[this.stack.length - 1]!.set(name, v); }

  find(name: string): V | undefined {
    for (let i = this.stack.length - 1; i >= 0; i--) {
      const v = this.stack[i]!.get(name);
      if (v !== undefined) return v;
    }
    return undefined;
  }

  /** Runs f in a new innermost scope, dropped afterwards. */
  scoped<T>(f: () => T): T {
    this.stack.push(new Map());
    try { return f(); } finally { this.stack.pop(); }
  }
}
