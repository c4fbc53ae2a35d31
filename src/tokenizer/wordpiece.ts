/**
 * WordPiece (BERT): normalize (clean, lowercase, strip accents), split on whitespace and isolate
 * punctuation / CJK characters, then each word is covered greedily by the longest vocabulary pieces
 * from the left; a word that cannot be covered becomes the unknown token.
 *
 * Vocabularies mark word starts and continuations differently: Hugging Face stores "hello" and
 * "##llo"; llama.cpp's GGUF stores "▁hello" and "llo". `wordPrefix` / `continuationPrefix` say which.
 */
import type { Normalizer, PreTokenizerStep, WordModel } from "./pipeline.js";
import type { Vocab } from "./vocab.js";
import { lowercasePerChar } from "./utf8.js";

export interface WordPieceOptions {
  readonly unkId: number | undefined;
  readonly wordPrefix: string;
  readonly continuationPrefix: string;
  /** Longer words become the unknown token (HF max_input_chars_per_word). */
  readonly maxInputChars: number;
}

export class WordPieceModel implements WordModel {
  private readonly maxPieceChars: number;

  constructor(private readonly vocab: Vocab, private readonly opts: WordPieceOptions) {
    let max = 1;
    for (const p of vocab.pieces) max = Math.max(max, p.length);
    this.maxPieceChars = max;
  }

  encodeWord(word: string, out: number[]): void {
    const chars = Array.from(word);
    const n = chars.length;
    if (n === 0) return;
    const ids: number[] = [];
    let ok = n <= this.opts.maxInputChars;
    for (let pos = 0; ok && pos < n; ) {
      const prefix = pos === 0 ? this.opts.wordPrefix : this.opts.continuationPrefix;
      let found = -1;
      let end = Math.min(n, pos + this.maxPieceChars);
      for (; end > pos; end--) {
        const id = this.vocab.pieceToId.get(prefix + chars.slice(pos, end).join(""));
        if (id !== undefined) { found = id; break; }
      }
      if (found < 0) { ok = false; break; }
      ids.push(found);
      pos = end;
    }
    if (ok) for (const id of ids) out.push(id);
    else if (this.opts.unkId !== undefined) out.push(this.opts.unkId);
  }
}

export interface BertNormalizerOptions {
  readonly cleanText: boolean;
  readonly handleChineseChars: boolean;
  readonly stripAccents: boolean;
  readonly lowercase: boolean;
}

const CONTROL = /[\p{Cc}\p{Cf}\p{Co}\p{Cn}]/u;
const WHITESPACE = /[\t-\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]/;
const MARK_NONSPACING = /\p{Mn}/gu;

export function isChineseChar(cp: number): boolean {
  return (cp >= 0x4e00 && cp <= 0x9fff) || (cp >= 0x3400 && cp <= 0x4dbf) || (cp >= 0x20000 && cp <= 0x2a6df) ||
    (cp >= 0x2a700 && cp <= 0x2b73f) || (cp >= 0x2b740 && cp <= 0x2b81f) || (cp >= 0x2b920 && cp <= 0x2ceaf) ||
    (cp >= 0xf900 && cp <= 0xfaff) || (cp >= 0x2f800 && cp <= 0x2fa1f);
}

/** Hugging Face BertNormalizer (also what llama.cpp's WPM preprocessing does). */
export function bertNormalizer(o: BertNormalizerOptions): Normalizer {
  return (text) => {
    let s = text;
    if (o.cleanText || o.handleChineseChars) {
      let out = "";
      for (const ch of s) {
        const cp = ch.codePointAt(0) ?? 0;
        if (o.cleanText) {
          if (cp === 0 || cp === 0xfffd) continue;
          if (WHITESPACE.test(ch)) { out += " "; continue; }
          if (CONTROL.test(ch)) continue;
        }
        out += o.handleChineseChars && isChineseChar(cp) ? ` ${ch} ` : ch;
      }
      s = out;
    }
    if (o.stripAccents) s = s.normalize("NFD").replace(MARK_NONSPACING, "");
    if (o.lowercase) s = lowercasePerChar(s);
    return s;
  };
}

const BERT_SPLIT = /[\t-\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+|[\p{P}!-/:-@[-`{-~]/gu;

/** Hugging Face BertPreTokenizer: drop whitespace, isolate each punctuation character. */
export const bertPreTokenizerStep: PreTokenizerStep = (chunks) => {
  const out: string[] = [];
  for (const chunk of chunks) {
    let prev = 0;
    BERT_SPLIT.lastIndex = 0;
    for (let m = BERT_SPLIT.exec(chunk); m !== null; m = BERT_SPLIT.exec(chunk)) {
      if (m.index > prev) out.push(chunk.slice(prev, m.index));
      if (!WHITESPACE.test(m[0])) out.push(m[0]);
      prev = m.index + m[0].length;
    }
    if (prev < chunk.length) out.push(chunk.slice(prev));
  }
  return out;
};
