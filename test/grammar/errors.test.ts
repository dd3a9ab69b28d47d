// Malformed text gets a TesseraError whose reason starts with line:column and says what was expected —
// never another exception, a stack trace or a hang: hand-written cases plus random mutations of valid text.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseModel, printModel } from '../../grammar/index.ts';
import { TesseraError } from '../../ir/errors.ts';
import { ROOT } from '../util/real-models.ts';
import { RandomModel } from './random-model.ts';
import { TEXT } from './sample-text.ts';

const G = (body: string, sig = '(f32[2] x) => (f32[2] y)') => `opset { ai.onnx: 17 }\ngraph g ${sig} {\n${body}\n}`;

function parseError(text: string): string {
  try { parseModel(text); } catch (e) {
    if (!(e instanceof TesseraError)) throw e;
    return e.message;
  }
  throw new Error(`expected an error for:\n${text}`);
}

const CASES: [string, string, string | RegExp][] = [
  ['empty text', '', "1:1: expected 'graph' but found the end of the text"],
  ['unterminated string', G('  y = Relu("x)'), '3:12: an unterminated string or a bad escape in a string'],
  ['bad escape', G('  y = Relu("\\q")'), '3:12: an unterminated string or a bad escape in a string'],
  ['stray character', G('  y = Relu(x) $'), '3:15: unexpected character "$"'],
  ['missing )', G('  y = Relu(x\n  z = Relu(y)'), "4:3: expected ')' but found 'z'"],
  ['missing =>', 'graph g (f32[2] x) (f32[2] y) {}', "1:20: expected '=>' but found '('"],
  ['missing graph', 'opset { ai.onnx: 17 }', "1:22: expected 'graph' but found the end of the text"],
  ['junk after the graph', `${G('  y = Relu(x)')} extra`, "4:3: expected the end of the text but found 'extra'"],
  ['keyword as a name', G('  graph = Relu(x)'), /^3:3: expected .* but found 'graph'$/],
  ['unknown dtype', G('  y = Relu(x)', '(f31[2] x) => (f32[2] y)'), /^2:10: unknown dtype 'f31' \(known: bool, i8, .*\)$/],
  ['negative dimension', G('  y = Relu(x)', '(f32[-1] x) => (f32[2] y)'), "2:14: a dimension must be a non-negative integer or a name, got '-1'"],
  ['undefined value', G('  y = Relu(z)'), "3:12: value 'z' is not defined (no graph input, initializer or earlier node output has this name)"],
  ['use before definition', G('  y = Add(x, t)\n  t = Relu(x)'), /^3:14: value 't' is not defined/],
  ['duplicate definition', G('  y = Relu(x)\n  y = Relu(x)'), "4:3: value 'y' is defined twice in this graph"],
  ['undefined output', G('  t = Relu(x)'), "2:31: value 'y' is not defined (no graph input, initializer or earlier node output has this name)"],
  ['conflicting output type', G('  y: f32[3] = Relu(x)'), "2:24: graph output 'y' is declared as f32[2] but its value has type f32[3]"],
  ['output with a default', G('  y = Relu(x)', '(f32[2] x) => (f32[2] y = f32[2] {1, 2})'), '2:35: a graph output cannot have a default value'],
  ['typed omitted output', G('  _: f32[2], y = Split(x)'), "3:3: an omitted output ('_') cannot have a type"],
  ['two names for one tensor', G('  y, z = f32[1] {1}'), '3:3: a tensor literal defines exactly one named value'],
  ['too few values', G('  y = f32[2,2] {1, 2, 3}'), '3:7: tensor f32[2,2] needs 4 values, got 3'],
  ['int out of range', G('  y = u8[2] {1, 256}'), '3:17: 256 is out of range for u8'],
  ['i64 out of range', G('  y = i64[1] {9223372036854775808}'), '3:15: 9223372036854775808 is out of range for i64'],
  ['float in an int tensor', G('  y = i32[1] {1.5}'), "3:15: '1.5' is not a valid i32 value"],
  ['string in a float tensor', G('  y = f32[1] {"1"}'), `3:15: '"1"' is not a valid f32 value`],
  ['bad NaN bits', G('  y = f32[1] {nan(0x3f800000)}'), '3:19: 0x3f800000 is not the bit pattern of a 32-bit NaN'],
  ['bits on a number', G('  y = f32[1] {1(0x7fc00001)}'), "3:17: only 'nan' takes a bit pattern: nan(0x7fc00001)"],
  ['empty list without kind', G('  y = Foo<a=[]>(x)'), '3:13: an empty list needs its kind: ints[], floats[], strings[], tensors[], graphs[] or types[]'],
  ['mixed list', G('  y = Foo<a=[1, "s"]>(x)'), '3:17: a list of ints cannot hold a string'],
  ['wrong list tag', G('  y = Foo<a=strings[1]>(x)'), '3:21: a list of strings cannot hold an int'],
  ['nested list', G('  y = Foo<a=[[1]]>(x)'), '3:14: attribute lists cannot be nested'],
  ['duplicate attribute', G('  y = Foo<a=1, a=2>(x)'), "3:16: attribute 'a' is given twice"],
  ['bad opset version', 'opset { ai.onnx: x }\ngraph () => () {}', "1:18: expected an integer but found 'x'"],
  ['duplicate opset', 'opset { ai.onnx: 1, "": 2 }\ngraph () => () {}', "1:21: opset for domain 'ai.onnx' is given twice"],
  ['unknown model field', 'model { version: 1 }\ngraph () => () {}', "1:9: unknown model field 'version' (expected ir_version, producer or metadata)"],
  ['producer not a string', 'model { producer: 1 }\ngraph () => () {}', '1:9: producer must be a string'],
  ['missing blob', G('  y = f32[100] @blob("w")'), '3:22: blob "w" is not among the 0 blobs given to the parser'],
];

