// onnxruntime-node in a child process. A fuzzer feeds onnxruntime models it has never seen, and some make
// it crash the whole process (a SIGFPE in an integer kernel, an abort in a check): here such a crash is an
// error of that one call (OrtCrash), and the next call starts a fresh child.
import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type { DType } from '../../ir/dtype.ts';
import { Tensor } from '../../ir/tensor.ts';
import type { OrtSessionOptions } from './onnxruntime.ts';

export interface WireTensor { dtype: DType; shape: number[]; data: Tensor['data'] }
export interface OrtRequest { id: number; model: Uint8Array; feeds?: [string, WireTensor][]; options: OrtSessionOptions }
export type OrtReply = { id: number; ok: true; outputs: [string, WireTensor][] } | { id: number; ok: false; error: string };

/** onnxruntime ended the child process (a crash), or did not answer in time. */
export class OrtCrash extends Error {}

interface Pending { resolve(r: OrtReply): void; reject(e: Error): void; timer: NodeJS.Timeout }

export class OrtProcess {
  private child: ChildProcess | undefined;
  private readonly pending = new Map<number, Pending>();
  private next = 0;

  constructor(private readonly options: OrtSessionOptions = {}, private readonly timeoutMs = 60_000) {}

  private start(): ChildProcess {
    const child = fork(join(import.meta.dirname, 'onnxruntime-child.ts'), [], {
      execArgv: ['--import', 'tsx'], serialization: 'advanced', stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => { stderr = (stderr + d.toString()).slice(-2000); });
    child.on('message', (r: OrtReply) => {
      const p = this.pending.get(r.id);
      if (!p) return;
      this.pending.delete(r.id);
      clearTimeout(p.timer);
      if (this.pending.size === 0) this.idle(child);
      p.resolve(r);
    });
    child.on('exit', (code, signal) => {
      if (this.child === child) this.child = undefined;
      const why = signal ? `signal ${signal}` : `exit code ${code}`;
      for (const [id, p] of this.pending) {
        clearTimeout(p.timer);
        p.reject(new OrtCrash(`onnxruntime crashed (${why})${stderr.trim() ? `: ${stderr.trim().split('\n').slice(-3).join(' | ')}` : ''}`));
        this.pending.delete(id);
      }
    });
    return child;
  }

  /** Lets the parent exit while no call is pending. */
  private idle(child: ChildProcess): void {
    child.unref();
    (child as unknown as { channel?: { unref(): void } }).channel?.unref();
    (child.stderr as unknown as { unref?(): void } | null)?.unref?.();
  }

  private busy(child: ChildProcess): void {
    child.ref();
    (child as unknown as { channel?: { ref(): void } }).channel?.ref();
    (child.stderr as unknown as { ref?(): void } | null)?.ref?.();
  }

  private call(model: Uint8Array, feeds?: Record<string, Tensor>): Promise<OrtReply> {
    this.child ??= this.start();
    const child = this.child;
    const id = this.next++;
    this.busy(child);
    return new Promise<OrtReply>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        child.kill('SIGKILL');
        reject(new OrtCrash(`onnxruntime did not answer within ${this.timeoutMs} ms (killed)`));
      }, this.timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      const wire = feeds && Object.entries(feeds).map(([k, t]): [string, WireTensor] => [k, { dtype: t.dtype, shape: [...t.shape], data: t.data }]);
      child.send({ id, model, feeds: wire, options: this.options } satisfies OrtRequest);
    });
  }

  /** Loads a model (session creation only); throws onnxruntime's error. */
  async load(model: Uint8Array): Promise<void> {
    const r = await this.call(model);
    if (!r.ok) throw new Error(r.error);
  }

  /** Runs a model once; throws onnxruntime's error, or OrtCrash. */
  async run(model: Uint8Array, feeds: Record<string, Tensor>): Promise<Record<string, Tensor>> {
    const r = await this.call(model, feeds);
    if (!r.ok) throw new Error(r.error);
    return Object.fromEntries(r.outputs.map(([k, w]) => [k, new Tensor(w.dtype, w.shape, w.data)]));
  }

  close(): void {
    this.child?.kill();
    this.child = undefined;
  }
}
