/**
 * SentencePiece-style BPE by scores (llama.cpp's SPM tokenizer): start from single characters and
 * repeatedly merge the adjacent pair whose concatenation is the highest-scoring token (leftmost
 * first among equal scores). Characters that never became a token fall back to their UTF-8 bytes
 * as "<0xNN>" tokens, or to the unknown token.
 */
import { MergeHeap } from "./heap.js";
import { TokenType, type Vocab } from "./vocab.js";
import { byteTokenName, utf8Encode } from "./utf8.js";

export const SPACE_MARK = "\u2581"; // "▁"

export interface SpmOptions {
  /** Prefix a space to every raw-text fragment (tokenizer.ggml.add_space_prefix). */
  readonly addSpacePrefix: boolean;
  readonly unkId: number | undefined;
}

export class SpmModel {
  private readonly byteIds: Int32Array;

  constructor(private readonly vocab: Vocab, private readonly opts: SpmOptions) {
    // byteIds[b]: the "<0xNN>" token, else the single-byte piece, else -1.
    this.byteIds = new Int32Array(256).fill(-1);
    for (let b = 0; b < 256; b++) {
      const id = vocab.pieceToId.get(byteTokenName(b)) ?? (b < 0x80 ? vocab.pieceToId.get(String.fromCharCode(b)) : undefined);
      if (id !== undefined) this.byteIds[b] = id;
    }
  }

  /** Tokenize one raw-text fragment (special tokens already cut out). */
  encodeFragment(text: string, out: number[]): void {
    let s = this.opts.addSpacePrefix ? " " + text : text;
    s = s.replaceAll(" ", SPACE_MARK);
    this.encodeEscaped(s, out);
  }

  /** Tokenize text whose spaces are already "▁". */
  encodeEscaped(text: string, out: number[]): void {
    if (text.length === 0) return;
    // Symbols are code points at first; a merge grows the left symbol over the right one.
    const start: number[] = [];
    const len: number[] = [];
    for (let i = 0; i < text.length; ) {
      const c = text.charCodeAt(i);
      const n = c >= 0xd800 && c <= 0xdbff && i + 1 < text.length ? 2 : 1;
      start.push(i);
      len.push(n);
      i += n;
    }
    const numSymbols = start.length;
    const next = Int32Array.from({ length: numSymbols }, (_, i) => (i + 1 < numSymbols ? i + 1 : -1));
    const prev = Int32Array.from({ length: numSymbols }, (_, i) => i - 1);
    const heap = new MergeHeap();

    const tryAdd = (l: number, r: number): void => {
      if (l < 0 || r < 0) return;
      const a = start[l] as number;
      const size = (len[l] as number) + (len[r] as number);
      const id = this.mergeable(text.slice(a, a + size));
      if (id < 0) return;
      heap.push({ key: -(this.vocab.scores[id] as number), left: l, right: r, size });
    };

    for (let i = 1; i < numSymbols; i++) tryAdd(i - 1, i);
    for (let c = heap.pop(); c !== undefined; c = heap.pop()) {
      const { left: l, right: r } = c;
      const nl = len[l] as number;
      const nr = len[r] as number;
      if (nl === 0 || nr === 0 || nl + nr !== c.size) continue; // stale
      len[l] = nl + nr;
      len[r] = 0;
      const after = next[r] as number;
      next[l] = after;
      if (after >= 0) prev[after] = l;
      tryAdd(prev[l] as number, l);
      tryAdd(l, after);
    }

    for (let i = 0; i !== -1; i = next[i] as number) {
      const a = start[i] as number;
      const piece = text.slice(a, a + (len[i] as number));
      const id = this.mergeable(piece);
      if (id >= 0) out.push(id);
      else this.fallback(piece, out);
    }
  }

  /** The id of a piece that text may turn into (not control/unknown/unused tokens), else -1. */
  private mergeable(piece: string): number {
    const id = this.vocab.pieceToId.get(piece);
    if (id === undefined) return -1;
    const t = this.vocab.types[id];
    return t === TokenType.CONTROL || t === TokenType.UNKNOWN || t === TokenType.UNUSED ? -1 : id;
  }

  /** A character with no token of its own: its UTF-8 bytes as byte tokens, else the unknown token. */
  private fallback(piece: string, out: number[]): void {
    const bytes = utf8Encode(piece);
    const ids: number[] = [];
    for (const b of bytes) {
      const id = this.byteIds[b] as number;
      if (id < 0) {
        if (this.opts.unkId !== undefined) out.push(this.opts.unkId);
        return;
      }
      ids.push(id);
    }
    for (const id of ids) out.push(id);
  }
}
