// The textual IR format, feature by feature: what hand-written text means, that it prints back unchanged,
// where the printer refuses (names that would read back as another value), and .tir files with blobs.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compareValues } from '../../compiler/compare.ts';
import { loadModel, prepare } from '../../compiler/driver.ts';
import { importOnnxFile } from '../../compiler/onnx/import.ts';
import { decodeBlobs, encodeBlobs, parseModel, printModel, readTirFile, writeTirFile } from '../../grammar/index.ts';
import { modelDiff, tensorsEqual } from '../../ir/equal.ts';
import { TesseraError } from '../../ir/errors.ts';
import { Graph, Node, Value, type Attr } from '../../ir/graph.ts';
import { Tensor } from '../../ir/tensor.ts';
import { REAL_MODELS, ROOT } from '../util/real-models.ts';
import { TEXT } from './sample-text.ts';

const errorOf = (fn: () => unknown): TesseraError => {
  try { fn(); } catch (e) {
    expect(e).toBeInstanceOf(TesseraError);
    return e as TesseraError;
  }
  throw new Error('expected an error');
};

describe('textual IR: what the text means', () => {
  const m = parseModel(TEXT);
  const g = m.graph;
  const byName = (name: string) => [...g.initializers.keys(), ...g.inputs, ...g.nodes.flatMap((n) => n.outputs)].find((v) => v?.name === name)!;

  it('reads the model header', () => {
    expect([...m.opsets]).toEqual([['', 17], ['com.microsoft', 1], ['my domain', 2]]);
    expect(m).toMatchObject({ irVersion: 8, producer: 'hand', metadata: { author: 'me', 'key with space': 'v' } });
  });

  it('reads value types: symbolic dims, unknown rank, sequence, optional, unknown', () => {
    expect(g.inputs.map((v) => v.type)).toEqual([
      { kind: 'tensor', dtype: 'f32', shape: ['N', 'p2o::Dyn 0', 3] },
      { kind: 'tensor', dtype: 'i64', shape: undefined },
      { kind: 'sequence', elem: { kind: 'tensor', dtype: 'f16', shape: [2] } },
      { kind: 'optional', elem: undefined },
      undefined,
      { kind: 'tensor', dtype: 'f32', shape: [3] },
    ]);
    expect(byName('loose').type).toEqual({ kind: 'tensor', dtype: 'f32', shape: undefined });
    expect(byName('notype').type).toBeUndefined();
    expect(byName('w').type).toEqual({ kind: 'tensor', dtype: 'f64', shape: [4] });
  });

  it('tells graph inputs with a default from plain initializers', () => {
    const b = g.inputs[5]!;
    expect(g.initializers.has(b)).toBe(true);
    expect(g.inputs.filter((v) => g.initializers.has(v))).toEqual([b]);
    expect(g.initializers.size).toBe(8);
  });

  it('reads tensor values exactly (NaN payloads, -0, ±inf, 64-bit integers, strings)', () => {
    const b = g.initializers.get(g.inputs[5]!)!;
    expect(Object.is(b.data[1], -0)).toBe(true);
    expect(new Uint32Array((b.data as Float32Array).buffer)[2]).toBe(0x7fc00001);
    expect(Array.from(g.initializers.get(byName('w'))!.data as Float64Array)).toEqual([0.1, -Infinity, Infinity, NaN]);
    expect(Array.from(g.initializers.get(byName('big'))!.data as BigInt64Array)).toEqual([-(2n ** 63n), 2n ** 63n - 1n]);
    expect(Array.from(g.initializers.get(byName('ubig'))!.data as BigUint64Array)).toEqual([2n ** 64n - 1n]);
    expect(Array.from(g.initializers.get(byName('flags'))!.data as Uint8Array)).toEqual([1, 0]);
    expect(g.initializers.get(byName('text'))!.data).toEqual(['a"b\\c\n', '\u0000é#']);
  });

  it('reads every attribute kind, ints apart from floats, empty lists by their kind', () => {
    const add = g.nodes[0]!;
    expect(add.name).toBe('node one');
    const a = Object.fromEntries(add.attrs) as Record<string, Attr>;
    expect(a.i).toEqual({ kind: 'int', value: 3 });
    expect(a.f).toEqual({ kind: 'float', value: 3 });
    expect(Object.is(a.nf!.value, -0)).toBe(true);
    for (const k of ['ints', 'floats', 'strings', 'tensors', 'graphs', 'types']) {
      expect(a[`e${k === 'types' ? 'ty' : k[0]}`]).toEqual({ kind: k, value: [] });
    }
    expect(a.l).toEqual({ kind: 'ints', value: [1, -2] });
    expect(a.lf).toEqual({ kind: 'floats', value: [1.5, 1e21] });
    expect(a.ls).toEqual({ kind: 'strings', value: ['x', ''] });
    expect(a.big).toEqual({ kind: 'int', value: 2 ** 63 });
    expect(a.ty).toEqual({ kind: 'type', value: { kind: 'sequence', elem: { kind: 'tensor', dtype: 'f32', shape: undefined } } });
    expect(a.tys!.value).toHaveLength(2);
  });

  it('reads domains, omitted inputs and outputs, and nodes without outputs', () => {
    const split = g.nodes[1]!;
    expect([split.domain, split.op]).toEqual(['com.microsoft', 'Split3']);
    expect(split.inputs.map((v) => v?.name ?? null)).toEqual(['idx', null, 'idx']);
    expect(split.outputs.map((v) => v?.name ?? null)).toEqual(['a', null, 'c']);
    expect(split.outputs[0]!.producer).toBe(split);
    const odd = g.nodes[2]!;
    expect([odd.domain, odd.op, odd.outputs.length]).toEqual(['my domain', 'odd op', 0]);
    expect([g.nodes[4]!.op, g.nodes[4]!.name]).toEqual(['graph', '_']);
  });

  it('resolves names in sub-graphs lexically: inner definitions hide outer ones, outer values are shared', () => {
    const ifNode = g.nodes[3]!;
    const then = (ifNode.attrs.get('then_branch') as { value: Graph }).value;
    const els = (ifNode.attrs.get('else_branch') as { value: Graph }).value;
    expect(then.inputs[0]!.name).toBe('x');
    expect(then.inputs[0]).not.toBe(g.inputs[0]);
    expect(then.nodes[0]!.inputs[0]).toBe(g.nodes[0]!.outputs[0]);
    expect(els.name).toBe('');
    expect(els.outputs[0]).toBe(g.nodes[0]!.outputs[0]);
  });

  it('prints the text back unchanged, and print(parse(print(m))) equals m', () => {
    const { text, blobs } = printModel(m);
    expect(blobs.size).toBe(0);
    expect(text).toBe(TEXT);
    expect(modelDiff(parseModel(text), m)).toBeUndefined();
  });

  it('ignores comments and layout', () => {
    const squeezed = TEXT.replace(/\n\s*/g, ' # a comment\n');
    expect(modelDiff(parseModel(squeezed), m)).toBeUndefined();
  });

  it('accepts hand-written conveniences: "ai.onnx." prefix, [1, 2.5] as floats, no opset header', () => {
    const h = parseModel('graph (f32[2] x) => (f32[2] y) { y = ai.onnx.LeakyRelu<alpha=[1, 2.5]>(x) }');
    expect(h.opsets.size).toBe(0);
    expect(h.graph.nodes[0]!.domain).toBe('');
    expect(h.graph.nodes[0]!.attrs.get('alpha')).toEqual({ kind: 'floats', value: [1, 2.5] });
  });

  it('rounds hand-written f16/bf16 values to the narrow type', () => {
    const h = parseModel('graph () => () { a = f16[1] {0.1}\n b = bf16[1] {0.1} }');
    const [a, b] = [...h.graph.initializers.values()];
    expect(a!.data[0]).toBe(Tensor.from('f16', [1], [0.1]).data[0]);
    expect(b!.data[0]).toBe(Tensor.from('bf16', [1], [0.1]).data[0]);
  });
});

