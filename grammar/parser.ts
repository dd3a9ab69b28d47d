// The chevrotain parser of the textual IR. Rules only build a syntax tree (grammar/ast.ts); names, types and
// literals become IR in grammar/build.ts, so semantic errors carry the token's line:column too.
//
// Layering for later IR levels: `LiteralRules` holds what every level shares (names, types, tensor
// literals); `GraphParser` adds the graph level. A kernel-IR parser extends LiteralRules with its own rules
// (and its keywords via lexer.keyword()) and reuses the lexer vocabulary — an extension, not a rewrite.
import { EmbeddedActionsParser, type IParserErrorMessageProvider, type IToken, type TokenType } from 'chevrotain';
import { TesseraError } from '../ir/errors.ts';
import type { Model } from '../ir/graph.ts';
import type { Tensor } from '../ir/tensor.ts';
import type { AttrAst, AttrValueAst, CallAst, GraphAst, LhsAst, ModelAst, ModelFieldAst, ParamAst, StmtAst, TensorAst, TypeAst } from './ast.ts';
import { buildModel } from './build.ts';
import {
  Arrow, At, Colon, Comma, describeToken, Dot, DTypeTok, Equals, GRAPH_TOKENS, graphLexer, HexLit, Identifier, IntLit,
  KwBlob, KwGraph, KwModel, KwOpset, KwOpt, KwSeq, KwType, LAngle, LBrace, LBracket, ListTagTok, LParen, NumberTok,
  Question, RAngle, RBrace, RBracket, RParen, ScalarTok, Star, StringLit, tokenPlace, Underscore,
} from './lexer.ts';

const label = (t: TokenType) => t.LABEL ?? t.name;
const uniq = (xs: string[]) => [...new Set(xs)];

/** Messages name what was expected and what was found; the caller prefixes line:column. */
const messages: IParserErrorMessageProvider = {
  buildMismatchTokenMessage: ({ expected, actual }) => foundMessage([label(expected)], actual),
  buildNotAllInputParsedMessage: ({ firstRedundant }) => `expected the end of the text but found ${describeToken(firstRedundant)}`,
  buildNoViableAltMessage: ({ expectedPathsPerAlt, actual, customUserDescription }) =>
    foundMessage(customUserDescription ? [customUserDescription] : uniq(expectedPathsPerAlt.flat().map((p) => label(p[0]!))), actual[0]),
  buildEarlyExitMessage: ({ expectedIterationPaths, actual, customUserDescription }) =>
    foundMessage(customUserDescription ? [customUserDescription] : uniq(expectedIterationPaths.map((p) => label(p[0]!))), actual[0]),
};

function foundMessage(expected: string[], actual: IToken | undefined): string {
  const list = expected.length === 1 ? expected[0]! : `one of ${expected.join(', ')}`;
  return `expected ${list} but found ${describeToken(actual)}`;
}

/** Rules shared by every IR level: names, value types, tensor literals. */
export class LiteralRules extends EmbeddedActionsParser {
  constructor(tokens: TokenType[]) {
    super(tokens, { maxLookahead: 3, errorMessageProvider: messages, recoveryEnabled: false });
  }

  name = this.RULE('name', (): IToken => this.OR([
    { ALT: () => this.CONSUME(Identifier) },
    { ALT: () => this.CONSUME(StringLit) },
  ]));

  /** A dtype keyword; any other name here is reported by the builder as an unknown dtype. */
  dtype = this.RULE('dtype', (): IToken => this.OR([
    { ALT: () => this.CONSUME(DTypeTok) },
    { ALT: () => this.CONSUME(Identifier) },
  ]));

  /** `f32[2,N]`, `f32[*]` (rank unknown), `seq<…>`, `opt<…>`, `?` (unknown). */
  typeOrUnknown = this.RULE('typeOrUnknown', (): TypeAst => this.OR([
    { ALT: () => ({ kind: 'unknown', tok: this.CONSUME(Question) }) },
    { ALT: () => this.SUBRULE(this.valueType) },
  ]));

