// The compiler's public API (package export `tessera`).
export { loadModel, prepare, BACKENDS, type BackendName, type Runner } from './driver.ts';
export { importOnnx, importOnnxFile } from './onnx/import.ts';
export { exportOnnx, exportOnnxFile, modelToProto, type ExportOptions } from './onnx/export.ts';
export { importLlama2c, importLlama2cFile, readLlama2cCheckpoint, buildDecoderModel, type Llama2cConfig, type Llama2cCheckpoint } from './llama2c.ts';
export { getDecoderSpec, setDecoderSpec, DECODER_METADATA_KEY, type DecoderSpec } from '../ir/decoder.ts';
// Registers the compiled targets as decode backends (DecodeSession.create(model, { backend: 'wasm' })).
export { compiledDecodeExecutor } from './decode-compiled.ts';
export { tensorFromProto, tensorToProto, decodeValueProto } from './onnx/tensor-proto.ts';
export { readNpy, writeNpy } from './npy.ts';
export { compareValues, compareTensors, ONNX_TOLERANCE } from './compare.ts';
export { findCases, runCase, runConformance, readExpectedFailures } from './conformance.ts';
export { printModel, printGraph, parseModel, readTirFile, writeTirFile } from '../grammar/index.ts';
export { verifyModel } from '../ir/verify.ts';
export { inferModel } from '../ir/infer.ts';
export { lookupOp, knownOps, registerOp } from '../ir/registry.ts';
export * from '../ir/graph.ts';
export * from '../ir/types.ts';
export * from '../ir/dtype.ts';
export { Tensor } from '../ir/tensor.ts';
export { TesseraError } from '../ir/errors.ts';
