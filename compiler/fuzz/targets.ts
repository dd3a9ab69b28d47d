// Targets of the differential fuzzer: what runs a generated model next to the reference interpreter. A
// target is small: prepare(model) once per case, run(feeds), and optionally the op × dtype pairs it runs
// (so the generator only makes graphs it can execute). The targets: onnxruntime-node, the external oracle
// (the reference interpreter is what is tested), and the driver's compiled backends (kernel, wasm, cuda),
// tested against the reference interpreter.
import type { DType } from '../../ir/dtype.ts';
import { TesseraError } from '../../ir/errors.ts';
import type { Model } from '../../ir/graph.ts';
import type { RuntimeValue, Tensor } from '../../ir/tensor.ts';
import { exportOnnx } from '../onnx/export.ts';
import { loadOrt, ortHasDtype } from '../oracles/onnxruntime.ts';
import { OrtCrash, OrtProcess } from '../oracles/onnxruntime-process.ts';
import { GraphBuilder, type FuzzOpSpec } from './builder.ts';

export interface PreparedTarget {
  run(feeds: Record<string, Tensor>): Promise<Record<string, RuntimeValue>>;
  dispose?(): Promise<void> | void;
}

export interface FuzzTarget {
  readonly name: string;
  /** A short description for the fuzzer's header (version, options). */
  describe?(): Promise<string>;
  /**
   * true for an external oracle (onnxruntime): the reference interpreter is what is tested, so a written
   * case expects the oracle's outputs. false for a tessera backend: the case expects the reference's.
   */
  readonly oracle: boolean;
  /** Dtypes whose node results the target does not round between nodes: never chained (divergences.ts). */
  readonly unchained?: readonly DType[];
  /** The (op, dtype, opset) triples it runs, for the generator; absent: everything. */
  capabilities?(specs: readonly FuzzOpSpec[], opsets: readonly number[]): Promise<(op: string, dtype: DType, opset: number) => boolean>;
  /** Compiles / loads a model; throws TargetUnsupported when it does not run something in it. */
  prepare(model: Model): Promise<PreparedTarget>;
  /** Releases what the target holds (a child process); it may be used again afterwards. */
  dispose?(): void;
}

/** The target does not run this model (an op or dtype it lacks): the case is skipped, not a divergence. */
export class TargetUnsupported extends Error {}

const NOT_IMPLEMENTED = /NOT_IMPLEMENTED|Could not find an implementation|Failed to find kernel/;
/** Each node on its own kernel; errors are reported by the fuzzer, not logged by onnxruntime. */
const QUIET = { optimization: 'disabled', logSeverityLevel: 4 } as const;

/**
 * onnxruntime-node on the CPU, single-threaded, with graph optimizations off, so that each node runs
 * its own kernel (a fused kernel would make a divergence hard to place).
 */
export function onnxruntimeTarget(): FuzzTarget {
  const capabilityCache = new Map<string, boolean>();
  // In a child process: a model that crashes onnxruntime (SIGFPE, abort) is a finding, not the fuzzer's end.
  const ort = new OrtProcess(QUIET);
  return {
    name: 'onnxruntime',
    oracle: true,
    unchained: ['f16'],
    async describe() {
      const mod = await loadOrt();
      return `onnxruntime-node ${(mod as unknown as { env: { versions: { common?: string } } }).env.versions.common ?? '?'} (CPU, 1 thread, graph optimizations off, in a child process)`;
    },
    async capabilities(specs, opsets) {
      // One single-node model per op × dtype × opset, built from an all-zero choice stream (the simplest
      // node of that spec); a kernel onnxruntime lacks fails to load with NOT_IMPLEMENTED.
      for (const opset of opsets) {
        for (const spec of specs) {
          for (const d of spec.dtypes) {
            const key = `${spec.op}/${d}/${opset}`;
            if (capabilityCache.has(key)) continue;
            capabilityCache.set(key, await probe(ort, spec, d, opset));
          }
        }
      }
      return (op, d, opset) => ortHasDtype(d) && capabilityCache.get(`${op}/${d}/${opset}`) !== false;
    },
    async prepare(model) {
      const bytes = exportOnnx(model);
      return {
        async run(feeds) {
          try {
            return await ort.run(bytes, feeds);
          } catch (e) {
            if (!(e instanceof OrtCrash) && NOT_IMPLEMENTED.test((e as Error).message)) throw new TargetUnsupported((e as Error).message);
            throw e;
          }
        },
      };
    },
    dispose: () => ort.close(),
  };
}

