// Lowering graph IR → kernel IR Program (compiler/lower): the public surface.
export { lower } from './lower.ts';
export { isDataDependent, type LowerOptions, type TensorRef } from './context.ts';
export { assignLiveRanges, planArena, elemBytes, ARENA_ALIGN, type ArenaPlan } from './memory.ts';
export { NullDevice, runProgram, kernelRunner, bindSymbols, type NullDeviceOptions } from './null-device.ts';
export { LOWERINGS } from './registry.ts';
export { shapeInputs, specializer, SPECIALIZE_LIMIT, type Specialization } from './specialize.ts';