describe('textual IR: the printer', () => {
  it('prints large tensors by reference and parse takes the blobs back', () => {
    const v = new Value('w', { kind: 'tensor', dtype: 'f32', shape: [20] });
    const g = new Graph('g', [], [v]);
    g.initializers.set(v, Tensor.from('f32', [20], Array.from({ length: 20 }, (_, i) => i / 7)));
    const node = new Node('c', 'Constant', '', [], [], new Map([['value', { kind: 'tensor', value: Tensor.zeros('i64', [30]) }]]));
    const out = new Value('k', undefined);
    out.producer = node;
    node.outputs.push(out);
    g.nodes.push(node);
    const model = { graph: g, opsets: new Map([['', 17]]) };
    const { text, blobs } = printModel(model);
    expect(text).toContain('w = f32[20] @blob("w")');
    expect(text).toContain('k = Constant<value=i64[30] @blob("c.value")>()');
    expect([...blobs.keys()]).toEqual(['w', 'c.value']);
    expect(modelDiff(parseModel(text, blobs), model)).toBeUndefined();
    expect(printModel(model, { inlineLimit: 20 }).blobs.size).toBe(1);
    expect(errorOf(() => parseModel(text)).message).toMatch(/^3:21: blob "w" is not among the 0 blobs/);
    const wrong = new Map(blobs).set('w', Tensor.zeros('f32', [21]));
    expect(errorOf(() => parseModel(text, wrong)).message).toMatch(/blob "w" is f32\[21\], but the text says f32\[20\]/);
  });

  it('prints the shortest f32 digits that read back exactly', () => {
    const v = new Value('w', { kind: 'tensor', dtype: 'f32', shape: [3] });
    const g = new Graph('g', [], [v]);
    g.initializers.set(v, Tensor.from('f32', [3], [0.1, 1 / 3, 16777217]));
    const { text } = printModel({ graph: g, opsets: new Map() });
    expect(text).toContain('w = f32[3] {0.1, 0.33333334, 16777216}');
  });

  it('refuses names that would read back as another value', () => {
    const dup = new Graph('g', [new Value('x', undefined), new Value('x', undefined)]);
    expect(errorOf(() => printModel({ graph: dup, opsets: new Map() })).message).toMatch(/two values are named 'x'/);
    // The sub-graph reads the outer x after defining its own x: the name cannot say which one.
    const outer = new Value('x', undefined);
    const sub = new Graph('sub', [new Value('x', undefined)], []);
    sub.nodes.push(new Node('n', 'Identity', '', [outer], []));
    const g = new Graph('g', [outer], [], [new Node('if', 'If', '', [], [], new Map([['b', { kind: 'graph', value: sub }]]))]);
    expect(errorOf(() => printModel({ graph: g, opsets: new Map() })).message).toMatch(/refers to a value of an enclosing graph/);
  });
});