async function probe(ort: OrtProcess, spec: FuzzOpSpec, dtype: DType, opset: number): Promise<boolean> {
  if (!ortHasDtype(dtype) || (spec.dtypeSince?.[dtype] ?? 0) > opset || (spec.since ?? 1) > opset) return false;
  const b = new GraphBuilder({ opset, supports: (_op, d) => ortHasDtype(d) });
  if (!b.addStep(spec, [], dtype)) return false;
  try {
    await ort.load(exportOnnx(b.model));
    return true;
  } catch (e) {
    // A kernel onnxruntime lacks, or a type the op's ONNX version does not allow (tessera's registry
    // accepts some types from later versions of an op: see divergences.ts).
    const msg = (e as Error).message;
    return !NOT_IMPLEMENTED.test(msg) && !INVALID_TYPE.test(msg);
  }
}

const INVALID_TYPE = /Type Error: Type '[^']*' of input parameter/;

/**
 * A tessera backend (the kernel-IR interpreter 'kernel', 'wasm', ...) as a target: the model goes through the
 * driver's whole path (lower, generate code, load in the runtime), and the reference interpreter is the
 * spec. Ops without a lowering are not generated for it; a model it cannot compile is skipped, not a finding.
 */
export function tesseraBackendTarget(name: string): FuzzTarget {
  return {
    name,
    oracle: false,
    describe: async () => `tessera backend '${name}'`,
    async capabilities() {
      const { LOWERINGS } = await import('../lower/registry.ts');
      // WebGPU stores and computes f64 as f32 (WGSL has no 64-bit floats; documented, and the compiler says so):
      // f64 graphs would only rediscover that.
      return (op, d) => d !== 'string' && !(name === 'webgpu' && d === 'f64') && Object.hasOwn(LOWERINGS, op);
    },
    async prepare(model) {
      const { prepareAsync } = await import('../driver.ts');
      let runner;
      try {
        runner = await prepareAsync(model, name as Parameters<typeof prepareAsync>[1]);
      } catch (e) {
        const msg = (e as Error).message;
        if (UNCOMPILABLE.test(msg)) throw new TargetUnsupported(msg);
        throw e;
      }
      return { run: (feeds) => runner.run(feeds) };
    },
  };
}

const UNCOMPILABLE = /cannot be compiled|is not available yet|not supported/;

export const FUZZ_TARGET_NAMES = ['onnxruntime', 'kernel', 'wasm', 'webgpu', 'cuda'] as const;

/** A target by name: onnxruntime, or a tessera backend the driver has; a clear error for the others. */
export async function fuzzTarget(name: string): Promise<FuzzTarget> {
  if (name === 'onnxruntime') return onnxruntimeTarget();
  if (name === 'reference') {
    throw new TesseraError(`'reference' is not a fuzz target: every target is compared with the reference interpreter (try --backend onnxruntime)`);
  }
  const { BACKENDS } = await import('../driver.ts');
  if ((BACKENDS as readonly string[]).includes(name)) {
    // A backend that needs a device says so once, up front, rather than as a divergence on every case.
    if (name === 'cuda') {
      const { cudaDriver } = await import('../../runtime/cuda/driver.ts');
      try { await cudaDriver(); } catch (e) {
        throw new TesseraError(`backend 'cuda' cannot be fuzzed on this machine: ${(e as Error).message}`);
      }
    }
    if (name === 'webgpu') {
      const { defaultDevice } = await import('../../runtime/webgpu/device.ts');
      try { await defaultDevice(); } catch (e) {
        throw new TesseraError(`backend 'webgpu' cannot be fuzzed on this machine: ${(e as Error).message}`);
      }
    }
    return tesseraBackendTarget(name);
  }
  throw new TesseraError(`unknown fuzz target '${name}' (targets: ${FUZZ_TARGET_NAMES.join(', ')})`);
}
