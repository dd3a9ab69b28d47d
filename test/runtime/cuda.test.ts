// The CUDA executor without a GPU: a cuda session on a machine with no driver fails at create with one clear
// error, and against a stand-in libcuda (cuda-stub.c, built with the system C compiler when there is one) the
// FFI marshalling is exact: arena pointers and sizes in kernelParams, launch geometry, JIT error logs, copies.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Expr } from '../../ir/kernel/ir.ts';
import type { Program } from '../../ir/kernel/program.ts';
import { Tensor } from '../../ir/tensor.ts';
import { packArtifact, type ArtifactFiles, type KernelLaunch } from '../../runtime/artifact.ts';
import { planArena } from '../../runtime/plan.ts';
import { Session } from '../../runtime/session.ts';

const c = (value: number): Expr => ({ kind: 'const', value, type: 'i32' } as unknown as Expr);
const v = (name: string): Expr => ({ kind: 'var', name, type: 'i32' } as unknown as Expr);
const bin = (op: string, a: Expr, b: Expr): Expr => ({ kind: 'binary', op, a, b, type: 'i32' } as unknown as Expr);

/** y = stub_copy(x); z = stub_copy(w) (w: the second half of the weights blob); 'touch'(x, w, n + 1) on ceil((n+1)/128) blocks of 128 threads. */
function program(): Program {
  const kernel = (name: string, buffers: string[], sizes: string[]) =>
    ({ name, buffers: buffers.map((b) => ({ name: b })), sizes: sizes.map((s) => ({ name: s })) });
  return {
    symbols: [{ name: 'N', from: { input: 'x', axis: 0 } }],
    inputs: [{ name: 'x', dtype: 'f32', shape: [v('N')], buffer: 'x' }],
    outputs: [{ name: 'y', dtype: 'f32', shape: [v('N')], buffer: 'y' }, { name: 'z', dtype: 'f32', shape: [c(4)], buffer: 'z' }],
    buffers: [
      { name: 'x', elem: 'f32', size: v('N'), kind: 'input', value: 'x' },
      { name: 'w', elem: 'f32', size: c(4), kind: 'weight', weight: { offset: 16, byteLength: 16 } },
      { name: 'y', elem: 'f32', size: v('N'), kind: 'output', value: 'y' },
      { name: 'z', elem: 'f32', size: c(4), kind: 'output', value: 'z' },
    ],
    kernels: [kernel('stub_copy', ['src', 'dst'], ['n']), kernel('touch', ['a', 'b'], ['n'])],
    dispatches: [
      { kernel: 'stub_copy', buffers: { src: 'x', dst: 'y' }, sizes: { n: v('N') } },
      { kernel: 'stub_copy', buffers: { src: 'w', dst: 'z' }, sizes: { n: c(4) } },
      { kernel: 'touch', buffers: { a: 'x', b: 'w' }, sizes: { n: bin('add', v('N'), c(1)) } },
    ],
    weights: new Uint8Array(Float32Array.of(1, 2, 3, 4, 5, 6, 7, 8).buffer),
  } as unknown as Program;
}

const PTX = `.version 8.0
.target sm_90
.address_size 64
.visible .entry stub_copy(.param .u64 src, .param .u64 dst, .param .u32 n) { ret; }
.visible .entry touch(.param .u64 a, .param .u64 b, .param .u32 n) { ret; }
`;

const TOUCH_LAUNCH: KernelLaunch = { block: 128, grid: bin('floordiv', bin('add', v('n'), c(127)), c(128)), sharedBytes: 64 };

async function cudaArtifact(ptx = PTX): Promise<ArtifactFiles> {
  const files = await packArtifact(program(), 'cuda', 'stub', { ptx: { file: 'kernels.ptx', bytes: new TextEncoder().encode(ptx) } }, 'test');
  const m = JSON.parse(new TextDecoder().decode(files.get('manifest.json')));
  m.kernels.find((k: { name: string }) => k.name === 'touch').launch = TOUCH_LAUNCH;
  files.set('manifest.json', new TextEncoder().encode(JSON.stringify(m)));
  return files;
}

describe('cuda session without a driver', () => {
  it('fails at create with one clear error naming libcuda.so.1', async (ctx) => {
    delete process.env.TESSERA_LIBCUDA;
    let err: unknown;
    try {
      (await Session.create(await cudaArtifact(), { backend: 'cuda' })).dispose();
    } catch (e) { err = e; }
    if (err === undefined) ctx.skip(); // this machine has a CUDA driver
    expect((err as Error).name).toBe('TesseraError');
    expect((err as Error).message).toMatch(/^no CUDA driver found \(libcuda\.so\.1 could not be loaded\): ./);
  });

  it('rejects an artifact of another target before touching the driver', async () => {
    const files = await packArtifact(program(), 'wasm', 'stub', { simd: { file: 'model.wasm', bytes: new Uint8Array(8) } }, 'test');
    await expect(Session.create(files, { backend: 'cuda' })).rejects.toThrow("the artifact targets wasm; this session's backend is cuda");
  });

  it('validates launch geometry in the manifest', async () => {
    const files = await cudaArtifact();
    const m = JSON.parse(new TextDecoder().decode(files.get('manifest.json')));
    m.kernels[1].launch = { block: 2048, grid: v('n'), sharedBytes: 0 };
    files.set('manifest.json', new TextEncoder().encode(JSON.stringify(m)));
    await expect(Session.create(files, { backend: 'cuda' })).rejects.toThrow("kernel 'touch' has a malformed launch");
    m.kernels[1].launch = { block: 32, grid: v('N'), sharedBytes: 0 };
    files.set('manifest.json', new TextEncoder().encode(JSON.stringify(m)));
    await expect(Session.create(files, { backend: 'cuda' })).rejects.toThrow("kernel 'touch' grid: unknown size symbol 'N'");
  });
});

