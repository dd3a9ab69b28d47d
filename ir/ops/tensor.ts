// Tensor manipulation ops: shapes, layout, indexing, constants.
import { TesseraError } from '../errors.ts';
import { registerOps } from '../registry.ts';
import { tensorType } from '../types.ts';

registerOps([
  {
    name: 'Identity', since: 1, inputs: [1, 1], outputs: [1, 1],
    infer: (ctx) => [ctx.inputType(0)],
    run: (ctx) => [ctx.inputs[0]],
  },
  {
    name: 'Constant', since: 1, inputs: [0, 0], outputs: [1, 1],
    attrs: { value: { kind: 'tensor' } },
    infer: (ctx) => {
      const t = ctx.attrs.tensor('value');
      if (!t) throw new TesseraError('Constant needs a value attribute');
      return [tensorType(t.dtype, [...t.shape])];
    },
    run: (ctx) => [ctx.attrs.tensor('value')!],
  },
]);
