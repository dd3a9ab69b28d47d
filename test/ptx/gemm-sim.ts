// A CPU interpreter for the PTX subset the GEMM templates emit (backends/ptx/gemm.ts), so that the generated
// text itself — registers, predicates, the cp.async pipeline, the slow copy path, the epilogue — runs and is
// compared with a plain matmul without a GPU. One block runs in lockstep: every instruction executes for all
// its threads before the next, which is exact for this kernel because all of its branches are uniform (the
// interpreter checks that) and its warp-collective instructions (ldmatrix, mma) then see every lane.
// cp.async copies land only at the cp.async.wait_group that retires their group, so reading a stage before
// waiting for it shows stale data, as it could on the device.
// Semantics follow the PTX ISA: ldmatrix rows per lane group, mma fragment layouts (g = lane/4, t = lane%4).

type Val = number; // 32-bit registers hold unsigned bit patterns; 64-bit ones hold addresses (< 2^53)

interface Ins { pred?: { reg: string; neg: boolean }; op: string; args: string[]; label?: string }

function parse(ptx: string): { ins: Ins[]; labels: Map<string, number>; params: string[] } {
  const body = ptx.slice(ptx.indexOf('{') + 1, ptx.lastIndexOf('}'));
  const head = ptx.slice(ptx.indexOf('.entry'), ptx.indexOf(')'));
  const params = [...head.matchAll(/\.param \.u(?:64|32) (\S+?)(?:,|\s|$)/g)].map((m) => m[1]);
  const ins: Ins[] = [];
  const labels = new Map<string, number>();
  for (const raw of body.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('.reg')) continue;
    if (line.endsWith(':')) { labels.set(line.slice(0, -1), ins.length); continue; }
    let text = line.replace(/;$/, '');
    let pred: Ins['pred'];
    const pm = /^@(!?)(%\w+)\s+/.exec(text);
    if (pm) { pred = { reg: pm[2], neg: pm[1] === '!' }; text = text.slice(pm[0].length); }
    const sp = text.indexOf(' ');
    const op = sp < 0 ? text : text.slice(0, sp);
    const rest = sp < 0 ? '' : text.slice(sp + 1);
    const args: string[] = [];
    let depth = 0, cur = '';
    for (const ch of rest) {
      if (ch === '{' || ch === '[') depth++;
      if (ch === '}' || ch === ']') depth--;
      if (ch === ',' && depth === 0) { args.push(cur.trim()); cur = ''; } else cur += ch;
    }
    if (cur.trim()) args.push(cur.trim());
    ins.push({ pred, op, args });
  }
  return { ins, labels, params };
}

const f32 = new Float32Array(1), u32 = new Uint32Array(f32.buffer);
const bitsToF32 = (b: number) => { u32[0] = b; return f32[0]; };
const f32ToBits = (x: number) => { f32[0] = x; return u32[0]; };

function f16ToNum(h: number): number {
  const s = h & 0x8000 ? -1 : 1, e = (h >> 10) & 31, m = h & 1023;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}
/** Round to nearest even f16 bits (finite, normal range and subnormals; enough for the tests' values). */
export function numToF16(x: number): number {
  if (Number.isNaN(x)) return 0x7e00;
  const s = x < 0 || Object.is(x, -0) ? 0x8000 : 0;
  let a = Math.abs(x);
  if (a >= 65520) return s | 0x7c00;
  if (a < 2 ** -14) { // subnormal: units of 2^-24
    const q = roundEven(a / 2 ** -24);
    return s | q;
  }
  let e = Math.floor(Math.log2(a));
  if (2 ** e > a) e--;
  if (2 ** (e + 1) <= a) e++;
  let m = roundEven((a / 2 ** e - 1) * 1024);
  if (m === 1024) { m = 0; e++; }
  a = 0;
  return s | ((e + 15) << 10) | m;
}
function roundEven(x: number): number {
  const f = Math.floor(x), d = x - f;
  return d > 0.5 || (d === 0.5 && f % 2 === 1) ? f + 1 : f;
}
export const numToBf16 = (x: number): number => {
  const b = f32ToBits(x);
  const lsb = (b >>> 16) & 1;
  return ((b + 0x7fff + lsb) >>> 16) & 0xffff;
};
const bf16ToNum = (h: number) => bitsToF32(h << 16);

export interface SimBuffer { base: number; bytes: Uint8Array }

/**
 * Runs every block of the grid. `args` are the entry's parameters in order: buffers as SimBuffers, sizes as
 * numbers. Returns the number of instructions executed per thread of the last block (for curiosity).
 */
