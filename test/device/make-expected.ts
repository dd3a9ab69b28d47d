// Writes the real-model part of the device check (run here by prepare.sh, through tsx): each available npm
// model (test/util/real-models.ts) with onnxruntime-node's outputs on its seeded inputs as .npy files, and a
// models.json that names them. The inputs are not shipped: the device regenerates them from the same seeds
// and checks them against the SHA-256 recorded here. Usage: tsx test/device/make-expected.ts OUT_DIR [--skip SUBSTRING]...
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { writeNpy } from '../../compiler/npy.ts';
import { available, REAL_MODELS, runOrt } from '../util/real-models.ts';
import { tensorSha256, type ModelSpec } from './spec.ts';

const { values, positionals } = parseArgs({ allowPositionals: true, options: { skip: { type: 'string', multiple: true, default: [] } } });
const out = positionals[0];
if (!out) throw new Error('usage: make-expected.ts OUT_DIR [--skip SUBSTRING]...');
mkdirSync(out, { recursive: true });
const slug = (s: string) => s.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');
const file = (s: string) => s.replace(/[^A-Za-z0-9_.-]/g, '_');

const specs: ModelSpec[] = [];
for (const m of REAL_MODELS) {
  if (!available(m)) { console.log(`make-expected: ${m.name}: model file missing, left out`); continue; }
  if (values.skip.some((s) => m.name.includes(s))) { console.log(`make-expected: ${m.name}: skipped (--skip)`); continue; }
  const id = slug(m.name);
  const feeds = m.feeds();
  const expected = await runOrt(m.path, feeds);
  const spec: ModelSpec = { name: m.name, file: `${id}.onnx`, inputs: {}, outputs: {} };
  copyFileSync(m.path, join(out, spec.file));
  for (const [k, t] of Object.entries(feeds)) spec.inputs[k] = tensorSha256(t);
  for (const [k, t] of Object.entries(expected)) {
    spec.outputs[k] = `${id}.out.${file(k)}.npy`;
    writeFileSync(join(out, spec.outputs[k]), writeNpy(t));
  }
  specs.push(spec);
  console.log(`make-expected: ${m.name}: ${Object.keys(feeds).length} inputs, ${Object.keys(expected).length} outputs (onnxruntime-node)`);
}
writeFileSync(join(out, 'models.json'), JSON.stringify(specs, null, 1));
