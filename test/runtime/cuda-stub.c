// A stand-in for libcuda.so.1 (tests only): the driver calls the CUDA executor makes, on host memory, so
// the FFI marshalling (out-parameters, JIT log options, kernelParams) is tested on machines without a GPU.
// "Device" pointers are host pointers. Kernels are not executed, except an entry named stub_copy(src, dst, n),
// which copies n 32-bit words. Every call is appended to the file $CUDA_STUB_LOG. A PTX image containing
// STUB_JIT_FAIL fails to load with CUDA_ERROR_INVALID_PTX and a log line. With CUDA_STUB_HANG set,
// cuCtxSynchronize never returns (a hung kernel); with CUDA_STUB_SYNC_ERROR=N it returns N (e.g. 700).
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef int CUresult;
typedef struct { char name[128]; int nparams; int is64[64]; } Func;
typedef struct { char *image; } Module;

static void logf_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
#include <stdarg.h>
static void logf_(const char *fmt, ...) {
  const char *path = getenv("CUDA_STUB_LOG");
  if (!path) return;
  FILE *f = fopen(path, "a");
  if (!f) return;
  va_list ap; va_start(ap, fmt); vfprintf(f, fmt, ap); va_end(ap);
  fputc('\n', f);
  fclose(f);
}

static int inited = 0;
static int ctx_token = 1;

CUresult cuInit(unsigned flags) { (void)flags; inited = 1; logf_("cuInit"); return 0; }
CUresult cuDriverGetVersion(int *v) { *v = 12080; return 0; }
CUresult cuDeviceGet(int *d, int ordinal) { if (!inited) return 3; *d = ordinal; return 0; }
CUresult cuDeviceGetName(char *name, int len, int dev) { (void)dev; snprintf(name, len, "Stub GPU"); return 0; }
CUresult cuDeviceGetAttribute(int *v, int attr, int dev) { (void)dev; *v = attr == 75 ? 9 : 0; return 0; }
CUresult cuDevicePrimaryCtxRetain(void **ctx, int dev) { (void)dev; *ctx = &ctx_token; return 0; }
CUresult cuCtxSetCurrent(void *ctx) { return ctx == &ctx_token ? 0 : 201; }
CUresult cuCtxSynchronize(void) {
  logf_("sync");
  if (getenv("CUDA_STUB_HANG")) for (;;) sleep(1);
  const char *err = getenv("CUDA_STUB_SYNC_ERROR");
  return err ? atoi(err) : 0;
}
CUresult cuStreamSynchronize(void *s) { (void)s; return 0; }

CUresult cuModuleLoadDataEx(void **out, const void *image, unsigned n, const int *opts, void **vals) {
  const char *text = image;
  char *errbuf = NULL; size_t errlen = 0;
  for (unsigned i = 0; i < n; i++) {
    if (opts[i] == 5) errbuf = vals[i];
    if (opts[i] == 6) errlen = (size_t)(uintptr_t)vals[i];
  }
  logf_("load options=%u errlog=%s size=%zu", n, errbuf ? "yes" : "no", errlen);
  if (strstr(text, "STUB_JIT_FAIL")) {
    if (errbuf && errlen) snprintf(errbuf, errlen, "ptxas fatal   : stub says the PTX is bad");
    return 218;
  }
  Module *m = calloc(1, sizeof *m);
  m->image = strdup(text);
  *out = m;
  return 0;
}

CUresult cuModuleUnload(void *mod) { Module *m = mod; logf_("unload"); free(m->image); free(m); return 0; }

CUresult cuModuleGetFunction(void **out, void *mod, const char *name) {
  Module *m = mod;
  char pat[160];
  snprintf(pat, sizeof pat, ".entry %s(", name);
  const char *at = strstr(m->image, pat);
  if (!at) return 500; /* CUDA_ERROR_NOT_FOUND */
  Func *f = calloc(1, sizeof *f); /* never freed: a test stand-in */
  snprintf(f->name, sizeof f->name, "%s", name);
  const char *end = strchr(at, ')');
  for (const char *p = strstr(at, ".param"); p && p < end && f->nparams < 64; p = strstr(p + 1, ".param")) {
    f->is64[f->nparams++] = strncmp(p, ".param .u64", 11) == 0;
  }
  *out = f;
  return 0;
}

CUresult cuMemAlloc_v2(uint64_t *p, size_t bytes) {
  void *mem = calloc(1, bytes);
  if (!mem) return 2;
  *p = (uint64_t)(uintptr_t)mem;
  logf_("alloc %zu base=%llu", bytes, (unsigned long long)*p);
  return 0;
}
CUresult cuMemFree_v2(uint64_t p) { free((void *)(uintptr_t)p); logf_("free"); return 0; }
CUresult cuMemcpyHtoD_v2(uint64_t dst, const void *src, size_t n) { memcpy((void *)(uintptr_t)dst, src, n); logf_("htod %llu %zu", (unsigned long long)dst, n); return 0; }
CUresult cuMemcpyDtoH_v2(void *dst, uint64_t src, size_t n) { memcpy(dst, (void *)(uintptr_t)src, n); logf_("dtoh %llu %zu", (unsigned long long)src, n); return 0; }

CUresult cuLaunchKernel(void *fn, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
                        unsigned shared, void *stream, void **params, void **extra) {
  Func *f = fn;
  char args[2048] = "";
  size_t at = 0;
  uint64_t v[64];
  for (int i = 0; i < f->nparams; i++) {
    v[i] = f->is64[i] ? *(uint64_t *)params[i] : *(uint32_t *)params[i];
    at += snprintf(args + at, sizeof args - at, " %llu", (unsigned long long)v[i]);
  }
  logf_("launch %s grid=%u,%u,%u block=%u,%u,%u shared=%u stream=%s extra=%s args=%s", f->name, gx, gy, gz, bx, by, bz, shared,
        stream ? "set" : "null", extra ? "set" : "null", args);
  if (strcmp(f->name, "stub_copy") == 0 && f->nparams == 3) {
    memcpy((void *)(uintptr_t)v[1], (void *)(uintptr_t)v[0], (size_t)v[2] * 4);
  }
  return 0;
}

CUresult cuFuncSetAttribute(void *fn, int attrib, int value) {
  logf_("setattr %s %d %d", ((Func *)fn)->name, attrib, value);
  return 0;
}

CUresult cuGetErrorName(int code, const char **name) {
  switch (code) {
    case 218: *name = "CUDA_ERROR_INVALID_PTX"; return 0;
    case 500: *name = "CUDA_ERROR_NOT_FOUND"; return 0;
    case 700: *name = "CUDA_ERROR_ILLEGAL_ADDRESS"; return 0;
    default: return 1;
  }
}
