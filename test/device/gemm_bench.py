#!/usr/bin/env python3
"""Tensor-core GEMM templates (backends/ptx/gemm.ts) on a GPU: correctness against torch, speed against cuBLAS.

Loads the pre-generated PTX modules in test/device/gemm-kernels/ (written by
`npx tsx test/device/gen-gemm-kernels.ts`; this machine needs no Node), and for each kernel:
  1. correctness on small and odd shapes (1x1x1, 17x33x65, 128^3, 300x200x100, batches with a broadcast
     operand) and on the timed 4096^3 problem: f16/bf16 against an f32 reference (relative error bound for
     f32 accumulation and rounding to the output type), 8-bit exactly (the reference runs in f64: exact here);
  2. time for 4096x4096x4096 with CUDA events (warm-up, median of 20) against torch on the same dtype and
     layout (cuBLAS; torch._int_mm for int8).
Prints one line per kernel and writes $OUT/gemm.json when OUT is set. Exit status: 0 when every kernel is
correct, 1 when one is not, 2 when cupy/torch/the GPU are missing.
"""
import gzip
import json
import os
import statistics
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
KDIR = os.path.join(HERE, 'gemm-kernels')

try:
    import numpy as np
    import torch
    import cupy
except Exception as err:  # noqa: BLE001
    print(f'gemm_bench: needs numpy, torch and cupy ({err})')
    sys.exit(2)
if not torch.cuda.is_available():
    print('gemm_bench: no CUDA device visible to torch')
    sys.exit(2)

DEV = torch.device('cuda')
torch.backends.cuda.matmul.allow_tf32 = False  # the f32 references must be f32
TORCH_DT = {'f16': torch.float16, 'bf16': torch.bfloat16, 'f32': torch.float32,
            'i8': torch.int8, 'u8': torch.uint8, 'i32': torch.int32}
BIG = int(os.environ.get('GEMM_BENCH_SIZE', '4096'))  # the timed problem is BIG³
REPS = 20
# (batch, M, N, K, A broadcast over the batch, B broadcast)
SHAPES = [(1, 1, 1, 1, False, False), (1, 17, 33, 65, False, False), (1, 128, 128, 128, False, False),
          (1, 300, 200, 100, False, False), (3, 64, 48, 40, False, True), (2, 33, 65, 17, True, False),
          (2, 256, 136, 264, False, False), (1, 5, 7, 300, False, False)]


def tol(out):
    # Output rounding dominates (f16 2^-11, bf16 2^-8 relative); allow a few ulps of the largest value.
    return {'f16': 4e-3, 'bf16': 3e-2, 'f32': 1e-4}.get(out, 0.0)


def make_inputs(elem, batch, M, N, K, a_bc, b_bc, ta, tb, seed):
    """A and B in their stored layouts (batch dims of 1 when broadcast) and the logical [b, M, K] / [b, K, N]."""
    g = torch.Generator(device=DEV).manual_seed(seed)
    ab, bb = (1 if a_bc else batch), (1 if b_bc else batch)
    a_shape = (ab, K, M) if ta else (ab, M, K)
    b_shape = (bb, N, K) if tb else (bb, K, N)

    def rand(shape):
        if elem in ('f16', 'bf16'):
            return (torch.rand(shape, generator=g, device=DEV) * 2 - 1).to(TORCH_DT[elem])
        lo, hi = (-128, 128) if elem == 'i8' else (0, 256)
        return torch.randint(lo, hi, shape, generator=g, device=DEV, dtype=torch.int16).to(TORCH_DT[elem])

    A, B = rand(a_shape).contiguous(), rand(b_shape).contiguous()
    A_log = A.transpose(1, 2) if ta else A
    B_log = B.transpose(1, 2) if tb else B
    return A, B, A_log, B_log


def reference(A_log, B_log, out, batch):
    """Exact for 8-bit (f64 holds every sum), f32 for floats; expanded over the batch."""
    if out in ('i32', 'i8'):
        r = torch.matmul(A_log.double(), B_log.double())
    else:
        r = torch.matmul(A_log.float(), B_log.float())
    return r.expand(batch, -1, -1) if r.shape[0] == 1 and batch > 1 else r