const cc = (() => { try { execFileSync('cc', ['--version'], { stdio: 'ignore' }); return true; } catch { return false; } })();

describe.skipIf(!cc)('cuda executor against a stand-in driver', () => {
  let dir: string;
  let log: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'tessera-cuda-stub-'));
    const lib = join(dir, 'libcuda-stub.so');
    execFileSync('cc', ['-shared', '-fPIC', '-O1', '-o', lib, join(import.meta.dirname, 'cuda-stub.c')]);
    log = join(dir, 'calls.log');
    process.env.TESSERA_LIBCUDA = lib;
    process.env.CUDA_STUB_LOG = log;
  });
  afterAll(() => {
    delete process.env.TESSERA_LIBCUDA;
    delete process.env.CUDA_STUB_LOG;
    rmSync(dir, { recursive: true, force: true });
  });
  const calls = () => (existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n') : []);

  it('passes arena pointers, sizes and launch geometry, and copies inputs, weights and outputs', async () => {
    rmSync(log, { force: true });
    const session = await Session.create(await cudaArtifact(), { backend: 'cuda' });
    const x = Tensor.from('f32', [300], Array.from({ length: 300 }, (_, i) => i * 0.5 - 7));
    const { y, z } = await session.run({ x });
    expect(Array.from(y!.data as Float32Array)).toEqual(Array.from(x.data as Float32Array));
    expect(Array.from(z!.data as Float32Array)).toEqual([5, 6, 7, 8]);

    const layout = planArena(program().buffers, { N: 300 }, 3);
    const lines = calls();
    const base = BigInt(/^alloc (\d+) base=(\d+)$/.exec(lines.find((l) => l.startsWith('alloc'))!)![2]!);
    expect(lines.find((l) => l.startsWith('alloc'))).toBe(`alloc ${layout.bytes} base=${base}`);
    const at = (b: string) => base + BigInt(layout.buffers[b]!.byteOffset);
    expect(lines).toContain(`htod ${at('w')} 16`);
    expect(lines).toContain(`htod ${at('x')} 1200`);
    expect(lines).toContain(`launch stub_copy grid=1,1,1 block=1,1,1 shared=0 stream=null extra=null args= ${at('x')} ${at('y')} 300`);
    expect(lines).toContain(`launch touch grid=3,1,1 block=128,1,1 shared=64 stream=null extra=null args= ${at('x')} ${at('w')} 301`);
    expect(lines).toContain(`dtoh ${at('y')} 1200`);
    expect(lines.find((l) => l.startsWith('load'))).toBe('load options=4 errlog=yes size=16384');
    // Launches come before the synchronize, and the copy out after it.
    expect(lines.indexOf('sync')).toBeGreaterThan(lines.findIndex((l) => l.startsWith('launch touch')));
    expect(lines.findIndex((l) => l.startsWith('dtoh'))).toBeGreaterThan(lines.indexOf('sync'));

    // A second run launches the same dispatches with the same arguments.
    const launches = () => calls().filter((l) => l.startsWith('launch'));
    expect(launches()).toHaveLength(3);
    const x2 = Tensor.from('f32', [300], Array.from({ length: 300 }, (_, i) => -i));
    expect(Array.from((await session.run({ x: x2 })).y!.data as Float32Array)).toEqual(Array.from(x2.data as Float32Array));
    expect(launches().slice(3)).toEqual(launches().slice(0, 3));

    session.dispose();
    expect(calls().slice(-2)).toEqual(['free', 'unload']);
  });

  it('reports the PTX JIT error log', async () => {
    const session = Session.create(await cudaArtifact(`${PTX}// STUB_JIT_FAIL\n`), { backend: 'cuda' });
    const s = await session;
    await expect(s.run({ x: Tensor.from('f32', [2], [1, 2]) })).rejects.toThrow(
      'CUDA cuModuleLoadDataEx (PTX JIT) failed: CUDA_ERROR_INVALID_PTX (218)\nptxas fatal   : stub says the PTX is bad');
  });

  it('names a kernel the module lacks', async () => {
    const s = await Session.create(await cudaArtifact(PTX.replace('.entry touch(', '.entry other(')), { backend: 'cuda' });
    await expect(s.run({ x: Tensor.from('f32', [2], [1, 2]) })).rejects.toThrow(
      "CUDA cuModuleGetFunction failed: CUDA_ERROR_NOT_FOUND (500) (kernel 'touch')");
  });

  it('reports the device', async () => {
    const { cudaDriver } = await import('../../runtime/cuda/driver.ts');
    expect((await cudaDriver()).info()).toEqual({ name: 'Stub GPU', computeCapability: '9.0', driverVersion: '12.8' });
  });
});
