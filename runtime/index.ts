// The runtime's public surface (package export `tessera/runtime`). It never imports the compiler.
export { ReferenceInterpreter, validateFeeds, type ReferenceOptions } from './reference.ts';
export { Tensor, type RuntimeValue, type SequenceValue, type OptionalValue } from '../ir/tensor.ts';
export { TesseraError } from '../ir/errors.ts';