  valueType = this.RULE('valueType', (): TypeAst => this.OR([
    { ALT: () => {
      const tok = this.SUBRULE(this.dtype);
      this.CONSUME(LBracket);
      const dims = this.OR2([
        { ALT: () => { this.CONSUME(Star); return undefined; } },
        { ALT: () => {
          const ds: IToken[] = [];
          this.MANY_SEP({ SEP: Comma, DEF: () => ds.push(this.OR3([
            { ALT: () => this.CONSUME(IntLit) },
            { ALT: () => this.CONSUME(Identifier) },
            { ALT: () => this.CONSUME(StringLit) },
          ])) });
          return ds;
        } },
      ]);
      this.CONSUME(RBracket);
      return { kind: 'tensor' as const, tok, dims };
    } },
    { ALT: () => {
      const tok = this.OR4([{ ALT: () => this.CONSUME(KwSeq) }, { ALT: () => this.CONSUME(KwOpt) }]);
      this.CONSUME(LAngle);
      const elem = this.SUBRULE(this.typeOrUnknown);
      this.CONSUME(RAngle);
      return { kind: tok.tokenType === KwSeq ? 'sequence' as const : 'optional' as const, tok, elem };
    } },
  ]));

  /** `f32[2,2] {1, 2, 3, nan(0x7fc00001)}` or `f32[64,3,3,3] @blob("name")`. */
  tensor = this.RULE('tensor', (): TensorAst => {
    const tok = this.SUBRULE(this.dtype);
    this.CONSUME(LBracket);
    const dims: IToken[] = [];
    this.MANY_SEP({ SEP: Comma, DEF: () => dims.push(this.CONSUME(IntLit)) });
    this.CONSUME(RBracket);
    let elems: IToken[] | undefined;
    let blob: IToken | undefined;
    const nans: TensorAst['nans'] = [];
    this.OR([
      { ALT: () => {
        this.CONSUME(LBrace);
        const es: IToken[] = [];
        this.MANY_SEP2({ SEP: Comma, DEF: () => {
          es.push(this.CONSUME(ScalarTok));
          this.OPTION(() => {
            this.CONSUME2(LParen);
            nans.push({ index: es.length - 1, bits: this.CONSUME(HexLit) });
            this.CONSUME2(RParen);
          });
        } });
        this.CONSUME(RBrace);
        elems = es;
      } },
      { ALT: () => {
        this.CONSUME(At);
        this.CONSUME(KwBlob);
        this.CONSUME(LParen);
        blob = this.CONSUME(StringLit);
        this.CONSUME(RParen);
      } },
    ]);
    return { tok, dims, elems, nans, blob };
  });
}

/** The graph level: `opset {…}`, `model {…}`, `graph name (inputs) => (outputs) { statements }`. */
export class GraphParser extends LiteralRules {
  constructor() {
    super(GRAPH_TOKENS);
    this.performSelfAnalysis();
  }

  model = this.RULE('model', (): ModelAst => {
    const opsets: ModelAst['opsets'] = [];
    const fields: ModelFieldAst[][] = [];
    this.MANY(() => this.OR([
      { ALT: () => { opsets.push(this.SUBRULE(this.opsetBlock)); } },
      { ALT: () => { fields.push(this.SUBRULE(this.modelBlock)); } },
    ]));
    const graph = this.SUBRULE(this.graph);
    return { opsets, fields: fields.flat(), graph };
  });

  opsetBlock = this.RULE('opsetBlock', () => {
    const tok = this.CONSUME(KwOpset);
    this.CONSUME(LBrace);
    const entries: [IToken, IToken][] = [];
    this.MANY_SEP({ SEP: Comma, DEF: () => {
      const k = this.SUBRULE(this.name);
      this.CONSUME(Colon);
      entries.push([k, this.CONSUME(IntLit)]);
    } });
    this.CONSUME(RBrace);
    return { tok, entries };
  });

