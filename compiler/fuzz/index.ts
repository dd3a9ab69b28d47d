// tessera/fuzz: property-based differential fuzzing of kernels against the reference interpreter.
//   arbitraries  fuzzCaseArb / graphRecipeArb (random valid graphs), shapeArb, broadcastShapesArb, tensorArb
//   runner       fuzz() (generate, run every target, compare node by node, shrink), checkCase()
//   targets      FuzzTarget (prepare(model) → run(feeds)); onnxruntimeTarget(); fuzzTarget(name)
//   tables       FUZZ_OPS (what is fuzzed and how), FUZZ_TOLERANCES, KNOWN_DIVERGENCES
//   repro        writeRepro(): a shrunk case as .tir and as an ONNX backend-test folder; readRepro() reads it back
//   kernels      RandomKernel: random valid kernel-IR programs (every loop kind, atomics, barriers, vectors)
//   algebra      algebraCaseArb(): random index/arithmetic expressions with variable ranges, for simplifier fuzzing
export { buildCase, GraphBuilder, NodeBuilder, Reject, attr, makeFeeds, availableSpecs } from './builder.ts';
export type { FuzzOpSpec, FuzzCase, GraphRecipe, Operand, OperandRequest, InputSpec, BuiltNode, BuildOptions } from './builder.ts';
export { Choices } from './choices.ts';
export { FUZZ_OPS, FUZZ_OP_NAMES, fuzzSpecs } from './ops.ts';
export { FUZZ_DIMS, MAX_FUZZ_ELEMENTS, fuzzShape, broadcastPartner, shapeArb, broadcastShapesArb } from './shapes.ts';
export { VALUE_PROFILES, fuzzTensor, tensorArb, type ValueProfile, type Domain } from './values.ts';
export { FUZZ_TOLERANCES, toleranceFor, type ToleranceClass, type FuzzTolerance } from './tolerance.ts';
export { KNOWN_DIVERGENCES, type KnownDivergence } from './divergences.ts';
export {
  fuzz, checkCase, compareResult, fuzzCaseArb, graphRecipeArb, targetCapabilities, DEFAULT_OPSETS,
  type FuzzOptions, type FuzzResult, type FuzzDivergence, type FuzzStats, type Finding, type CaseOutcome, type FuzzCaseOptions,
} from './runner.ts';
export { onnxruntimeTarget, tesseraBackendTarget, fuzzTarget, FUZZ_TARGET_NAMES, TargetUnsupported, type FuzzTarget, type PreparedTarget } from './targets.ts';
export { writeRepro, readRepro, reproDir, type WrittenRepro } from './repro.ts';
export { RandomKernel, cloneBuffers, buffersDiff, type KernelCase } from './kernel-programs.ts';
export { exprArb, algebraCaseArb, factsOf, sampleValues, caseText, VARS, type AlgebraCase, type VarRange, type IntElem } from './algebra.ts';
