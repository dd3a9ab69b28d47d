// The `tessera export` and `tessera generate` commands (dispatched from cli.ts).
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { getDecoderSpec } from '../ir/decoder.ts';
import { TesseraError } from '../ir/errors.ts';
import type { Model } from '../ir/graph.ts';
import { DecodeSession } from '../runtime/decode.ts';
import { Tokenizer } from '../runtime/tokenizer.ts';
import './decode-compiled.ts'; // registers the compiled targets as decode backends
import { TARGETS } from './compile.ts';
import { loadModel } from './driver.ts';
import { importLlama2cFile } from './llama2c.ts';
import { exportOnnxFile } from './onnx/export.ts';

export const DECODE_USAGE = `  tessera export MODEL.onnx|MODEL.tir --onnx OUT.onnx
  tessera export --llama2c CKPT.bin --onnx OUT.onnx
  tessera generate --llama2c CKPT.bin | --model DECODER.onnx  --tokenizer TOK.bin [--steps N]
                   [--backend reference|${TARGETS.join('|')}] [--prompt TEXT]
                   [--temperature T] [--top-p P] [--seed S]

  export writes any model as ONNX; --llama2c imports a llama2.c checkpoint (run.c's format) as a decoder
  step graph (inputs token, position, past_key_L/past_value_L; outputs logits, present_key_L/
  present_value_L) that onnxruntime runs. generate decodes with the KV cache kept by the backend and
  prints the text (tokens/s on stderr); a compiled backend compiles the step graph first and keeps the
  cache in its memory. --model takes a decoder written by export. Defaults: 256 steps, backend reference,
  temperature 0 (greedy), top-p 0.9 when sampling, seed 0.`;

function parse(args: string[], options: NonNullable<NonNullable<Parameters<typeof parseArgs>[0]>['options']>) {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (e) {
    throw new TesseraError(`${(e as Error).message}\nusage:\n${DECODE_USAGE}`);
  }
}

function readBytes(path: string, what: string): Uint8Array {
  try { return readFileSync(path); } catch (e) {
    throw new TesseraError(`cannot read ${what}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { file: path });
  }
}

export function exportCommand(args: string[]): number {
  const { values, positionals } = parse(args, { onnx: { type: 'string' }, llama2c: { type: 'string' } });
  const out = values.onnx as string | undefined;
  if (!out) throw new TesseraError(`export needs --onnx OUT.onnx\nusage:\n${DECODE_USAGE}`);
  const ckpt = values.llama2c as string | undefined;
  if ((ckpt ? 1 : 0) + positionals.length !== 1) throw new TesseraError(`export takes one model (MODEL.onnx|MODEL.tir, or --llama2c CKPT)\nusage:\n${DECODE_USAGE}`);
  const model = ckpt ? importLlama2cFile(ckpt) : loadModel(positionals[0]!);
  exportOnnxFile(model, out);
  const g = model.graph;
  console.log(`wrote ${out}: ${g.nodes.length} nodes, ${g.initializers.size} initializers, inputs ${g.inputs.filter((v) => !g.initializers.has(v)).map((v) => v.name).join(', ')}`);
  return 0;
}

export async function generateCommand(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, {
    llama2c: { type: 'string' }, model: { type: 'string' }, tokenizer: { type: 'string' },
    steps: { type: 'string', default: '256' }, backend: { type: 'string', default: 'reference' },
    prompt: { type: 'string', default: '' }, temperature: { type: 'string', default: '0' },
    'top-p': { type: 'string', default: '0.9' }, seed: { type: 'string', default: '0' },
  });
  if (positionals.length > 0) throw new TesseraError(`generate takes no positional arguments (got ${positionals.join(' ')})\nusage:\n${DECODE_USAGE}`);
  const ckpt = values.llama2c as string | undefined, modelPath = values.model as string | undefined;
  if ((ckpt ? 1 : 0) + (modelPath ? 1 : 0) !== 1) throw new TesseraError(`generate needs one of --llama2c CKPT or --model DECODER.onnx\nusage:\n${DECODE_USAGE}`);
  const tokPath = values.tokenizer as string | undefined;
  if (!tokPath) throw new TesseraError(`generate needs --tokenizer TOK.bin (the llama2.c tokenizer of the model)`);
  const number = (name: string, integer: boolean): number => {
    const v = Number(values[name]);
    if (!Number.isFinite(v) || (integer && !Number.isInteger(v))) throw new TesseraError(`--${name} must be ${integer ? 'an integer' : 'a number'}, got '${values[name]}'`);
    return v;
  };
  const steps = number('steps', true), temperature = number('temperature', false), topP = number('top-p', false), seed = number('seed', true);

  // The tokenizer is read without a vocabulary size first, so the error names the side that disagrees.
  const tokBytes = readBytes(tokPath, 'tokenizer');
  const tokenizer = Tokenizer.fromBytes(tokBytes, { source: tokPath });
  let model: Model;
  if (ckpt) model = importLlama2cFile(ckpt, { tokenizerVocabSize: tokenizer.vocabSize });
  else {
    model = loadModel(modelPath!);
    const spec = getDecoderSpec(model);
    if (!spec) throw new TesseraError(`not a decoder model: it has no 'tessera.decoder' metadata (write one with tessera export --llama2c)`, { file: modelPath });
    if (spec.vocabSize !== tokenizer.vocabSize) {
      throw new TesseraError(`the model's vocabulary has ${spec.vocabSize} tokens but the tokenizer ${tokPath} has ${tokenizer.vocabSize}: they do not belong together`, { file: modelPath });
    }
  }
  const t0 = performance.now();
  const session = await DecodeSession.create(model, { backend: values.backend as string });
  if (session.backend !== 'reference') console.error(`compiled the step graph for ${session.backend} in ${(performance.now() - t0).toFixed(0)} ms`);
  const prompt = tokenizer.encode(values.prompt as string);
  const print = tokenizer.streamDecoder(prompt[0]!);
  const result = await session.generate({
    steps, prompt, temperature, topP, seed,
    onToken: (t) => process.stdout.write(print(t)),
  });
  process.stdout.write(print.flush() + '\n');
  const perSecond = (result.steps / result.ms) * 1000;
  console.error(`${result.steps} steps (${result.tokens.length - prompt.length} tokens generated${result.stop === 'bos' ? ', stopped at BOS' : ''}) ` +
    `in ${result.ms.toFixed(0)} ms: ${perSecond.toFixed(1)} tok/s on backend ${session.backend}`);
  session.dispose();
  return 0;
}
