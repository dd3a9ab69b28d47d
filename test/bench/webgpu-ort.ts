// onnxruntime-web's WebGPU execution provider in Node, as the peer of tessera's WebGPU backend: it runs on
// the GPUDevice given here (dawn.node's, see webgpu-node.ts), and each session reports where onnxruntime
// placed its nodes — onnxruntime falls back to its CPU provider node by node without an error, so a WebGPU
// session can silently run partly (or wholly) on the CPU.
import fs from 'node:fs';
import type { Tensor } from '../../ir/tensor.ts';
import { fromOrt, toOrt, type Ort } from '../../compiler/oracles/onnxruntime.ts';

type OrtWeb = typeof import('onnxruntime-web');

export interface OrtWebGpuSession {
  /** One inference: feeds uploaded, outputs read back to the CPU (onnxruntime-web's default output location). */
  run(feeds: Record<string, Tensor>): Promise<Record<string, Tensor>>;
  /** Provider name → number of nodes onnxruntime placed on it (from its verbose session log). */
  placements: Map<string, number>;
  createMs: number;
}

let ortWeb: Promise<OrtWeb> | undefined;

/** Loads `onnxruntime-web/webgpu` once, bound to `device` (it must be set before the first WebGPU session). */
function load(device: GPUDevice): Promise<OrtWeb> {
  ortWeb ??= (async () => {
    const ort = await import('onnxruntime-web/webgpu') as unknown as OrtWeb;
    ort.env.wasm.numThreads = 1;
    ort.env.wasm.simd = true;
    ort.env.logLevel = 'warning';
    ort.env.webgpu.device = device;
    return ort;
  })();
  return ortWeb;
}

/**
 * Runs `f` with everything written to stdout/stderr captured: onnxruntime's WASM module prints with
 * `fs.writeSync(1|2, …)` in Node (and through console elsewhere).
 */
async function captured<T>(f: () => Promise<T>): Promise<{ value: T; text: string }> {
  const chunks: string[] = [];
  const text = (chunk: unknown) => (typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString());
  const out = process.stdout.write, err = process.stderr.write, writeSync = fs.writeSync;
  const grab = ((chunk: string | Uint8Array) => { chunks.push(text(chunk)); return true; }) as typeof out;
  process.stdout.write = grab;
  process.stderr.write = grab;
  fs.writeSync = ((fd: number, data: unknown, ...rest: unknown[]) => {
    if (fd !== 1 && fd !== 2) return (writeSync as (...a: unknown[]) => number)(fd, data, ...rest);
    chunks.push(text(data));
    return typeof data === 'string' ? Buffer.byteLength(data) : (data as Uint8Array).byteLength;
  }) as typeof fs.writeSync;
  try {
    return { value: await f(), text: chunks.join('') };
  } finally {
    process.stdout.write = out;
    process.stderr.write = err;
    fs.writeSync = writeSync;
  }
}

/** "All nodes placed on [X]. Number of nodes: N" / "Node(s) placed on [X]. Number of nodes: N" (session_state.cc). */
function parsePlacements(log: string): Map<string, number> {
  const placed = new Map<string, number>();
  for (const m of log.matchAll(/(?:All nodes|Node\(s\)) placed on \[(\w+)\]\. Number of nodes: (\d+)/g)) {
    placed.set(m[1]!, (placed.get(m[1]!) ?? 0) + Number(m[2]));
  }
  return placed;
}

/**
 * Where onnxruntime places the nodes of `onnx` with the WebGPU provider first: a throwaway session created with
 * verbose logging (shaders compile at the first run, so creating it costs no GPU work). Runs of a verbose
 * session log every dispatch, which is why the timed session is a separate, quiet one.
 */
async function placements(ort: OrtWeb, onnx: Uint8Array): Promise<Map<string, number>> {
  const { value: session, text } = await captured(() => ort.InferenceSession.create(onnx, {
    executionProviders: ['webgpu'], logSeverityLevel: 0, logVerbosityLevel: 0,
  }));
  await session.release();
  return parsePlacements(text);
}

export async function ortWebGpuSession(onnx: Uint8Array, device: GPUDevice): Promise<OrtWebGpuSession> {
  const ort = await load(device);
  const placed = await placements(ort, onnx);
  const t0 = performance.now();
  const session = await ort.InferenceSession.create(onnx, { executionProviders: ['webgpu'], logSeverityLevel: 3 });
  const createMs = performance.now() - t0;
  return {
    createMs,
    placements: placed,
    async run(feeds) {
      const ortFeeds = Object.fromEntries(Object.entries(feeds).map(([k, t]) => [k, toOrt(ort as unknown as Ort, t)]));
      const r = await session.run(ortFeeds as never);
      return Object.fromEntries(Object.entries(r).map(([k, v]) => [k, fromOrt(v as never)]));
    },
  };
}
