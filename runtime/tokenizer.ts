// The llama2.c tokenizer (tokenizer.bin / tok512.bin): a SentencePiece-style BPE vocabulary with scores.
// File layout: int32 max_token_length, then per token: float32 score, int32 byte length, the bytes.
// decode() and encode() follow run.c: after BOS a leading space of the piece is dropped, `<0xXX>` pieces
// are raw bytes; encoding prepends BOS and a dummy-prefix space, maps UTF-8 code points to pieces (or to
// byte tokens 3 + byte when a code point has no piece), then repeatedly merges the adjacent pair whose
// concatenation is a piece with the best score.
//
// Pieces are kept as "binary strings" (one char per byte, latin1) so that concatenation and lookup work
// on bytes exactly as run.c's C strings do; text is UTF-8 decoded only at the edges.
import { TesseraError } from '../ir/errors.ts';

export const BOS = 1;
export const EOS = 2;
/** run.c maps byte b to token b + 3 when a code point has no piece (tokens 3..258 are <0x00>..<0xFF>). */
const BYTE_TOKEN_OFFSET = 3;

/** Bytes → binary string, one char per byte (TextDecoder's 'latin1' is windows-1252, so by hand). */
const binary = (bytes: Uint8Array): string => {
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]!);
  return s;
};
const bytesOf = (s: string): Uint8Array => Uint8Array.from(s, (ch) => ch.charCodeAt(0));

export class Tokenizer {
  /** Index of every piece (the first token when a piece occurs twice, as run.c's bsearch may pick any). */
  private readonly index = new Map<string, number>();

  private constructor(
    /** Pieces as binary strings, by token id. */
    readonly pieces: readonly string[],
    readonly scores: Float32Array,
    readonly maxTokenLength: number,
  ) {
    pieces.forEach((p, i) => { if (!this.index.has(p)) this.index.set(p, i); });
  }

  get vocabSize(): number { return this.pieces.length; }

  /**
   * Parses a tokenizer file. With `vocabSize` (the model's), a file holding a different number of tokens
   * is an error: the tokenizer and the checkpoint do not belong together.
   */
  static fromBytes(bytes: Uint8Array, opts: { vocabSize?: number; source?: string } = {}): Tokenizer {
    const file = opts.source ?? 'tokenizer';
    const fail = (why: string): never => { throw new TesseraError(`not a valid llama2.c tokenizer: ${why}`, { file }); };
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (bytes.length < 4) fail(`the file has ${bytes.length} bytes, fewer than the 4-byte header`);
    const maxTokenLength = dv.getInt32(0, true);
    if (maxTokenLength < 1 || maxTokenLength > 1 << 16) fail(`max_token_length ${maxTokenLength} is outside 1..65536`);
    const pieces: string[] = [];
    const scores: number[] = [];
    let off = 4;
    while (off < bytes.length) {
      const id = pieces.length;
      if (off + 8 > bytes.length) fail(`the file is truncated inside token ${id} (its score and length need 8 bytes at offset ${off}, ${bytes.length - off} left)`);
      const score = dv.getFloat32(off, true);
      const len = dv.getInt32(off + 4, true);
      off += 8;
      if (!Number.isFinite(score)) fail(`token ${id} has score ${score}`);
      if (len < 0 || len > maxTokenLength) fail(`token ${id} has length ${len}, outside 0..max_token_length (${maxTokenLength})`);
      if (off + len > bytes.length) fail(`the file is truncated inside token ${id} (${len} bytes at offset ${off}, ${bytes.length - off} left)`);
      pieces.push(binary(bytes.subarray(off, off + len)));
      scores.push(score);
      off += len;
      if (opts.vocabSize !== undefined && pieces.length > opts.vocabSize) break;
    }
    if (opts.vocabSize !== undefined && pieces.length !== opts.vocabSize) {
      fail(`it holds ${pieces.length > opts.vocabSize ? 'more than ' : ''}${pieces.length > opts.vocabSize ? opts.vocabSize : pieces.length} tokens but the model's vocabulary has ${opts.vocabSize}: the tokenizer does not belong to this model`);
    }
    if (pieces.length <= BYTE_TOKEN_OFFSET) fail(`it holds only ${pieces.length} tokens`);
    return new Tokenizer(pieces, Float32Array.from(scores), maxTokenLength);
  }

