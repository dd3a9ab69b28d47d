// The llama2.c tokenizer: run.c's decode rules and BPE encode on tok512.bin, plus malformed files.
import { describe, expect, it } from 'vitest';
import { TesseraError } from '../../ir/errors.ts';
import { BOS, Tokenizer } from '../../runtime/tokenizer.ts';
import { haveStories, readTokenizer, SKIP_REASON } from './files.ts';

/** A tokenizer file from pieces and scores (max_token_length = the longest piece). */
function tokenizerFile(pieces: string[], scores: number[]): Uint8Array {
  const enc = pieces.map((p) => Buffer.from(p, 'latin1'));
  const buf = Buffer.alloc(4 + enc.reduce((n, b) => n + 8 + b.length, 0));
  buf.writeInt32LE(Math.max(1, ...enc.map((b) => b.length)), 0);
  let off = 4;
  enc.forEach((b, i) => { buf.writeFloatLE(scores[i]!, off); buf.writeInt32LE(b.length, off + 4); b.copy(buf, off + 8); off += 8 + b.length; });
  return new Uint8Array(buf);
}

/** <unk>, <s>, </s>, the 256 byte tokens, then the given pieces. */
function smallVocab(extra: [string, number][]): Tokenizer {
  const pieces = ['<unk>', '\n<s>\n', '\n</s>\n', ...Array.from({ length: 256 }, (_, b) => `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`), ...extra.map(([p]) => p)];
  const scores = [0, 0, 0, ...new Array(256).fill(0), ...extra.map(([, s]) => s)];
  return Tokenizer.fromBytes(tokenizerFile(pieces, scores));
}

describe('BPE on a hand-made vocabulary', () => {
  const tok = smallVocab([[' ', -1], ['a', -1], ['b', -1], ['ab', -3], [' a', -2], [' ab', -5], ['ba', -0.5]]);
  const id = (p: string) => tok.pieces.indexOf(p);

  it('merges the best-scoring pair first, repeatedly', () => {
    // " ab": pairs (' ','a') → " a" (-2) and ('a','b') → "ab" (-3): " a" wins, then (" a",'b') → " ab".
    expect(tok.encode('ab')).toEqual([BOS, id(' ab')]);
    // "bab": ('b','a') → "ba" (-0.5) is the best first merge.
    expect(tok.encode('bab')).toEqual([BOS, id(' '), id('ba'), id('b')]);
  });
  it('falls back to byte tokens (3 + byte) for code points without a piece', () => {
    expect(tok.encode('é', { bos: false })).toEqual([id(' '), 3 + 0xc3, 3 + 0xa9]);
    expect(tok.decode([BOS, ...tok.encode('é', { bos: false })])).toBe('é');
  });
  it('BOS and EOS flags, and the empty text (no dummy prefix)', () => {
    expect(tok.encode('')).toEqual([BOS]);
    expect(tok.encode('', { bos: false })).toEqual([]);
    expect(tok.encode('a', { eos: true })).toEqual([BOS, id(' a'), 2]);
  });
  it('decoding: the leading space after BOS is dropped, <0xXX> pieces are bytes, control bytes are not printed', () => {
    expect(tok.decode([BOS, id(' ab'), id(' a')])).toBe('ab a');
    expect(tok.decode([id('b'), id(' ab')])).toBe(' ab');
    expect(tok.decode([BOS, 3 + 0x41, 3 + 0x0a, 3 + 0x07, 3 + 0x42])).toBe('A\nB');
  });
});

describe('malformed tokenizer files', () => {
  const file = tokenizerFile(['<unk>', '<s>', '</s>', 'a', 'b'], [0, 0, 0, -1, -2]);
  const err = (bytes: Uint8Array, vocabSize?: number) => {
    try { Tokenizer.fromBytes(bytes, { vocabSize, source: 't.bin' }); } catch (e) {
      expect(e).toBeInstanceOf(TesseraError);
      return (e as Error).message;
    }
    throw new Error('expected an error');
  };
  it('reads a well-formed file', () => expect(Tokenizer.fromBytes(file).vocabSize).toBe(5));
  it('truncated inside a token', () => expect(err(file.subarray(0, file.length - 1))).toMatch(/t\.bin: not a valid llama2.c tokenizer: the file is truncated inside token 4/));
  it('a vocabulary size that is not the model\'s', () => {
    expect(err(file, 6)).toMatch(/holds 5 tokens but the model's vocabulary has 6/);
    expect(err(file, 4)).toMatch(/holds more than 4 tokens but the model's vocabulary has 4/);
  });
  it('a bad length field', () => {
    const bad = file.slice(); new DataView(bad.buffer).setInt32(4 + 4, -3, true);
    expect(err(bad)).toMatch(/token 0 has length -3/);
  });
  it('a header that is too short', () => expect(err(new Uint8Array(2))).toMatch(/fewer than the 4-byte header/));
});

describe.skipIf(!haveStories)('tok512.bin (stories260K)', () => {
  const tok = haveStories ? Tokenizer.fromBytes(readTokenizer(), { vocabSize: 512 }) : undefined!;

  it('encodes a TinyStories sentence into the tokens greedy decoding writes', () => {
    // The opening of stories260K's greedy story from BOS.
    expect(tok.encode('Once upon a time, there was a little girl named Lily.'))
      .toEqual([1, 403, 407, 261, 378, 432, 383, 286, 261, 376, 298, 315, 421, 395, 317, 426]);
  });
  it('decode(encode(text)) is the text, also for text outside the vocabulary', () => {
    for (const text of ['Tom and Sue went to the park.', 'Hello, world!\nSecond line.', 'Ünïcödé 日本語 🙂', '  two spaces']) {
      expect(tok.decode(tok.encode(text))).toBe(text);
    }
  });
  it('streaming decode equals whole decode (multi-byte characters split over byte tokens)', () => {
    const tokens = tok.encode('naïve 日本 done');
    const next = tok.streamDecoder(tokens[0]!);
    let text = '';
    for (const t of tokens.slice(1)) text += next(t);
    expect(text + next.flush()).toBe('naïve 日本 done');
  });
});

if (!haveStories) describe('tok512.bin (stories260K)', () => it.skip(SKIP_REASON, () => {}));
