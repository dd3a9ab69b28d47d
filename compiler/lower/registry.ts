// The lowering table: ONNX op → the function that lowers one node of it to kernels (DESIGN principle 5:
// one table, one lowering per op family, in the files named below).
import type { OpLowering, SymEval } from './node.ts';
import { elementwiseLowerings } from './ops/elementwise.ts';
import { movementLowerings } from './ops/movement.ts';
import { shapeLowerings, symEvaluators } from './ops/shape.ts';
import { reduceLowerings } from './ops/reduce.ts';
import { matmulLowerings } from './ops/matmul.ts';
import { convLowerings } from './ops/conv.ts';
import { poolLowerings } from './ops/pool.ts';
import { normLowerings } from './ops/norm.ts';
import { resizeLowerings } from './ops/resize.ts';
import { lossLowerings } from './ops/loss.ts';
import { quantLowerings } from './ops/quant.ts';
import { rnnLowerings } from './ops/rnn.ts';

export const LOWERINGS: Readonly<Record<string, OpLowering>> = {
  ...elementwiseLowerings,
  ...movementLowerings,
  ...shapeLowerings,
  ...reduceLowerings,
  ...matmulLowerings,
  ...convLowerings,
  ...poolLowerings,
  ...normLowerings,
  ...resizeLowerings,
  ...lossLowerings,
  ...quantLowerings,
  ...rnnLowerings,
};

export const SYM_EVALUATORS: Readonly<Record<string, SymEval>> = symEvaluators;
