// The WebGPU executor on real WebGPU (dawn.node over SwiftShader): the word layout, one pass per run, state
// copies between runs, and device errors as TesseraErrors. Skips (with the reason) where no adapter exists.
import { describe, expect, it } from 'vitest';
import { TesseraError } from '../../ir/errors.ts';
import type { KernelSignature } from '../../runtime/artifact.ts';
import { planArena } from '../../runtime/plan.ts';
import { defaultDevice } from '../../runtime/webgpu/device.ts';
import { WebGpuExecutor } from '../../runtime/webgpu/executor.ts';
import { fromWords, toWords, webgpuElemBytes } from '../../runtime/webgpu/layout.ts';
import type { ProgramBuffer } from '../../ir/kernel/program.ts';
import type { KScalar } from '../../ir/kernel/ir.ts';

const device = await defaultDevice().catch((e: Error) => e);
const why = device instanceof Error ? device.message : '';
if (why) console.log(`SKIP webgpu executor tests: ${why}`);

const c = (n: number) => ({ kind: 'const' as const, type: { elem: 'i32' as const, lanes: 1 as const }, value: n });
const sizeVar = (name: string) => ({ kind: 'var' as const, type: { elem: 'i32' as const, lanes: 1 as const }, name });

// y[i] = a[i] + b[i] for i < n (f32), written against the ABI of runtime/webgpu/layout.ts.
const ADD = `@group(0) @binding(0) var<storage, read_write> arena: array<u32>;
@group(0) @binding(1) var<uniform> P: array<vec4<u32>, 1>;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let n = u32(bitcast<i32>(P[0].w));
  for (var i = gid.x; i < n; i += nwg.x * 64u) {
    arena[P[0].z + i] = bitcast<u32>(bitcast<f32>(arena[P[0].x + i]) + bitcast<f32>(arena[P[0].y + i]));
  }
}`;
const addSig: KernelSignature = { name: 'add', buffers: ['a', 'b', 'y'], sizes: ['n'], launch: { block: 64, grid: { kind: 'binary', type: c(0).type, op: 'div', a: { kind: 'binary', type: c(0).type, op: 'add', a: sizeVar('n'), b: c(63) }, b: c(64) }, sharedBytes: 0 } };

function plan(bufs: [string, KScalar, number, ProgramBuffer['kind']][]) {
  const buffers = bufs.map(([name, elem, n, kind]) => ({ name, elem, kind, size: c(n) }) as ProgramBuffer);
  return { layout: planArena(buffers, {}, 1, webgpuElemBytes), elems: Object.fromEntries(bufs.map(([n, e]) => [n, e])) };
}

describe.skipIf(!!why)('WebGPU executor', () => {
  const dev = device as GPUDevice;

  it('runs a kernel and reads back only what is asked', async () => {
    const n = 1000;
    const { layout, elems } = plan([['a', 'f32', n, 'input'], ['b', 'f32', n, 'input'], ['y', 'f32', n, 'output']]);
    const ex = await WebGpuExecutor.create(dev, [{ sig: addSig, wgsl: ADD }], layout, elems);
    expect(ex.messages).toEqual([]);
    const a = Float32Array.from({ length: n }, (_, i) => i * 0.5), b = Float32Array.from({ length: n }, (_, i) => -i);
    ex.write('a', a); ex.write('b', b);
    const steps = [{ kernel: 'add', buffers: ['a', 'b', 'y'], sizes: [n] }];
    const [y] = await ex.execute(steps, ['y']);
    expect(Array.from(new Float32Array(y!.buffer))).toEqual(Array.from(a, (x, i) => x + b[i]!));
    expect(ex.dispatchesPerRun).toBe(1);
    ex.dispose();
  });

  it('carries state between runs inside the arena', async () => {
    const n = 300;
    const { layout, elems } = plan([['a', 'f32', n, 'input'], ['b', 'f32', n, 'input'], ['y', 'f32', n, 'output']]);
    const ex = await WebGpuExecutor.create(dev, [{ sig: addSig, wgsl: ADD }], layout, elems);
    ex.write('a', new Float32Array(n).fill(1));
    const steps = [{ kernel: 'add', buffers: ['a', 'b', 'y'], sizes: [n] }];
    const copies = [['y', 'b']] as const;
    let last: Float32Array = new Float32Array();
    for (let i = 0; i < 5; i++) last = new Float32Array((await ex.execute(steps, ['y'], copies))[0]!.buffer);
    expect(last.every((x) => x === 5)).toBe(true); // b starts at zero, y = 1 + b, b ← y
    expect(ex.dispatchesPerRun).toBe(2);
    // A readback between runs reads the carried state and leaves the prepared dispatch list in place.
    expect(new Float32Array((await ex.bytes('b')).buffer).every((x) => x === 5)).toBe(true);
    last = new Float32Array((await ex.execute(steps, ['y'], copies))[0]!.buffer);
    expect(last.every((x) => x === 6)).toBe(true);
    ex.dispose();
  });

  it('names the kernel, line and column of a WGSL error', async () => {
    const { layout, elems } = plan([['a', 'f32', 4, 'input']]);
    const bad = ADD.replace('let n =', 'let n: f32 =');
    const err = await WebGpuExecutor.create(dev, [{ sig: addSig, wgsl: bad }], layout, elems).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TesseraError);
    expect((err as Error).message).toMatch(/kernel 'add': the WGSL does not compile: \d+:\d+: /);
  });

  it('refuses an arena larger than the device binds', async () => {
    const huge = Math.floor(dev.limits.maxStorageBufferBindingSize / 4) + 64;
    const { layout, elems } = plan([['a', 'f32', huge, 'input']]);
    await expect(WebGpuExecutor.create(dev, [], layout, elems)).rejects.toThrow(/binds at most \d+ bytes as one storage buffer/);
  });
});

describe('WebGPU word layout', () => {
  it('round-trips every dtype through 32-bit words', () => {
    const cases: [KScalar, ArrayBufferView][] = [
      ['bool', Uint8Array.of(0, 1, 1)], ['u8', Uint8Array.of(0, 200, 255)], ['i8', Int8Array.of(-128, -1, 127)],
      ['u16', Uint16Array.of(0, 65535)], ['i16', Int16Array.of(-32768, 5)], ['i32', Int32Array.of(-7, 2 ** 31 - 1)],
      ['u32', Uint32Array.of(2 ** 32 - 1)], ['f32', Float32Array.of(1.5, -0, Infinity)], ['i64', BigInt64Array.of(-(2n ** 63n), 12345678901234n)],
      ['u64', BigUint64Array.of(2n ** 64n - 1n)], ['f16', Uint16Array.of(0x3c00, 0x8001, 0x7c00, 0xfbff)], ['bf16', Uint16Array.of(0x3f80, 0xff80)],
      ['f64', Float64Array.of(0.5, -3)],
    ];
    for (const [e, data] of cases) {
      const words = toWords(e, data);
      expect(words.length).toBe((data.byteLength / (data as unknown as { BYTES_PER_ELEMENT: number }).BYTES_PER_ELEMENT) * webgpuElemBytes(e) / 4);
      expect(Array.from(fromWords(e, words)), e).toEqual(Array.from(new Uint8Array(data.buffer, data.byteOffset, data.byteLength)));
    }
    expect(Array.from(new Int32Array(toWords('i8', Int8Array.of(-2)).buffer))).toEqual([-2]); // sign-extended
    expect(Array.from(new Float32Array(toWords('f16', Uint16Array.of(0x3555)).buffer))).toEqual([0.333251953125]);
  });
});