  /** `model { ir_version: 8, producer: "pytorch", metadata: { "key": "value" } }` */
  modelBlock = this.RULE('modelBlock', (): ModelFieldAst[] => {
    this.CONSUME(KwModel);
    this.CONSUME(LBrace);
    const fields: ModelFieldAst[] = [];
    this.MANY_SEP({ SEP: Comma, DEF: () => {
      const key = this.SUBRULE(this.name);
      this.CONSUME(Colon);
      const value = this.OR([
        { ALT: () => this.CONSUME(NumberTok) },
        { ALT: () => this.CONSUME(StringLit) },
        { ALT: () => {
          const tok = this.CONSUME2(LBrace);
          const entries: [IToken, IToken][] = [];
          this.MANY_SEP2({ SEP: Comma, DEF: () => {
            const k = this.SUBRULE2(this.name);
            this.CONSUME2(Colon);
            entries.push([k, this.CONSUME2(StringLit)]);
          } });
          this.CONSUME2(RBrace);
          return { tok, entries };
        } },
      ]);
      fields.push({ key, value });
    } });
    this.CONSUME(RBrace);
    return fields;
  });

  graph = this.RULE('graph', (): GraphAst => {
    const tok = this.CONSUME(KwGraph);
    const name = this.OPTION(() => this.SUBRULE(this.name));
    this.CONSUME(LParen);
    const inputs: ParamAst[] = [];
    this.MANY_SEP({ SEP: Comma, DEF: () => inputs.push(this.SUBRULE(this.param)) });
    this.CONSUME(RParen);
    this.CONSUME(Arrow);
    this.CONSUME2(LParen);
    const outputs: ParamAst[] = [];
    this.MANY_SEP2({ SEP: Comma, DEF: () => outputs.push(this.SUBRULE2(this.param)) });
    this.CONSUME2(RParen);
    this.CONSUME(LBrace);
    const body: StmtAst[] = [];
    this.MANY(() => body.push(this.SUBRULE(this.stmt)));
    this.CONSUME(RBrace);
    return { tok, name, inputs, outputs, body };
  });

  /** `f32[N] x` or, for a graph input with an overridable default, `f32[3] b = f32[3] {1, 2, 3}`. */
  param = this.RULE('param', (): ParamAst => {
    const type = this.SUBRULE(this.typeOrUnknown);
    const name = this.SUBRULE(this.name);
    const init = this.OPTION(() => { this.CONSUME(Equals); return this.SUBRULE(this.tensor); });
    return { type, name, init };
  });

  stmt = this.RULE('stmt', (): StmtAst => this.OR([
    { ALT: () => ({ lhs: [], rhs: this.SUBRULE(this.call) }) },
    { ALT: () => {
      const lhs: LhsAst[] = [];
      this.AT_LEAST_ONE_SEP({ SEP: Comma, DEF: () => lhs.push(this.SUBRULE(this.lhsItem)) });
      this.CONSUME(Equals);
      const rhs = this.OR2([
        { ALT: () => ({ kind: 'tensor' as const, tensor: this.SUBRULE(this.tensor) }) },
        { ALT: () => this.SUBRULE2(this.call) },
      ]);
      return { lhs, rhs };
    } },
  ]));

  lhsItem = this.RULE('lhsItem', (): LhsAst => {
    const name = this.OR([{ ALT: () => this.CONSUME(Underscore) }, { ALT: () => this.SUBRULE(this.name) }]);
    const type = this.OPTION(() => { this.CONSUME(Colon); return this.SUBRULE(this.typeOrUnknown); });
    return { name, type };
  });

