// Benchmark of the textual IR (run by `npm run bench`, never by the test command): print and parse of the
// PP-OCRv4 recognizer's graph IR with weights by reference (target: well under a second each).
import { importOnnxFile } from '../../compiler/onnx/import.ts';
import { parseModel, printModel } from '../../grammar/index.ts';
import { modelDiff } from '../../ir/equal.ts';
import { inferModel } from '../../ir/infer.ts';
import '../../ir/ops/index.ts';
import { available, REAL_MODELS } from '../util/real-models.ts';

const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2; };
const rounds = Number(process.env.BENCH_ROUNDS ?? 9);

function main() {
  const rec = REAL_MODELS[0]!;
  if (!available(rec)) { console.log(`grammar bench SKIPPED: ${rec.path} is not available`); return; }
  const model = importOnnxFile(rec.path);
  try { inferModel(model); } catch (e) { console.log(`(inference failed, printing without inferred types: ${(e as Error).message})`); }

  let t0 = performance.now();
  let printed = printModel(model);
  const firstPrint = performance.now() - t0;
  t0 = performance.now();
  const back = parseModel(printed.text, printed.blobs);
  const firstParse = performance.now() - t0; // includes building the chevrotain parser once per process
  const diff = modelDiff(model, back);
  if (diff) throw new Error(`round trip differs: ${diff}`);

  const printMs: number[] = [], parseMs: number[] = [];
  for (let i = 0; i < rounds; i++) {
    t0 = performance.now(); printed = printModel(model); printMs.push(performance.now() - t0);
    t0 = performance.now(); parseModel(printed.text, printed.blobs); parseMs.push(performance.now() - t0);
  }
  const nodes = model.graph.nodes.length;
  console.log(`textual IR of ${rec.name}: ${nodes} nodes, ${printed.text.length} chars, ${printed.text.split('\n').length} lines, ${printed.blobs.size} tensors by reference`);
  console.log(`print: median ${median(printMs).toFixed(1)} ms over ${rounds} runs (first ${firstPrint.toFixed(1)} ms)`);
  console.log(`parse: median ${median(parseMs).toFixed(1)} ms over ${rounds} runs (first ${firstParse.toFixed(1)} ms, incl. building the parser)`);
  console.log(`print + parse: ${(median(printMs) + median(parseMs)).toFixed(1)} ms (target: well under 1000 ms)`);
}
main();
