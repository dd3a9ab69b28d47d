// The tokens of tessera's textual IR, shared by every IR level (graph now, kernel IR later): a later level
// adds its keywords with `keyword()` and builds its lexer from `tokensWith(extra)`, so numbers, strings,
// names and punctuation lex the same everywhere.
import { createToken, Lexer, type IToken, type TokenType } from 'chevrotain';
import { ALL_DTYPES } from '../ir/dtype.ts';

/** A name: letters, digits, '_' and dots between segments (`p2o.Conv.0`, `com.microsoft`). */
export const NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*$/;

export const WhiteSpace = createToken({ name: 'WhiteSpace', pattern: /[ \t\r\n]+/, group: Lexer.SKIPPED, line_breaks: true });
export const Comment = createToken({ name: 'Comment', pattern: /#[^\n]*/, group: Lexer.SKIPPED });

/** Token categories: any literal a tensor element can be, and any number. */
export const ScalarTok = createToken({ name: 'Scalar', pattern: Lexer.NA, label: 'a value' });
export const NumberTok = createToken({ name: 'Number', pattern: Lexer.NA, label: 'a number', categories: [ScalarTok] });

export const Identifier = createToken({ name: 'Identifier', pattern: /[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*/, label: 'a name' });
// JSON string syntax (decoded with JSON.parse): any character can be written.
export const StringLit = createToken({ name: 'StringLit', pattern: /"(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"/, label: 'a string', categories: [ScalarTok] });
export const HexLit = createToken({ name: 'HexLit', pattern: /0x[0-9a-fA-F]+/, label: 'a hex number' });
export const FloatLit = createToken({ name: 'FloatLit', pattern: /-?(?:[0-9]+\.[0-9]*(?:[eE][-+]?[0-9]+)?|[0-9]+[eE][-+]?[0-9]+)/, label: 'a float', categories: [NumberTok, ScalarTok] });
export const IntLit = createToken({ name: 'IntLit', pattern: /-?[0-9]+/, label: 'an integer', categories: [NumberTok, ScalarTok] });
export const NegInf = createToken({ name: 'NegInf', pattern: /-inf/, label: "'-inf'", categories: [NumberTok, ScalarTok] });

const punct = (name: string, text: string) => createToken({ name, pattern: text, label: `'${text}'` });
export const Arrow = punct('Arrow', '=>');
export const Equals = punct('Equals', '=');
export const Comma = punct('Comma', ',');
export const Colon = punct('Colon', ':');
export const Dot = punct('Dot', '.');
export const At = punct('At', '@');
export const Star = punct('Star', '*');
export const Question = punct('Question', '?');
export const LParen = punct('LParen', '(');
export const RParen = punct('RParen', ')');
export const LBracket = punct('LBracket', '[');
export const RBracket = punct('RBracket', ']');
export const LBrace = punct('LBrace', '{');
export const RBrace = punct('RBrace', '}');
export const LAngle = punct('LAngle', '<');
export const RAngle = punct('RAngle', '>');

/** Every keyword of every level: the printer quotes a name that equals one of these. */
export const RESERVED = new Set<string>();
const keywordTokens: TokenType[] = [];

/** A keyword: lexed as itself unless it is the prefix of a longer name (`graphs`, `f32x`). */
export function keyword(word: string, categories?: TokenType[]): TokenType {
  const t = createToken({ name: `Kw_${word}`, pattern: new RegExp(word), longer_alt: Identifier, label: `'${word}'`, ...(categories ? { categories } : {}) });
  RESERVED.add(word);
  keywordTokens.push(t);
  return t;
}

/** The category of the dtype keywords (`f32`, `i64`, ...). */
export const DTypeTok = createToken({ name: 'DType', pattern: Lexer.NA, label: 'a dtype' });
export const DTYPE_TOKENS = new Map<string, TokenType>(ALL_DTYPES.map((d) => [d, keyword(d, [DTypeTok])]));
/** List-kind tags: `ints[]` etc. (an empty list needs its kind written). */
export const ListTagTok = createToken({ name: 'ListTag', pattern: Lexer.NA, label: 'a list kind' });
export const LIST_TAGS = ['ints', 'floats', 'strings', 'tensors', 'graphs', 'types'] as const;
for (const t of LIST_TAGS) keyword(t, [ListTagTok]);

export const KwGraph = keyword('graph');
export const KwOpset = keyword('opset');
export const KwModel = keyword('model');
export const KwType = keyword('type');
export const KwSeq = keyword('seq');
export const KwOpt = keyword('opt');
export const KwNan = keyword('nan', [NumberTok, ScalarTok]);
export const KwInf = keyword('inf', [NumberTok, ScalarTok]);
export const KwTrue = keyword('true', [ScalarTok]);
export const KwFalse = keyword('false', [ScalarTok]);
export const KwBlob = keyword('blob');
export const Underscore = keyword('_');

const BASE_TOKENS = (): TokenType[] => [
  WhiteSpace, Comment, StringLit, HexLit, FloatLit, NegInf, IntLit, Arrow, Equals, Comma, Colon, Dot, At, Star,
  Question, LParen, RParen, LBracket, RBracket, LBrace, RBrace, LAngle, RAngle,
];

/** The token vocabulary of the graph level plus `extra` (keywords of another level, made with keyword()). */
export function tokensWith(extra: TokenType[] = []): TokenType[] {
  // Keywords before Identifier (first match wins; longer_alt hands longer names to Identifier).
  // Longer keywords first, so `graphs` is not lexed as `graph` + longer name.
  const kws = [...keywordTokens.filter((k) => !extra.includes(k)), ...extra]
    .sort((a, b) => String((b.PATTERN as RegExp).source).length - String((a.PATTERN as RegExp).source).length);
  return [...BASE_TOKENS(), ...kws, Identifier, DTypeTok, ListTagTok, ScalarTok, NumberTok];
}

export const GRAPH_TOKENS = tokensWith();
let lexer: Lexer | undefined;
/** The lexer of the graph level (built on first use). */
export const graphLexer = (): Lexer => (lexer ??= new Lexer(GRAPH_TOKENS, { positionTracking: 'full', ensureOptimizations: false }));

/** A name as it must be written: bare when it lexes as one name and is no keyword, else a JSON string. */
export function printName(s: string): string {
  return NAME_RE.test(s) && !RESERVED.has(s) ? s : JSON.stringify(s);
}

/** `line:column` of a token (1-based), or of the end of the text for the end-of-input token. */
export function tokenPlace(tok: IToken | undefined, text: string): string {
  if (tok && Number.isFinite(tok.startLine) && Number.isFinite(tok.startColumn)) return `${tok.startLine}:${tok.startColumn}`;
  return endPlace(text);
}

export function endPlace(text: string): string {
  const lines = text.split('\n');
  return `${lines.length}:${lines[lines.length - 1]!.length + 1}`;
}

/** How a token is shown in an error message. */
export function describeToken(tok: IToken | undefined): string {
  if (!tok || tok.tokenType.name === 'EOF') return 'the end of the text';
  const img = tok.image.length > 40 ? `${tok.image.slice(0, 40)}…` : tok.image;
  return `'${img}'`;
}
