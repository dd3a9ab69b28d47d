// The CUDA driver API, bound through koffi (an FFI that needs no native build). Nothing is loaded at import
// time: the first cuda session loads koffi and libcuda.so.1, initializes the driver once and makes device 0's
// primary context current. Every CUresult is checked; an error names the call (and the kernel, where the
// caller passes one) with the driver's own error name.
import { TesseraError } from '../../ir/errors.ts';

/** An opaque driver handle (CUcontext, CUmodule, CUfunction) as koffi hands it back. */
export type Handle = object;

/** The subset of koffi this file uses (typed here so the runtime has no type dependency on it). */
interface Koffi {
  load(path: string): { func(decl: string): (...args: unknown[]) => unknown; unload?(): void };
  alloc(type: string, len: number): Handle;
  free(ptr: Handle): void;
  view(ptr: Handle, len: number): ArrayBuffer;
  address(ptr: Handle): bigint;
}

type CudaFn = (...args: unknown[]) => number;

/** The raw entry points, each returning a CUresult. */
interface CudaApi {
  cuInit: CudaFn;
  cuDriverGetVersion: CudaFn;
  cuDeviceGet: CudaFn;
  cuDeviceGetName: CudaFn;
  cuDeviceGetAttribute: CudaFn;
  cuDevicePrimaryCtxRetain: CudaFn;
  cuCtxSetCurrent: CudaFn;
  cuCtxSynchronize: CudaFn;
  cuStreamSynchronize: CudaFn;
  cuModuleLoadDataEx: CudaFn;
  cuModuleUnload: CudaFn;
  cuModuleGetFunction: CudaFn;
  cuMemAlloc_v2: CudaFn;
  cuMemFree_v2: CudaFn;
  cuMemcpyHtoD_v2: CudaFn;
  cuMemcpyDtoH_v2: CudaFn;
  cuLaunchKernel: CudaFn;
  cuFuncSetAttribute: CudaFn;
  cuGetErrorName: CudaFn;
}

const DECLS: Record<keyof CudaApi, string> = {
  cuInit: 'int cuInit(unsigned int flags)',
  cuDriverGetVersion: 'int cuDriverGetVersion(_Out_ int *version)',
  cuDeviceGet: 'int cuDeviceGet(_Out_ int *device, int ordinal)',
  cuDeviceGetName: 'int cuDeviceGetName(void *name, int len, int dev)',
  cuDeviceGetAttribute: 'int cuDeviceGetAttribute(_Out_ int *value, int attrib, int dev)',
  cuDevicePrimaryCtxRetain: 'int cuDevicePrimaryCtxRetain(_Out_ void **pctx, int dev)',
  cuCtxSetCurrent: 'int cuCtxSetCurrent(void *ctx)',
  cuCtxSynchronize: 'int cuCtxSynchronize()',
  cuStreamSynchronize: 'int cuStreamSynchronize(void *stream)',
  cuModuleLoadDataEx: 'int cuModuleLoadDataEx(_Out_ void **module, const void *image, unsigned int numOptions, const void *options, void *optionValues)',
  cuModuleUnload: 'int cuModuleUnload(void *module)',
  cuModuleGetFunction: 'int cuModuleGetFunction(_Out_ void **hfunc, void *module, const char *name)',
  cuMemAlloc_v2: 'int cuMemAlloc_v2(_Out_ uint64_t *dptr, size_t bytesize)',
  cuMemFree_v2: 'int cuMemFree_v2(uint64_t dptr)',
  cuMemcpyHtoD_v2: 'int cuMemcpyHtoD_v2(uint64_t dst, const void *src, size_t bytes)',
  cuMemcpyDtoH_v2: 'int cuMemcpyDtoH_v2(_Out_ void *dst, uint64_t src, size_t bytes)',
  cuLaunchKernel: 'int cuLaunchKernel(void *f, unsigned int gx, unsigned int gy, unsigned int gz, ' +
    'unsigned int bx, unsigned int by, unsigned int bz, unsigned int sharedMemBytes, void *stream, void *kernelParams, void *extra)',
  cuFuncSetAttribute: 'int cuFuncSetAttribute(void *hfunc, int attrib, int value)',
  cuGetErrorName: 'int cuGetErrorName(int error, _Out_ const char **name)',
};
// CUfunction_attribute: a kernel may use more than 48 KiB of dynamic shared memory only after opting in.
const CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES = 8;
const DEFAULT_DYNAMIC_SHARED = 48 * 1024;

