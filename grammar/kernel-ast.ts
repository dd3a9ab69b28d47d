// The syntax tree of the textual kernel IR: plain data holding tokens, so the builder (kernel-build.ts)
// reports semantic errors (undefined names, type mismatches) at line:column.
import type { IToken } from 'chevrotain';

export type KExprAst =
  /** A number, true/false, nan/inf; `neg` is a `-` written directly before it; `type` is `:type`. */
  | { kind: 'lit'; tok: IToken; neg: IToken | undefined; type: IToken | undefined }
  | { kind: 'name'; tok: IToken }
  | { kind: 'paren'; tok: IToken; a: KExprAst }
  | { kind: 'call'; tok: IToken; args: KExprAst[] }
  /** cast<T>(x), bitcast<T>(x), broadcast<T>(x). */
  | { kind: 'typed'; tok: IToken; type: IToken; a: KExprAst }
  | { kind: 'load'; tok: IToken; type: IToken | undefined; buffer: IToken; index: KExprAst }
  | { kind: 'binary'; tok: IToken; a: KExprAst; b: KExprAst }
  | { kind: 'unary'; tok: IToken; a: KExprAst };

export interface KAtomicAst {
  tok: IToken;
  op: IToken;
  buffer: IToken;
  index: KExprAst;
  value: KExprAst;
  order: IToken;
  scope: IToken;
}

export type KStmtAst =
  | { kind: 'let'; tok: IToken; name: IToken; value: KExprAst }
  | { kind: 'atomic'; tok: IToken; result: IToken | undefined; atomic: KAtomicAst }
  | { kind: 'local'; tok: IToken; name: IToken; type: IToken; init: KExprAst }
  | { kind: 'assign'; tok: IToken; name: IToken; value: KExprAst }
  | { kind: 'store'; tok: IToken; buffer: IToken; index: KExprAst; value: KExprAst }
  | { kind: 'loop'; tok: IToken; loopKind: IToken | undefined; var: IToken; start: KExprAst; end: KExprAst; step: IToken | undefined; body: KStmtAst[] }
  | { kind: 'if'; tok: IToken; cond: KExprAst; then: KStmtAst[]; else: KStmtAst[] }
  | { kind: 'barrier'; tok: IToken; scope: IToken }
  | { kind: 'comment'; tok: IToken; text: IToken };

export interface KBufferAst { tok: IToken; elem: IToken; name: IToken; size: KExprAst; access: IToken; space: IToken | undefined }

/** `matmul {a: x, b: w, …}`: a field's value is a dtype (`elem: f32`) or an expression (names, sizes, true/false). */
export interface KPatternAst {
  kind: IToken;
  fields: { name: IToken; dtype: IToken | undefined; value: KExprAst | undefined }[];
}

export interface KernelAst {
  tok: IToken;
  name: IToken;
  buffers: KBufferAst[];
  sizes: IToken[];
  pattern: KPatternAst | undefined;
  body: KStmtAst[];
}