  /** `Op<attr=value, …>(a, _, b) @node_name`; the op may carry a domain: `com.microsoft.Op`, `"dom"."op"`. */
  call = this.RULE('call', (): CallAst => {
    const op = [this.SUBRULE(this.name)];
    this.OPTION(() => { this.CONSUME(Dot); op.push(this.SUBRULE2(this.name)); });
    const attrs: AttrAst[] = [];
    this.OPTION2(() => {
      this.CONSUME(LAngle);
      this.MANY_SEP({ SEP: Comma, DEF: () => attrs.push(this.SUBRULE(this.attr)) });
      this.CONSUME(RAngle);
    });
    this.CONSUME(LParen);
    const args: IToken[] = [];
    this.MANY_SEP2({ SEP: Comma, DEF: () => args.push(this.OR([
      { ALT: () => this.CONSUME(Underscore) },
      { ALT: () => this.SUBRULE3(this.name) },
    ])) });
    this.CONSUME(RParen);
    const nodeName = this.OPTION3(() => { this.CONSUME(At); return this.SUBRULE4(this.name); });
    return { kind: 'call', op, attrs, args, nodeName };
  });

  attr = this.RULE('attr', (): AttrAst => {
    const name = this.SUBRULE(this.name);
    this.CONSUME(Equals);
    return { name, value: this.SUBRULE(this.attrValue) };
  });

  attrValue = this.RULE('attrValue', (): AttrValueAst => this.OR([
    { ALT: () => ({ kind: 'scalar', tok: this.CONSUME(NumberTok) }) },
    { ALT: () => ({ kind: 'scalar', tok: this.CONSUME(StringLit) }) },
    { ALT: () => { const tensor = this.SUBRULE(this.tensor); return { kind: 'tensor', tok: tensor.tok, tensor }; } },
    { ALT: () => { const graph = this.SUBRULE(this.graph); return { kind: 'graph', tok: graph.tok, graph }; } },
    { ALT: () => { const tok = this.CONSUME(KwType); return { kind: 'type', tok, type: this.SUBRULE(this.valueType) }; } },
    { ALT: () => {
      const tag = this.OPTION(() => this.CONSUME(ListTagTok));
      const tok = this.CONSUME(LBracket);
      const items: AttrValueAst[] = [];
      this.MANY_SEP({ SEP: Comma, DEF: () => items.push(this.SUBRULE2(this.attrValue)) });
      this.CONSUME(RBracket);
      return { kind: 'list', tok: tag ?? tok, tag, items };
    } },
  ]));
}

let parser: GraphParser | undefined;
const graphParser = () => (parser ??= new GraphParser());

export interface ParseOptions {
  /** Named in error messages (the .tir path). */
  file?: string;
}

/**
 * Parses the textual graph IR into a Model. `blobs` resolves `@blob("name")` tensors (see printModel).
 * Every failure — lexical, syntactic or semantic — is a TesseraError whose reason starts with line:column.
 */
export function parseModel(text: string, blobs: ReadonlyMap<string, Tensor> = new Map(), opts: ParseOptions = {}): Model {
  const place = { file: opts.file };
  const lexed = graphLexer().tokenize(text);
  if (lexed.errors.length > 0) {
    const e = lexed.errors[0]!;
    const ch = text[e.offset] ?? '';
    const what = ch === '"' ? 'an unterminated string or a bad escape in a string' : `unexpected character ${JSON.stringify(ch)}`;
    throw new TesseraError(`${e.line ?? '?'}:${e.column ?? '?'}: ${what}`, place);
  }
  const p = graphParser();
  p.input = lexed.tokens;
  let ast: ModelAst;
  try {
    ast = p.model();
  } catch (e) {
    if (e instanceof RangeError) throw new TesseraError(`the text is nested too deeply to parse`, place);
    throw e;
  }
  if (p.errors.length > 0) {
    const e = p.errors[0]!;
    throw new TesseraError(`${tokenPlace(e.token, text)}: ${e.message}`, place);
  }
  try {
    return buildModel(ast, blobs, text, place);
  } catch (e) {
    if (e instanceof RangeError) throw new TesseraError(`the text is nested too deeply to parse`, place);
    throw e;
  }
}
