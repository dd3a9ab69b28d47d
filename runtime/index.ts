// The runtime's public surface (package export `tessera/runtime`). It never imports the compiler.
export { ReferenceInterpreter, validateFeeds, type ReferenceOptions } from './reference.ts';
export { Session, SESSION_BACKENDS, type SessionBackend, type SessionOptions } from './session.ts';
export { Tensor, type RuntimeValue, type SequenceValue, type OptionalValue } from '../ir/tensor.ts';
export { TesseraError } from '../ir/errors.ts';
export {
  DecodeSession, registerDecodeBackend, availableDecodeBackends, DECODE_BACKENDS,
  type DecodeExecutor, type DecodeExecutorFactory, type DecodeSessionOptions, type ArtifactDecodeOptions, type GenerateOptions, type GenerateResult,
} from './decode.ts';
export { CompiledDecodeExecutor } from './compiled-decode.ts';
export { Tokenizer, BOS, EOS } from './tokenizer.ts';
export { argmax, sample, type SamplingOptions } from './sampler.ts';
export { getDecoderSpec, setDecoderSpec, checkDecoderSpec, DECODER_METADATA_KEY, type DecoderSpec, type KvCacheEntry } from '../ir/decoder.ts';
