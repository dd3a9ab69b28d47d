// Decoding on the compiled backends: for every target the compiler has (TARGETS: wasm, cuda, and webgpu
// as soon as it lands) this registers a decode backend that compiles the decoder step graph ahead of time
// and runs it on the runtime's Session, the KV cache kept in the executor (runtime/compiled-decode.ts).
// Importing this module registers them; compiler/index.ts and the CLI import it.
//
// The step graph compiles as it is: every shape is static (the cache has a fixed capacity; token and
// position are one-element tensors), and the position only drives values (RoPE angle, write slot, mask),
// so no --value specialization is needed.
import type { DecoderSpec } from '../ir/decoder.ts';
import type { Model } from '../ir/graph.ts';
import { CompiledDecodeExecutor } from '../runtime/compiled-decode.ts';
import { registerDecodeBackend, type DecodeSessionOptions } from '../runtime/decode.ts';
import { Session } from '../runtime/session.ts';
import { compileModel, TARGETS } from './compile.ts';

/** Compiles a decoder step graph for `target` and wraps it in a decode executor. */
export async function compiledDecodeExecutor(target: (typeof TARGETS)[number], model: Model, spec: DecoderSpec, opts: DecodeSessionOptions = {}): Promise<CompiledDecodeExecutor> {
  // A machine without the driver or adapter fails now, not after seconds of compiling.
  let device = opts.session?.device;
  if (target === 'cuda') await (await import('../runtime/cuda/driver.ts')).cudaDriver();
  if (target === 'webgpu') device ??= await (await import('../runtime/webgpu/device.ts')).defaultDevice();
  const { files } = await compileModel(model, { target, name: model.graph.name });
  const session = await Session.create(files, { ...opts.session, device, backend: target });
  try {
    return CompiledDecodeExecutor.create(session, spec, target);
  } catch (e) {
    session.dispose();
    throw e;
  }
}

for (const target of TARGETS) {
  registerDecodeBackend(target, (model, spec, opts) => compiledDecodeExecutor(target, model, spec, opts));
}
