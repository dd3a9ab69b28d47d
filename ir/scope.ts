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