// CUjit_option values (cuda.h).
const CU_JIT_INFO_LOG_BUFFER = 3;
const CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES = 4;
const CU_JIT_ERROR_LOG_BUFFER = 5;
const CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES = 6;
// CUdevice_attribute values.
const CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR = 75;
const CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR = 76;
const LOG_BYTES = 16384;

/** Errors after which the context is unusable until the process exits (cuda.h calls them sticky). */
const STICKY = new Set([
  'CUDA_ERROR_ILLEGAL_ADDRESS', 'CUDA_ERROR_LAUNCH_FAILED', 'CUDA_ERROR_MISALIGNED_ADDRESS', 'CUDA_ERROR_ILLEGAL_INSTRUCTION',
  'CUDA_ERROR_INVALID_ADDRESS_SPACE', 'CUDA_ERROR_INVALID_PC', 'CUDA_ERROR_HARDWARE_STACK_ERROR', 'CUDA_ERROR_LAUNCH_TIMEOUT',
  'CUDA_ERROR_ASSERT', 'CUDA_ERROR_ECC_UNCORRECTABLE',
]);

/** A failed driver call: the call, the kernel (if any), the driver's error name and code. */
export class CudaError extends TesseraError {
  constructor(readonly call: string, readonly code: number, readonly errorName: string, detail = '') {
    super(`CUDA ${call} failed: ${errorName} (${code})${detail}`);
  }
  /** Whether the context is poisoned: every later call in this process fails too. */
  get sticky(): boolean { return STICKY.has(this.errorName); }
}

export interface DeviceInfo {
  name: string;
  computeCapability: string;
  driverVersion: string;
}

/** The loaded driver with device 0's primary context current on this thread. */
export class CudaDriver {
  /** Functions already allowed more than 48 KiB of dynamic shared memory. */
  private readonly optedIn = new Set<Handle>();
  private constructor(private readonly koffi: Koffi, private readonly api: CudaApi, readonly device: number) {}

  private errorName(code: number): string {
    const out: (string | null)[] = [null];
    try {
      if (this.api.cuGetErrorName(code, out) === 0 && out[0]) return out[0];
    } catch { /* fall through */ }
    return `CUresult ${code}`;
  }

  /** Throws a CudaError unless a call returned CUDA_SUCCESS. */
  check(code: number, call: string, detail = ''): void {
    if (code !== 0) throw new CudaError(call, code, this.errorName(code), detail);
  }

  static async load(libraryPath = defaultLibrary()): Promise<CudaDriver> {
    let koffi: Koffi;
    try {
      const mod = (await import('koffi')) as unknown as { default?: Koffi } & Koffi;
      koffi = mod.default ?? mod;
    } catch (e) {
      throw new TesseraError(`the cuda backend needs the 'koffi' package (npm i koffi): ${(e as Error).message}`);
    }
    let lib: ReturnType<Koffi['load']>;
    try {
      lib = koffi.load(libraryPath);
    } catch (e) {
      throw new TesseraError(`no CUDA driver found (${libraryPath} could not be loaded): ${(e as Error).message}`);
    }
    const api = {} as CudaApi;
    for (const [name, decl] of Object.entries(DECLS) as [keyof CudaApi, string][]) {
      try {
        api[name] = lib.func(decl) as CudaFn;
      } catch (e) {
        throw new TesseraError(`the CUDA driver (${libraryPath}) lacks ${name}: ${(e as Error).message}`);
      }
    }
    const driver = new CudaDriver(koffi, api, 0);
    driver.check(api.cuInit(0), 'cuInit');
    const dev = [0];
    driver.check(api.cuDeviceGet(dev, 0), 'cuDeviceGet');
    const ctx: (Handle | null)[] = [null];
    driver.check(api.cuDevicePrimaryCtxRetain(ctx, dev[0]), 'cuDevicePrimaryCtxRetain');
    driver.check(api.cuCtxSetCurrent(ctx[0]), 'cuCtxSetCurrent');
    return new CudaDriver(koffi, api, dev[0]!);
  }

