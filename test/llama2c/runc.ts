// A plain transcription of llama2.c's run.c forward pass (test-only): an oracle for the llama2.c import
// that shares no code with it — its own checkpoint parsing, float32 buffers, loops as in C.
export class RunC {
  readonly dim: number; readonly hiddenDim: number; readonly nLayers: number; readonly nHeads: number;
  readonly nKvHeads: number; readonly vocabSize: number; readonly seqLen: number;
  private readonly w: Record<string, Float32Array> = {};
  private readonly keyCache: Float32Array; private readonly valueCache: Float32Array;

  constructor(file: Uint8Array) {
    const hdr = new Int32Array(file.buffer.slice(file.byteOffset, file.byteOffset + 28));
    [this.dim, this.hiddenDim, this.nLayers, this.nHeads, this.nKvHeads] = [hdr[0]!, hdr[1]!, hdr[2]!, hdr[3]!, hdr[4]!];
    const shared = hdr[5]! > 0;
    this.vocabSize = Math.abs(hdr[5]!);
    this.seqLen = hdr[6]!;
    const f = new Float32Array(file.buffer.slice(file.byteOffset + 28, file.byteOffset + file.byteLength));
    const hs = this.dim / this.nHeads, L = this.nLayers, d = this.dim, kv = this.nKvHeads * hs, h = this.hiddenDim;
    let p = 0;
    const take = (name: string, n: number) => { this.w[name] = f.subarray(p, p + n); p += n; };
    take('tok', this.vocabSize * d); take('rms_att', L * d); take('wq', L * d * d); take('wk', L * d * kv);
    take('wv', L * d * kv); take('wo', L * d * d); take('rms_ffn', L * d); take('w1', L * d * h); take('w2', L * h * d);
    take('w3', L * d * h); take('rms_final', d);
    p += this.seqLen * hs; // freq_cis_real + freq_cis_imag (seq_len * head_size / 2 each)
    this.w.wcls = shared ? this.w.tok! : f.subarray(p, p + this.vocabSize * d);
    this.keyCache = new Float32Array(L * this.seqLen * kv);
    this.valueCache = new Float32Array(L * this.seqLen * kv);
  }

  forward(token: number, pos: number): Float32Array {
    const { dim, hiddenDim, nHeads, nKvHeads, seqLen } = this;
    const w = this.w;
    const headSize = dim / nHeads, kvDim = nKvHeads * headSize, kvMul = nHeads / nKvHeads;
    const x = w.tok!.slice(token * dim, (token + 1) * dim);
    const xb = new Float32Array(dim), xb2 = new Float32Array(dim), q = new Float32Array(dim);
    const hb = new Float32Array(hiddenDim), hb2 = new Float32Array(hiddenDim), att = new Float32Array(seqLen);
    for (let l = 0; l < this.nLayers; l++) {
      rmsnorm(xb, x, w.rms_att!.subarray(l * dim, (l + 1) * dim), dim);
      const loff = l * seqLen * kvDim;
      const k = this.keyCache.subarray(loff + pos * kvDim, loff + (pos + 1) * kvDim);
      const v = this.valueCache.subarray(loff + pos * kvDim, loff + (pos + 1) * kvDim);
      matmul(q, xb, w.wq!.subarray(l * dim * dim), dim, dim);
      matmul(k, xb, w.wk!.subarray(l * dim * kvDim), dim, kvDim);
      matmul(v, xb, w.wv!.subarray(l * dim * kvDim), dim, kvDim);
      for (let i = 0; i < dim; i += 2) {
        const headDim = i % headSize;
        const freq = Math.fround(1 / Math.fround(Math.pow(10000, Math.fround(headDim / headSize))));
        const val = Math.fround(pos * freq);
        const fcr = Math.fround(Math.cos(val)), fci = Math.fround(Math.sin(val));
        const rotn = i < kvDim ? 2 : 1;
        for (let r = 0; r < rotn; r++) {
          const vec = r === 0 ? q : k;
          const v0 = vec[i]!, v1 = vec[i + 1]!;
          vec[i] = v0 * fcr - v1 * fci;
          vec[i + 1] = v0 * fci + v1 * fcr;
        }
      }
      for (let h = 0; h < nHeads; h++) {
        const qh = h * headSize;
        for (let t = 0; t <= pos; t++) {
          const kh = loff + t * kvDim + Math.floor(h / kvMul) * headSize;
          let score = 0;
          for (let i = 0; i < headSize; i++) score = Math.fround(score + Math.fround(q[qh + i]! * this.keyCache[kh + i]!));
          att[t] = score / Math.fround(Math.sqrt(headSize));
        }
        softmax(att, pos + 1);
        xb.fill(0, qh, qh + headSize);
        for (let t = 0; t <= pos; t++) {
          const vh = loff + t * kvDim + Math.floor(h / kvMul) * headSize;
          for (let i = 0; i < headSize; i++) xb[qh + i] = xb[qh + i]! + att[t]! * this.valueCache[vh + i]!;
        }
      }
      matmul(xb2, xb, w.wo!.subarray(l * dim * dim), dim, dim);
      for (let i = 0; i < dim; i++) x[i] = x[i]! + xb2[i]!;
      rmsnorm(xb, x, w.rms_ffn!.subarray(l * dim, (l + 1) * dim), dim);
      matmul(hb, xb, w.w1!.subarray(l * dim * hiddenDim), dim, hiddenDim);
      matmul(hb2, xb, w.w3!.subarray(l * dim * hiddenDim), dim, hiddenDim);
      for (let i = 0; i < hiddenDim; i++) {
        let val = hb[i]!;
        val = val * (1 / (1 + Math.exp(-val)));
        hb[i] = val * hb2[i]!;
      }
      matmul(xb, hb, w.w2!.subarray(l * dim * hiddenDim), hiddenDim, dim);
      for (let i = 0; i < dim; i++) x[i] = x[i]! + xb[i]!;
    }
    rmsnorm(x, x, w.rms_final!, dim);
    const logits = new Float32Array(this.vocabSize);
    matmul(logits, x, w.wcls!, dim, this.vocabSize);
    return logits;
  }
}

function rmsnorm(o: Float32Array, x: Float32Array, weight: Float32Array, size: number): void {
  let ss = 0;
  for (let j = 0; j < size; j++) ss = Math.fround(ss + Math.fround(x[j]! * x[j]!));
  ss = Math.fround(ss / size);
  ss = Math.fround(ss + Math.fround(1e-5));
  ss = Math.fround(1 / Math.fround(Math.sqrt(ss)));
  for (let j = 0; j < size; j++) o[j] = weight[j]! * Math.fround(ss * x[j]!);
}

function softmax(x: Float32Array, size: number): void {
  let max = x[0]!;
  for (let i = 1; i < size; i++) if (x[i]! > max) max = x[i]!;
  let sum = 0;
  for (let i = 0; i < size; i++) { x[i] = Math.exp(x[i]! - max); sum = Math.fround(sum + x[i]!); }
  for (let i = 0; i < size; i++) x[i] = x[i]! / sum;
}

/** W (d,n) @ x (n,) -> xout (d,) */
function matmul(xout: Float32Array, x: Float32Array, w: Float32Array, n: number, d: number): void {
  for (let i = 0; i < d; i++) {
    let val = 0;
    for (let j = 0; j < n; j++) val = Math.fround(val + Math.fround(w[i * n + j]! * x[j]!));
    xout[i] = val;
  }
}