describe('textual IR: .tir files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-tir-'));

  it('blob files round-trip every dtype', () => {
    const blobs = new Map<string, Tensor>([
      ['a', Tensor.from('f16', [2], [0.1, -2])], ['b', Tensor.from('i64', [2], [-1n, 5n])], ['c', Tensor.from('string', [2], ['x', 'é"'])],
      ['d', Tensor.from('bool', [3], [true, false, true])], ['e', Tensor.from('f64', [1], [Math.PI])], ['f', Tensor.zeros('u8', [0])],
    ]);
    const back = decodeBlobs(encodeBlobs(blobs));
    expect([...back.keys()]).toEqual([...blobs.keys()]);
    for (const [k, t] of blobs) expect(tensorsEqual(back.get(k)!, t)).toBe(true);
    expect(errorOf(() => decodeBlobs(new Uint8Array([1, 2, 3]))).message).toMatch(/not a valid blob file/);
    const bytes = encodeBlobs(blobs);
    expect(errorOf(() => decodeBlobs(bytes.subarray(0, bytes.length - 4))).message).toMatch(/outside the file/);
  });

  const cls = REAL_MODELS.find((m) => m.path.endsWith('ch_ppocr_mobile_v2.0_cls_infer.onnx'))!;
  it.skipIf(!existsSync(cls.path))('a real model saved as .tir + .tir.bin loads and runs like the .onnx', () => {
    const path = join(dir, 'cls.tir');
    writeTirFile(path, importOnnxFile(cls.path));
    expect(modelDiff(readTirFile(path), importOnnxFile(cls.path))).toBeUndefined();
    const feeds = cls.feeds();
    const a = prepare(loadModel(path), 'reference').run(feeds);
    const b = prepare(loadModel(cls.path), 'reference').run(feeds);
    for (const k of Object.keys(b)) expect(compareValues(a[k], b[k], { rtol: 0, atol: 0 })).toBeUndefined();
  });

  it.skipIf(!existsSync(cls.path))('tessera inspect prints the text (weights by reference, with a note); --save writes a loadable .tir', () => {
    const saved = join(dir, 'inspected.tir');
    const out = execFileSync('node', [join(ROOT, 'bin/tessera.js'), 'inspect', cls.path, '--save', saved], { encoding: 'utf8' });
    expect(out).toMatch(/^# \d+ tensor\(s\) with more than 16 elements are shown by reference/);
    expect(out).toMatch(/ = Constant<value=f32\[\d+\] @blob\("Constant_\d+\.value"\)>\(\) @Constant_\d+\n/);
    expect(modelDiff(readTirFile(saved), loadModel(cls.path))).toBeUndefined();
    expect(execFileSync('node', [join(ROOT, 'bin/tessera.js'), 'inspect', saved], { encoding: 'utf8' })).toBe(out);
  });

  it('a malformed .tir is a user error naming the file and line:column, not a crash', () => {
    const path = join(dir, 'bad.tir');
    writeFileSync(path, 'opset { ai.onnx: 17 }\ngraph g (f32[2] x) => (f32[2] y) {\n  y = Relu(x,\n}\n');
    expect(errorOf(() => loadModel(path)).message).toBe(`${path}: 4:1: expected one of '_', a name, a string but found '}'`);
    let stderr = '';
    try { execFileSync('node', [join(ROOT, 'bin/tessera.js'), 'run', path], { encoding: 'utf8', stdio: 'pipe' }); } catch (e) {
      stderr = (e as { stderr: string; status: number }).stderr;
      expect((e as { status: number }).status).toBe(1);
    }
    expect(stderr).toBe(`error: ${path}: 4:1: expected one of '_', a name, a string but found '}'\n`);
  });
});