  /** The bytes token `token` prints when it follows `prev` (run.c's decode). */
  pieceBytes(prev: number, token: number): Uint8Array {
    let piece = this.pieces[token];
    if (piece === undefined) throw new TesseraError(`token ${token} is outside the vocabulary (0..${this.vocabSize - 1})`);
    if (prev === BOS && piece.startsWith(' ')) piece = piece.slice(1);
    const byte = /^<0x([0-9A-Fa-f]{2})>$/.exec(piece);
    if (byte) return Uint8Array.of(parseInt(byte[1]!, 16));
    return bytesOf(piece);
  }

  /**
   * Decodes a token sequence to text. Like run.c's generate loop, the first token is not printed (it is
   * the BOS the sequence starts from) and each later token prints relative to its predecessor.
   */
  decode(tokens: readonly number[]): string {
    if (tokens.length === 0) return '';
    const next = this.streamDecoder(tokens[0]!);
    let text = '';
    for (let i = 1; i < tokens.length; i++) text += next(tokens[i]!);
    return text + next.flush();
  }

  /** A streaming decoder: feed tokens one at a time, get the text they complete (UTF-8 safe). */
  streamDecoder(first: number): ((token: number) => string) & { flush(): string } {
    const utf8 = new TextDecoder();
    let prev = first;
    const next = (token: number): string => {
      const bytes = this.pieceBytes(prev, token);
      prev = token;
      // run.c's safe_printf drops single bytes that are control characters (not whitespace).
      if (bytes.length === 1 && bytes[0]! < 0x20 && !isSpaceByte(bytes[0]!)) return '';
      return utf8.decode(bytes, { stream: true });
    };
    return Object.assign(next, { flush: () => utf8.decode() });
  }

  /** run.c's encode: [BOS?] [dummy prefix " "] BPE pieces of the UTF-8 text [EOS?]. */
  encode(text: string, opts: { bos?: boolean; eos?: boolean } = {}): number[] {
    const tokens: number[] = [];
    if (opts.bos ?? true) tokens.push(BOS);
    if (text !== '') {
      const space = this.index.get(' ');
      if (space === undefined) throw new TesseraError(`the tokenizer has no ' ' piece for the dummy prefix`);
      tokens.push(space);
    }
    const bytes = new TextEncoder().encode(text);
    let start = 0;
    for (let i = 0; i < bytes.length; i++) {
      // A code point ends where the next byte is not a continuation byte (run.c also cuts at 4 bytes).
      if (i + 1 < bytes.length && (bytes[i + 1]! & 0xc0) === 0x80 && i + 1 - start < 4) continue;
      const cp = bytes.subarray(start, i + 1);
      const id = this.index.get(binary(cp));
      if (id !== undefined) tokens.push(id);
      else for (const byte of cp) tokens.push(byte + BYTE_TOKEN_OFFSET);
      start = i + 1;
    }
    for (;;) {
      let bestScore = -1e10, bestId = -1, bestIdx = -1;
      for (let i = 0; i + 1 < tokens.length; i++) {
        const id = this.index.get(this.pieces[tokens[i]!]! + this.pieces[tokens[i + 1]!]!);
        if (id !== undefined && this.scores[id]! > bestScore) { bestScore = this.scores[id]!; bestId = id; bestIdx = i; }
      }
      if (bestIdx < 0) break;
      tokens.splice(bestIdx, 2, bestId);
    }
    if (opts.eos ?? false) tokens.push(EOS);
    return tokens;
  }
}

const isSpaceByte = (b: number): boolean => b === 0x20 || (b >= 0x09 && b <= 0x0d);
