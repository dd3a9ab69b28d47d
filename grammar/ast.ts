// The syntax tree the parser produces: plain data holding the tokens (for line:column in semantic errors).
// Building the IR from it (names resolved through scopes, literals converted) is grammar/build.ts.
import type { IToken } from 'chevrotain';

export type TypeAst =
  | { kind: 'unknown'; tok: IToken }
  | { kind: 'tensor'; tok: IToken; dims: IToken[] | undefined }
  | { kind: 'sequence' | 'optional'; tok: IToken; elem: TypeAst };

/** `f32[2,3] {1, 2, …}` or `f32[64,3,3,3] @blob("w")`; `nans` holds `nan(0x…)` payloads by element index. */
export interface TensorAst {
  tok: IToken;
  dims: IToken[];
  elems: IToken[] | undefined;
  nans: { index: number; bits: IToken }[];
  blob: IToken | undefined;
}

export type AttrValueAst =
  | { kind: 'scalar'; tok: IToken }
  | { kind: 'tensor'; tok: IToken; tensor: TensorAst }
  | { kind: 'graph'; tok: IToken; graph: GraphAst }
  | { kind: 'type'; tok: IToken; type: TypeAst }
  | { kind: 'list'; tok: IToken; tag: IToken | undefined; items: AttrValueAst[] };

export interface AttrAst { name: IToken; value: AttrValueAst }

export interface CallAst {
  kind: 'call';
  /** One token (`Relu`, `com.microsoft.Foo`, `"odd op"`) or two (`"domain"."op"`). */
  op: IToken[];
  attrs: AttrAst[];
  /** Underscore tokens mark omitted inputs. */
  args: IToken[];
  nodeName: IToken | undefined;
}

export interface LhsAst { name: IToken; type: TypeAst | undefined }

export interface StmtAst {
  lhs: LhsAst[];
  rhs: CallAst | { kind: 'tensor'; tensor: TensorAst };
}

export interface ParamAst { type: TypeAst; name: IToken; init: TensorAst | undefined }

export interface GraphAst {
  tok: IToken;
  name: IToken | undefined;
  inputs: ParamAst[];
  outputs: ParamAst[];
  body: StmtAst[];
}

export interface ModelFieldAst { key: IToken; value: IToken | { tok: IToken; entries: [IToken, IToken][] } }

export interface ModelAst {
  opsets: { tok: IToken; entries: [IToken, IToken][] }[];
  fields: ModelFieldAst[];
  graph: GraphAst;
}