def compare(Y, ref, out):
    if out in ('i32', 'i8'):
        want = ref.to(torch.int64)
        if out == 'i8':  # ONNX MatMul on int8 wraps
            want = ((want + 128) % 256) - 128
        err = (Y.to(torch.int64) - want).abs().max().item() if Y.numel() else 0
        return err == 0, float(err)
    scale = max(1.0, ref.abs().max().item()) if ref.numel() else 1.0
    err = ((Y.float() - ref).abs().max().item() / scale) if Y.numel() else 0.0
    return err <= tol(out), err


class Kernel:
    def __init__(self, meta, tmp):
        self.meta = meta
        path = os.path.join(tmp, meta['file'][:-3])
        with gzip.open(os.path.join(KDIR, meta['file']), 'rb') as f, open(path, 'wb') as g:
            g.write(f.read())
        self.module = cupy.RawModule(path=path)
        self.fn = self.module.get_function(meta['entry'])
        smem = meta['sharedBytes']
        if smem > 48 * 1024:
            try:
                self.fn.max_dynamic_shared_size_bytes = smem
            except Exception:  # noqa: BLE001  (older cupy: the driver call directly)
                cupy.cuda.driver.funcSetAttribute(self.fn.ptr, 8, smem)  # CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES

    def launch(self, A, B, Y, batch, M, N, K, sa, sb):
        m = self.meta
        grid = batch * -(-M // m['bm']) * -(-N // m['bn'])
        if grid == 0:
            return
        args = (np.uint64(A.data_ptr()), np.uint64(B.data_ptr()), np.uint64(Y.data_ptr()),
                np.int32(batch), np.int32(M), np.int32(N), np.int32(K), np.int32(sa), np.int32(sb))
        self.fn((grid,), (m['block'],), args, shared_mem=m['sharedBytes'])


def run_case(kern, shape, seed):
    m = kern.meta
    batch, M, N, K, a_bc, b_bc = shape
    A, B, A_log, B_log = make_inputs(m['elem'], batch, M, N, K, a_bc, b_bc, m['transA'], m['transB'], seed)
    Y = torch.full((batch, M, N), 77, device=DEV, dtype=TORCH_DT[m['out']])  # garbage: every element must be stored
    kern.launch(A, B, Y, batch, M, N, K, 0 if a_bc else M * K, 0 if b_bc else K * N)
    torch.cuda.synchronize()
    return compare(Y, reference(A_log, B_log, m['out'], batch), m['out'])


def median_ms(fn):
    for _ in range(3):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(REPS):
        s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        s.record()
        fn()
        e.record()
        e.synchronize()
        times.append(s.elapsed_time(e))
    return statistics.median(times)


def cublas_fn(m, A_log, B_log):
    """The cuBLAS call torch makes for the same problem (None where torch has none: u8)."""
    a, b = A_log[0], B_log[0]
    if m['elem'] in ('f16', 'bf16'):
        if m['out'] == 'f32':
            return lambda: torch.matmul(a, b).float()
        return lambda: torch.matmul(a, b)
    if m['elem'] == 'i8':
        # torch._int_mm (cuBLASLt int8); some versions want B column-major: try both layouts.
        for bb in (b, b.t().contiguous().t()):
            try:
                torch._int_mm(a, bb)
                return lambda bb=bb: torch._int_mm(a, bb)
            except Exception as err:  # noqa: BLE001
                print(f'  (torch._int_mm with B strides {tuple(bb.stride())}: {err})')
    return None


def write_json(props, results):
    out = os.environ.get('OUT')
    if out:
        with open(os.path.join(out, 'gemm.json'), 'w') as f:
            json.dump({'device': props.name, 'results': results}, f, indent=1)


def main():
    t0 = time.time()
    with open(os.path.join(KDIR, 'manifest.json')) as f:
        manifest = json.load(f)
    only = sys.argv[sys.argv.index('--only') + 1] if '--only' in sys.argv else None
    if only:
        manifest['kernels'] = [k for k in manifest['kernels'] if only in k['id']]
    props = torch.cuda.get_device_properties(0)
    print(f'device: {props.name} (sm_{props.major}{props.minor}, {props.multi_processor_count} SMs); '
          f'torch {torch.__version__}, cupy {cupy.__version__}; kernels target {manifest["target"]}')
    results, all_ok = [], True
    cublas_cache = {}
    with tempfile.TemporaryDirectory() as tmp:
        for meta in manifest['kernels']:
            row = {'id': meta['id'], 'elem': meta['elem'], 'out': meta['out'], 'tile': meta['tile'],
                   'layout': ('T' if meta['transA'] else 'N') + ('T' if meta['transB'] else 'N')}
            try:
                kern = Kernel(meta, tmp)
                worst, ok = 0.0, True
                for i, shape in enumerate(SHAPES):
                    good, err = run_case(kern, shape, 1000 + i)
                    worst = max(worst, err)
                    if not good:
                        ok = False
                        row.setdefault('failed_shapes', []).append(list(shape[:4]) + [err])
                # The timed problem, checked as well.
                A, B, A_log, B_log = make_inputs(meta['elem'], 1, BIG, BIG, BIG, False, False, meta['transA'], meta['transB'], 7)
                Y = torch.empty((1, BIG, BIG), device=DEV, dtype=TORCH_DT[meta['out']])
                fn = lambda: kern.launch(A, B, Y, 1, BIG, BIG, BIG, BIG * BIG, BIG * BIG)  # noqa: E731
                ms = median_ms(fn)
                good, err = compare(Y, reference(A_log, B_log, meta['out'], 1), meta['out'])
                worst = max(worst, err)
                if not good:
                    ok = False
                    row.setdefault('failed_shapes', []).append([1, BIG, BIG, BIG, err])
                tflops = 2 * BIG ** 3 / (ms * 1e-3) / 1e12
                key = (meta['elem'], meta['out'], row['layout'])
                if key not in cublas_cache:
                    cb = cublas_fn(meta, A_log, B_log)
                    try:
                        cublas_cache[key] = median_ms(cb) if cb else None
                    except Exception as err:  # noqa: BLE001
                        print(f'  (cuBLAS reference for {key} failed: {err})')
                        cublas_cache[key] = None
                cms = cublas_cache[key]
                ctf = 2 * BIG ** 3 / (cms * 1e-3) / 1e12 if cms else None
                row.update({'correct': ok, 'max_err': worst, 'ms': ms, 'tflops': tflops,
                            'cublas_ms': cms, 'cublas_tflops': ctf, 'ratio': (tflops / ctf) if ctf else None})
                del A, B, Y, A_log, B_log
            except Exception as err:  # noqa: BLE001
                row.update({'correct': False, 'error': f'{type(err).__name__}: {err}'})
                traceback.print_exc(limit=3)
            all_ok = all_ok and bool(row.get('correct'))
            results.append(row)
            write_json(props, results)
            unit = 'TOPS' if meta['elem'] in ('i8', 'u8') else 'TFLOP/s'
            if 'error' in row:
                print(f"{row['elem']:>4}->{row['out']:<4} {row['layout']} {row['tile']:<15} ERROR {row['error']}")
            else:
                cb = f"{row['cublas_tflops']:7.1f}" if row['cublas_tflops'] else '    n/a'
                ratio = f"{row['ratio']:.2f}" if row['ratio'] else 'n/a'
                print(f"{row['elem']:>4}->{row['out']:<4} {row['layout']} {row['tile']:<15} correct={'yes' if row['correct'] else 'NO '}"
                      f" (max err {row['max_err']:.2e}) {row['tflops']:7.1f} {unit}  cuBLAS {cb}  ratio {ratio}"
                      + (f"  failed: {row['failed_shapes']}" if 'failed_shapes' in row else ''))
            sys.stdout.flush()
            if 'error' in row:
                try:  # a faulting kernel poisons the context: stop rather than report every later kernel as failed
                    torch.cuda.synchronize()
                except Exception as err:  # noqa: BLE001
                    print(f'CUDA context lost after {meta["id"]} ({err}); skipping the rest. Rerun others with --only ID')
                    break
    for elem in ('f16', 'bf16', 'i8', 'u8'):
        timed = [r for r in results if r['elem'] == elem and r.get('correct') and r.get('tflops')]
        if timed:
            best = max(timed, key=lambda r: r['tflops'])
            ratio = f"{best['ratio']:.2f} of cuBLAS" if best.get('ratio') else 'no cuBLAS reference'
            print(f"best {elem}: {best['id']} {best['tflops']:.1f} ({ratio})")
    print(f'total {time.time() - t0:.1f} s; {"all correct" if all_ok else "SOME KERNELS FAILED"}')
    write_json(props, results)
    return 0 if all_ok else 1


if __name__ == '__main__':
    sys.exit(main())
