// The textual IR: one printer and one parser per IR level (the graph level today), plus .tir files.
export { parseModel, GraphParser, LiteralRules, type ParseOptions } from './parser.ts';
export { printModel, printGraph, printType, printOp, DEFAULT_INLINE_LIMIT, type PrintOptions, type PrintResult } from './printer.ts';
export { readTirFile, writeTirFile, encodeBlobs, decodeBlobs, blobFileOf } from './blobs.ts';
export { printKernel, printKernels } from './kernel-printer.ts';
export { parseKernel, parseKernels } from './kernel-parser.ts';
