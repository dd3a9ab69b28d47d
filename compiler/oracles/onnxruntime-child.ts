// The child process of OrtProcess (onnxruntime-process.ts): loads or runs one model per message, so that a
// crash of onnxruntime (a SIGFPE in an integer kernel, an abort) ends this process, not its parent.
import { Tensor } from '../../ir/tensor.ts';
import { createOrtSession, runOrtSession } from './onnxruntime.ts';
import type { OrtRequest, OrtReply, WireTensor } from './onnxruntime-process.ts';

const toWire = (t: Tensor): WireTensor => ({ dtype: t.dtype, shape: [...t.shape], data: t.data });

process.on('message', (msg: OrtRequest) => {
  void (async () => {
    let reply: OrtReply;
    try {
      const session = await createOrtSession(msg.model, msg.options);
      try {
        let outputs: [string, WireTensor][] = [];
        if (msg.feeds) {
          const feeds = Object.fromEntries(msg.feeds.map(([k, w]) => [k, new Tensor(w.dtype, w.shape, w.data)]));
          const outs = await runOrtSession(session, feeds, msg.options);
          outputs = Object.entries(outs).map(([k, t]) => [k, toWire(t)]);
        }
        reply = { id: msg.id, ok: true, outputs };
      } finally {
        await session.release();
      }
    } catch (e) {
      reply = { id: msg.id, ok: false, error: (e as Error).message ?? String(e) };
    }
    process.send!(reply);
  })();
});