  info(): DeviceInfo {
    const name = new Uint8Array(256);
    this.check(this.api.cuDeviceGetName(name, name.length, this.device), 'cuDeviceGetName');
    const attr = (a: number) => { const v = [0]; this.check(this.api.cuDeviceGetAttribute(v, a, this.device), 'cuDeviceGetAttribute'); return v[0]!; };
    const ver = [0];
    this.check(this.api.cuDriverGetVersion(ver), 'cuDriverGetVersion');
    const end = name.indexOf(0);
    return {
      name: new TextDecoder().decode(name.subarray(0, end < 0 ? name.length : end)),
      computeCapability: `${attr(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR)}.${attr(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR)}`,
      driverVersion: `${Math.floor(ver[0]! / 1000)}.${(ver[0]! % 1000) / 10}`,
    };
  }

  /** JIT-compiles a PTX module (NUL-terminated here); a failure carries the JIT's error log. */
  loadModule(ptx: Uint8Array): Handle {
    const image = new Uint8Array(ptx.length + 1);
    image.set(ptx);
    const errLog = this.koffi.alloc('uint8', LOG_BYTES);
    const infoLog = this.koffi.alloc('uint8', LOG_BYTES);
    const values = this.koffi.alloc('uint64', 4);
    try {
      new Uint8Array(this.koffi.view(errLog, LOG_BYTES)).fill(0);
      new Uint8Array(this.koffi.view(infoLog, LOG_BYTES)).fill(0);
      // optionValues holds each option's value in a pointer-sized slot: buffers by address, sizes by value.
      new BigUint64Array(this.koffi.view(values, 32)).set([
        this.koffi.address(errLog), BigInt(LOG_BYTES), this.koffi.address(infoLog), BigInt(LOG_BYTES),
      ]);
      const options = Int32Array.of(CU_JIT_ERROR_LOG_BUFFER, CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES, CU_JIT_INFO_LOG_BUFFER, CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES);
      const mod: (Handle | null)[] = [null];
      const rc = this.api.cuModuleLoadDataEx(mod, image, options.length, options, values) as number;
      if (rc !== 0) {
        const log = cString(new Uint8Array(this.koffi.view(errLog, LOG_BYTES))).trim();
        this.check(rc, 'cuModuleLoadDataEx (PTX JIT)', log ? `\n${log}` : ' (the JIT wrote no error log)');
      }
      return mod[0]!;
    } finally {
      this.koffi.free(errLog);
      this.koffi.free(infoLog);
      this.koffi.free(values);
    }
  }

  unloadModule(mod: Handle): void {
    this.check(this.api.cuModuleUnload(mod), 'cuModuleUnload');
  }

  getFunction(mod: Handle, name: string): Handle {
    const f: (Handle | null)[] = [null];
    this.check(this.api.cuModuleGetFunction(f, mod, name), 'cuModuleGetFunction', ` (kernel '${name}')`);
    return f[0]!;
  }

  /** Device memory of at least one byte; returns its device address. */
  alloc(bytes: number): bigint {
    const p: (number | bigint)[] = [0];
    this.check(this.api.cuMemAlloc_v2(p, Math.max(1, bytes)), 'cuMemAlloc_v2', ` (${bytes} bytes)`);
    return BigInt(p[0]!);
  }

