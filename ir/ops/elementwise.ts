// Elementwise ops: unary math, binary arithmetic/comparison/logic with broadcasting, Where, Cast.
import { registerOps } from '../registry.ts';
import { inferBroadcast, mapBroadcast, unaryOp } from './util.ts';

registerOps([
  ...unaryOp('Relu', 1, (x: number) => (x > 0 ? x : 0)),
  {
    name: 'Add', since: 7, inputs: [2, 2], outputs: [1, 1],
    infer: inferBroadcast(),
    run: (ctx) => {
      const a = ctx.tensor(0), b = ctx.tensor(1);
      return [mapBroadcast([a, b], a.dtype, (x: any, y: any) => x + y)];
    },
  },
]);