export function simulate(ptx: string, grid: number, block: number, sharedBytes: number, args: (SimBuffer | number)[]): void {
  const { ins, labels, params } = parse(ptx);
  const mem = args.filter((a): a is SimBuffer => typeof a !== 'number');
  const find = (addr: number, n: number): [Uint8Array, number] => {
    for (const b of mem) {
      if (addr >= b.base && addr + n <= b.base + b.bytes.length) return [b.bytes, addr - b.base];
    }
    throw new Error(`global access out of bounds: ${addr.toString(16)} (+${n})`);
  };
  const smemName = /\.extern \.shared .*? (\w+)\[\]/.exec(ptx)![1];
  const literals = new Map<string, number>();
  const addresses = new Map<string, [string, number]>();
  for (let cta = 0; cta < grid; cta++) runBlock(cta);

  function runBlock(cta: number): void {
    const shared = new Uint8Array(sharedBytes);
    const sv = new DataView(shared.buffer);
    const regs: Map<string, Val>[] = Array.from({ length: block }, () => new Map());
    const groups: { dst: number; data: Uint8Array }[][][] = Array.from({ length: block }, () => []);
    const pending: { dst: number; data: Uint8Array }[][] = Array.from({ length: block }, () => []);
    let pc = 0, steps = 0;
    const all = new Array<boolean>(block).fill(true);
    const get = (t: number, a: string): Val => {
      if (a.startsWith('%')) {
        if (a === '%tid.x') return t;
        if (a === '%ctaid.x') return cta;
        const v = regs[t].get(a);
        if (v === undefined) throw new Error(`read of unset ${a} at ${pc}: ${ins[pc].op} ${ins[pc].args.join(', ')}`);
        return v;
      }
      let lit = literals.get(a);
      if (lit === undefined) {
        if (a === smemName) lit = 0;
        else if (/^-?\d+$/.test(a) || /^0x[0-9a-f]+$/i.test(a)) lit = Number(a);
        else throw new Error(`operand ${a}`);
        literals.set(a, lit);
      }
      return lit;
    };
    const s32 = (t: number, a: string) => get(t, a) | 0;
    const set = (t: number, r: string, v: Val): void => { regs[t].set(r, v); };
    const address = (t: number, a: string): number => {
      let m = addresses.get(a);
      if (!m) {
        const x = /^\[(%?\w+)(?:\+(-?\d+))?\]$/.exec(a);
        if (!x) throw new Error(`address ${a}`);
        m = [x[1], Number(x[2] ?? 0)];
        addresses.set(a, m);
      }
      return get(t, m[0]) + m[1];
    };
    const vec = (a: string) => a.replace(/[{}]/g, '').split(',').map((x) => x.trim());
    const ldG = (addr: number, n: number) => { const [b, o] = find(addr, n); let v = 0; for (let i = n - 1; i >= 0; i--) v = v * 256 + b[o + i]; return v; };
    const stG = (addr: number, n: number, v: number) => { const [b, o] = find(addr, n); for (let i = 0; i < n; i++) { b[o + i] = v & 255; v = Math.floor(v / 256); } };
    const checkShared = (a: number, n: number) => { if (a < 0 || a + n > sharedBytes || a % Math.min(n, 16)) throw new Error(`shared access ${a} (+${n})`); };

    while (pc < ins.length) {
      const I = ins[pc];
      if (++steps > 5e6) throw new Error('runaway');
      const active = I.pred ? Array.from({ length: block }, (_, t) => (get(t, I.pred!.reg) !== 0) !== I.pred!.neg) : all;
      const op = I.op, A = I.args;
      if (op === 'bra' || op === 'bra.uni') {
        const taken = active.filter(Boolean).length;
        if (taken !== 0 && taken !== block) throw new Error(`divergent branch at ${pc}`);
        pc = taken ? labels.get(A[0])! : pc + 1;
        continue;
      }
      if (op === 'ret') break;
      // Warp-collective instructions.
      if (op.startsWith('ldmatrix') || op.startsWith('mma.sync')) {
        for (let w = 0; w < block / 32; w++) {
          const lanes = Array.from({ length: 32 }, (_, l) => w * 32 + l);
          if (!lanes.every((t) => active[t])) throw new Error('predicated collective');
          if (op.startsWith('ldmatrix')) ldmatrix(lanes, op.includes('.trans'), vec(A[0]), A[1]);
          else mma(lanes, op, A.map(vec));
        }
        pc++;
        continue;
      }
      for (let t = 0; t < block; t++) {
        if (!active[t]) continue;
        exec(t, op, A);
      }
      pc++;
    }
    void steps;

    function exec(t: number, op: string, A: string[]): void {
      const d = A[0];
      const bin = (f: (a: number, b: number) => number) => set(t, d, f(s32(t, A[1]), s32(t, A[2])) >>> 0);
      switch (op) {
        case 'ld.param.u64': case 'ld.param.u32': {
          const name = /^\[(\w+)\]$/.exec(A[1])![1];
          const v = args[params.indexOf(name)];
          set(t, d, typeof v === 'number' ? v >>> 0 : v.base);
          return;
        }
        case 'cvta.to.global.u64': case 'mov.b64': set(t, d, get(t, A[1])); return;
        case 'mov.u32': case 'mov.b32': set(t, d, get(t, A[1]) >>> 0); return;
        case 'add.s32': return bin((a, b) => a + b);
        case 'sub.s32': return bin((a, b) => a - b);
        case 'mul.lo.s32': return bin((a, b) => Math.imul(a, b));
        case 'div.s32': return bin((a, b) => { if (b === 0) throw new Error('div by 0'); return Math.trunc(a / b); });
        case 'rem.s32': return bin((a, b) => { if (b === 0) throw new Error('rem by 0'); return a % b; });
        case 'min.s32': return bin(Math.min);
        case 'max.s32': return bin(Math.max);
        case 'and.b32': return bin((a, b) => a & b);
        case 'or.b32': return bin((a, b) => a | b);
        case 'xor.b32': return bin((a, b) => a ^ b);
        case 'shl.b32': return bin((a, b) => (b > 31 ? 0 : a << b));
        case 'shr.s32': return bin((a, b) => a >> Math.min(b, 31));
        case 'setp.lt.s32': set(t, d, s32(t, A[1]) < s32(t, A[2]) ? 1 : 0); return;
        case 'setp.ge.s32': set(t, d, s32(t, A[1]) >= s32(t, A[2]) ? 1 : 0); return;
        case 'setp.eq.s32': set(t, d, s32(t, A[1]) === s32(t, A[2]) ? 1 : 0); return;
        case 'setp.lt.and.s32': set(t, d, s32(t, A[1]) < s32(t, A[2]) && get(t, A[3]) ? 1 : 0); return;
        case 'setp.le.and.s32': set(t, d, s32(t, A[1]) <= s32(t, A[2]) && get(t, A[3]) ? 1 : 0); return;
        case 'selp.b32': case 'selp.b64': set(t, d, get(t, A[3]) ? get(t, A[1]) : get(t, A[2])); return;
        case 'not.pred': set(t, d, get(t, A[1]) ? 0 : 1); return;
        case 'and.pred': set(t, d, get(t, A[1]) && get(t, A[2]) ? 1 : 0); return;
        case 'or.pred': set(t, d, get(t, A[1]) || get(t, A[2]) ? 1 : 0); return;
        case 'mul.wide.s32': set(t, d, s32(t, A[1]) * s32(t, A[2])); return;
        case 'add.s64': set(t, d, get(t, A[1]) + get(t, A[2])); return;
        case 'cvt.u32.u64': set(t, d, get(t, A[1]) % 2 ** 32); return;
        case 'bfi.b32': {
          const pos = get(t, A[3]), len = get(t, A[4]), mask = ((len === 32 ? 0 : 1 << len) - 1) << pos;
          set(t, d, ((get(t, A[2]) & ~mask) | ((get(t, A[1]) << pos) & mask)) >>> 0);
          return;
        }
        case 'ld.global.u16': set(t, d, ldG(address(t, A[1]), 2)); return;
        case 'ld.global.u8': set(t, d, ldG(address(t, A[1]), 1)); return;
        case 'st.shared.v4.b32': {
          const a = address(t, A[0]);
          checkShared(a, 16);
          vec(A[1]).forEach((r, i) => sv.setUint32(a + 4 * i, get(t, r), true));
          return;
        }
        case 'ld.shared.b32': { const a = address(t, A[1]); checkShared(a, 4); set(t, d, sv.getUint32(a, true)); return; }
        case 'cp.async.cg.shared.global': {
          const dst = address(t, A[0]), n = get(t, A[3]);
          checkShared(dst, 16);
          const data = new Uint8Array(16);
          if (n > 0) { const src = address(t, A[1]); const [b, o] = find(src, n); data.set(b.subarray(o, o + n)); }
          pending[t].push({ dst, data });
          return;
        }
        case 'cp.async.commit_group': groups[t].push(pending[t]); pending[t] = []; return;
        case 'cp.async.wait_group': {
          const keep = Number(A[0]);
          while (groups[t].length > keep) for (const c of groups[t].shift()!) shared.set(c.data, c.dst);
          return;
        }
        case 'bar.sync': return;
        case 'prmt.b32': {
          const a = get(t, A[1]), b = get(t, A[2]), sel = get(t, A[3]);
          const bytes = [0, 1, 2, 3].map((i) => (a >>> (8 * i)) & 255).concat([0, 1, 2, 3].map((i) => (b >>> (8 * i)) & 255));
          set(t, d, [0, 1, 2, 3].reduce((x, i) => x | (bytes[(sel >>> (4 * i)) & 7] << (8 * i)), 0) >>> 0);
          return;
        }
        case 'cvt.rn.f16x2.f32': set(t, d, ((numToF16(bitsToF32(get(t, A[1]))) << 16) | numToF16(bitsToF32(get(t, A[2])))) >>> 0); return;
        case 'cvt.rn.bf16x2.f32': set(t, d, ((numToBf16(bitsToF32(get(t, A[1]))) << 16) | numToBf16(bitsToF32(get(t, A[2])))) >>> 0); return;
        case 'cvt.rn.f16.f32': set(t, d, numToF16(bitsToF32(get(t, A[1])))); return;
        case 'cvt.rn.bf16.f32': set(t, d, numToBf16(bitsToF32(get(t, A[1])))); return;
        case 'st.global.b32': stG(address(t, A[0]), 4, get(t, A[1])); return;
        case 'st.global.b16': stG(address(t, A[0]), 2, get(t, A[1]) & 0xffff); return;
        case 'st.global.b8': stG(address(t, A[0]), 1, get(t, A[1]) & 0xff); return;
        case 'st.global.v2.b32': case 'st.global.v4.b32': {
          const a = address(t, A[0]), rs = vec(A[1]);
          if (a % (4 * rs.length)) throw new Error(`misaligned vector store at ${a}`);
          rs.forEach((r, i) => stG(a + 4 * i, 4, get(t, r)));
          return;
        }
        default: throw new Error(`unsupported instruction ${op}`);
      }
    }

    function ldmatrix(lanes: number[], trans: boolean, dst: string[], addrArg: string): void {
      const rowAddr = lanes.map((t) => { const a = address(t, addrArg); checkShared(a, 16); return a; });
      lanes.forEach((t, l) => dst.forEach((r, q) => {
        const row = (i: number) => rowAddr[q * 8 + i];
        let v: number;
        if (!trans) v = sv.getUint32(row(l >> 2) + 4 * (l & 3), true);
        else v = sv.getUint16(row(2 * (l & 3)) + 2 * (l >> 2), true) | (sv.getUint16(row(2 * (l & 3) + 1) + 2 * (l >> 2), true) << 16);
        set(t, r, v >>> 0);
      }));
    }

    function mma(lanes: number[], op: string, [D, Aa, Bb, C]: string[][]): void {
      const float = op.includes('.f32.');
      const kind = /\.row\.col\.\w+\.(\w+)\./.exec(op)![1]; // f16, bf16, s8, u8
      const es = float ? 2 : 1, epr = 4 / es, kk = 32 / es;
      const elem = (reg: number, e: number): number => {
        const x = (reg >>> (8 * es * e)) & ((1 << (8 * es)) - 1);
        if (kind === 'f16') return f16ToNum(x);
        if (kind === 'bf16') return bf16ToNum(x);
        if (kind === 's8') return x >= 128 ? x - 256 : x;
        return x;
      };
      const At = Array.from({ length: 16 }, () => new Array<number>(kk).fill(NaN));
      const Bt = Array.from({ length: kk }, () => new Array<number>(8).fill(NaN));
      lanes.forEach((t, l) => {
        const g = l >> 2, tig = l & 3;
        for (let x = 0; x < 4; x++) for (let e = 0; e < epr; e++) At[g + 8 * (x & 1)][(x >> 1) * (16 / es) + tig * epr + e] = elem(get(t, Aa[x]), e);
        for (let x = 0; x < 2; x++) for (let e = 0; e < epr; e++) Bt[x * (16 / es) + tig * epr + e][g] = elem(get(t, Bb[x]), e);
      });
      const out = lanes.map((t, l) => {
        const g = l >> 2, tig = l & 3;
        return [0, 1, 2, 3].map((r) => {
          const row = g + 8 * (r >> 1), col = 2 * tig + (r & 1);
          let s = 0;
          for (let q = 0; q < kk; q++) s += At[row][q] * Bt[q][col];
          const c = get(t, C[r]);
          return float ? f32ToBits(Math.fround(bitsToF32(c) + s)) : ((c | 0) + s) >>> 0;
        });
      });
      lanes.forEach((t, l) => D.forEach((r, i) => set(t, r, out[l][i])));
    }
  }
}

export { f16ToNum, bf16ToNum };