describe('malformed text: hand-written cases', () => {
  for (const [what, text, expected] of CASES) {
    it(what, () => {
      const msg = parseError(text);
      if (typeof expected === 'string') expect(msg).toBe(expected);
      else expect(msg).toMatch(expected);
    });
  }
  it('absurd nesting is an error, not a stack overflow', () => {
    const deep = `graph (${'seq<'.repeat(20000)}f32[1]${'>'.repeat(20000)} x) => () {}`;
    expect(parseError(deep)).toMatch(/nested too deeply|^\d+:\d+: /);
  });
  it('names the file when given one', () => {
    try { parseModel('graph (', new Map(), { file: 'm.tir' }); } catch (e) {
      expect((e as Error).message).toBe("m.tir: 1:8: expected ')' but found the end of the text");
    }
  });
});

// Random edits of valid text: delete, insert a character or token, duplicate or swap a slice.
const PIECES = ['(', ')', '{', '}', '[', ']', '<', '>', '=', '=>', ',', ':', '.', '@', '#', '"', '\\', '_', '?', '*', '-', '0',
  '1.5', 'nan', 'graph', 'f32', 'i64[2]', 'x', 'y', '\n', ' ', '@blob("w")', 'ints[]', 'seq<', '0x7fc00001', '\u00e9', '\u0000'];

function mutate(g: fc.GeneratorValue, text: string): string {
  let t = text;
  for (let k = g(fc.integer, { min: 1, max: 4 }); k > 0; k--) {
    const at = g(fc.integer, { min: 0, max: t.length });
    const len = g(fc.integer, { min: 1, max: 12 });
    switch (g(fc.integer, { min: 0, max: 4 })) {
      case 0: t = t.slice(0, at) + t.slice(at + len); break;
      case 1: t = t.slice(0, at) + g(fc.constantFrom, ...PIECES) + t.slice(at); break;
      case 2: t = t.slice(0, at) + t.slice(at, at + len) + t.slice(at); break;
      case 3: t = t.slice(0, at) + g(fc.string, { maxLength: 3 }) + t.slice(at + 1); break;
      case 4: { const b = g(fc.integer, { min: 0, max: t.length }); t = t.slice(0, at) + t.slice(b, b + len) + t.slice(at + len); break; }
    }
  }
  return t;
}

function checkNeverCrashes(text: string): void {
  try {
    const m = parseModel(text);
    printModel(m); // a parsed model prints (or refuses with a TesseraError)
  } catch (e) {
    if (!(e instanceof TesseraError)) throw new Error(`not a TesseraError: ${(e as Error)?.stack}\n--- text ---\n${text}`);
    const place = /^(\d+):(\d+): \S/.exec(e.reason);
    if (!place && !/^cannot print|nested too deeply/.test(e.reason)) throw new Error(`no line:column in '${e.message}'\n--- text ---\n${text}`);
    if (place && Number(place[1]) > text.split('\n').length) throw new Error(`line ${place[1]} is past the end: '${e.message}'`);
  }
}

describe('malformed text: random mutations of valid text', () => {
  const example = readFileSync(join(ROOT, 'examples/add-relu.tir'), 'utf8');
  it('mutated hand-written texts give a TesseraError with line:column or parse (500 runs)', () => {
    fc.assert(fc.property(fc.gen(), fc.constantFrom(TEXT, example), (g, text) => checkNeverCrashes(mutate(g, text))), { numRuns: 500 });
  });
  it('mutated random-model texts give a TesseraError with line:column or parse (300 runs)', () => {
    fc.assert(fc.property(fc.gen(), (g) => {
      const { text } = printModel(new RandomModel(g).model(), { inlineLimit: Infinity });
      checkNeverCrashes(mutate(g, text));
    }), { numRuns: 300 });
  });
});