  free(ptr: bigint): void {
    this.check(this.api.cuMemFree_v2(ptr), 'cuMemFree_v2');
  }

  copyToDevice(dst: bigint, src: ArrayBufferView): void {
    if (src.byteLength === 0) return;
    const bytes = new Uint8Array(src.buffer, src.byteOffset, src.byteLength);
    this.check(this.api.cuMemcpyHtoD_v2(dst, bytes, bytes.byteLength), 'cuMemcpyHtoD_v2');
  }

  copyToHost(dst: Uint8Array, src: bigint): void {
    if (dst.byteLength === 0) return;
    this.check(this.api.cuMemcpyDtoH_v2(dst, src, dst.byteLength), 'cuMemcpyDtoH_v2');
  }

  /** A reusable block of native memory for kernel arguments (stable while the driver reads it). */
  argBlock(slots: number): ArgBlock {
    return new ArgBlock(this.koffi, slots);
  }

  /** Launches on the default stream; `args` is an ArgBlock filled with the kernel's parameters. */
  launch(f: Handle, kernel: string, grid: number, block: number, sharedBytes: number, args: ArgBlock): void {
    if (sharedBytes > DEFAULT_DYNAMIC_SHARED && !this.optedIn.has(f)) {
      this.check(this.api.cuFuncSetAttribute(f, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, sharedBytes),
        'cuFuncSetAttribute', ` (kernel '${kernel}' asks for ${sharedBytes} bytes of dynamic shared memory)`);
      this.optedIn.add(f);
    }
    this.check(this.api.cuLaunchKernel(f, grid, 1, 1, block, 1, 1, sharedBytes, null, args.params, null),
      'cuLaunchKernel', ` (kernel '${kernel}', grid ${grid}, block ${block}, shared ${sharedBytes} bytes)`);
  }

  synchronize(what: string): void {
    this.check(this.api.cuCtxSynchronize(), 'cuCtxSynchronize', what ? ` (${what})` : '');
  }
}

/**
 * cuLaunchKernel's kernelParams: an array of pointers, one per parameter, each to that parameter's value.
 * Every parameter gets an 8-byte slot (u64 pointers; u32 sizes in the low half, little-endian).
 */
export class ArgBlock {
  readonly params: Handle;
  private readonly values: Handle;
  private readonly view: DataView;
  private freed = false;
  constructor(private readonly koffi: Koffi, readonly slots: number) {
    const n = Math.max(1, slots);
    this.values = koffi.alloc('uint64', n);
    this.params = koffi.alloc('uint64', n);
    this.view = new DataView(koffi.view(this.values, n * 8));
    const base = koffi.address(this.values);
    const ptrs = new BigUint64Array(koffi.view(this.params, n * 8));
    for (let i = 0; i < n; i++) ptrs[i] = base + BigInt(8 * i);
  }
  setU64(i: number, v: bigint): void { this.view.setBigUint64(8 * i, v, true); }
  setU32(i: number, v: number): void { this.view.setBigUint64(8 * i, 0n, true); this.view.setUint32(8 * i, v >>> 0, true); }
  dispose(): void {
    if (this.freed) return;
    this.freed = true;
    this.koffi.free(this.values);
    this.koffi.free(this.params);
  }
}

function cString(bytes: Uint8Array): string {
  const end = bytes.indexOf(0);
  return new TextDecoder().decode(bytes.subarray(0, end < 0 ? bytes.length : end));
}

/** libcuda.so.1, or the library TESSERA_LIBCUDA names (tests point it at a stand-in). */
function defaultLibrary(): string {
  const env = typeof process !== 'undefined' ? process.env?.TESSERA_LIBCUDA : undefined;
  return env || 'libcuda.so.1';
}

let shared: Promise<CudaDriver> | undefined;
/** The process's driver, loaded on first use; a failed load is retried by the next caller. */
export function cudaDriver(): Promise<CudaDriver> {
  shared ??= CudaDriver.load().catch((e: unknown) => { shared = undefined; throw e; });
  return shared;
}
