/**
 * BPE by merge ranks (GPT-2 / Hugging Face `BPE` model): a word starts as single characters and the
 * adjacent pair with the lowest merge rank is merged until no listed merge applies (leftmost first
 * among equal ranks). A binary heap keeps this O(n log n) per word; words are cached.
 */
import { MergeHeap } from "./heap.js";
import type { Vocab } from "./vocab.js";
import { byteTokenName, utf8Encode } from "./utf8.js";

export interface BpeOptions {
  /** A word that is a token as a whole is emitted as is (llama3, tekken, HF ignore_merges). */
  readonly ignoreMerges: boolean;
  /** Characters without a token become "<0xNN>" byte tokens (HF byte_fallback). */
  readonly byteFallback: boolean;
  readonly unkId: number | undefined;
  /** Consecutive unknown characters give one unknown token (HF fuse_unk). */
  readonly fuseUnk: boolean;
}

/** A merge rule "left right" (pieces as stored in the vocabulary). */
export type MergeRule = readonly [string, string];

const CACHE_LIMIT = 100_000;
const CACHE_MAX_WORD = 256;

/**
 * (leftId, rightId) -> rank, as an open-addressing hash table in typed arrays: compact for 150k+
 * merges and fast to probe (a Map keyed by leftId * numTokens + rightId would hash heap doubles).
 */
class PairTable {
  private readonly left: Int32Array;
  private readonly right: Int32Array;
  private readonly value: Int32Array;
  private readonly mask: number;

  constructor(expected: number) {
    let cap = 16;
    while (cap < expected * 2) cap *= 2;
    this.left = new Int32Array(cap).fill(-1);
    this.right = new Int32Array(cap);
    this.value = new Int32Array(cap);
    this.mask = cap - 1;
  }

  private slot(a: number, b: number): number {
    return (Math.imul(a, 0x9e3779b1) ^ Math.imul(b + 0x7f4a7c15, 0x85ebca77)) >>> 0;
  }

  /** Insert unless present (the first, lowest rank wins). */
  setIfAbsent(a: number, b: number, v: number): void {
    for (let i = this.slot(a, b) & this.mask; ; i = (i + 1) & this.mask) {
      const l = this.left[i] as number;
      if (l === -1) { this.left[i] = a; this.right[i] = b; this.value[i] = v; return; }
      if (l === a && this.right[i] === b) return;
    }
  }

  /** The value for (a, b), or -1. */
  get(a: number, b: number): number {
    for (let i = this.slot(a, b) & this.mask; ; i = (i + 1) & this.mask) {
      const l = this.left[i] as number;
      if (l === -1) return -1;
      if (l === a && this.right[i] === b) return this.value[i] as number;
    }
  }
}

export class BpeModel {
  /** (leftId, rightId) -> rank. */
  private readonly rankOf: PairTable;
  /** rank -> id of the merged token. */
  private readonly resultOf: Int32Array;
  private readonly byteIds: Int32Array;
  private readonly cache = new Map<string, readonly number[]>();
  /** Merge rules skipped because a part or the result is not in the vocabulary. */
  readonly numSkippedMerges: number;

  constructor(private readonly vocab: Vocab, merges: Iterable<MergeRule>, private readonly opts: BpeOptions) {
    const rules = Array.isArray(merges) ? (merges as readonly MergeRule[]) : [...merges];
    this.rankOf = new PairTable(rules.length);
    this.resultOf = new Int32Array(rules.length).fill(-1);
    let skipped = 0;
    for (let r = 0; r < rules.length; r++) {
      const [a, b] = rules[r] as MergeRule;
      const left = vocab.pieceToId.get(a);
      const right = vocab.pieceToId.get(b);
      const merged = vocab.pieceToId.get(a + b);
      if (left === undefined || right === undefined || merged === undefined) { skipped++; continue; }
      this.resultOf[r] = merged;
      this.rankOf.setIfAbsent(left, right, r);
    }
    this.numSkippedMerges = skipped;
    this.byteIds = new Int32Array(256).fill(-1);
    if (opts.byteFallback) {
      for (let b = 0; b < 256; b++) this.byteIds[b] = vocab.pieceToId.get(byteTokenName(b)) ?? -1;
    }
  }

  get numMerges(): number {
    return this.resultOf.length;
  }

  /** Append the ids of one pre-tokenized word. */
  encodeWord(word: string, out: number[]): void {
    if (word.length === 0) return;
    const cached = this.cache.get(word);
    if (cached !== undefined) {
      for (const id of cached) out.push(id);
      return;
    }
    const ids: number[] = [];
    this.encodeUncached(word, ids);
    if (word.length <= CACHE_MAX_WORD) {
      if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
      this.cache.set(word, ids);
    }
    for (const id of ids) out.push(id);
  }

  private encodeUncached(word: string, out: number[]): void {
    const pieceToId = this.vocab.pieceToId;
    if (this.opts.ignoreMerges) {
      const whole = pieceToId.get(word);
      if (whole !== undefined) { out.push(whole); return; }
    }
    // Symbols: one per code point; ids[i] = -1 for a character that is not a token.
    const chars = Array.from(word);
    const n = chars.length;
    const ids = new Int32Array(n);
    const len = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      const ch = chars[i] as string;
      ids[i] = pieceToId.get(ch) ?? -1;
      len[i] = 1;
    }
    const next = Int32Array.from({ length: n }, (_, i) => (i + 1 < n ? i + 1 : -1));
    const prev = Int32Array.from({ length: n }, (_, i) => i - 1);
    const heap = new MergeHeap();
    const tryAdd = (l: number, r: number): void => {
      if (l < 0 || r < 0) return;
      const a = ids[l] as number;
      const b = ids[r] as number;
      if (a < 0 || b < 0) return;
      const rank = this.rankOf.get(a, b);
      if (rank < 0) return;
      heap.push({ key: rank, left: l, right: r, size: (len[l] as number) + (len[r] as number) });
    };
    for (let i = 1; i < n; i++) tryAdd(i - 1, i);
    for (let c = heap.pop(); c !== undefined; c = heap.pop()) {
      const { left: l, right: r } = c;
      const nl = len[l] as number;
      const nr = len[r] as number;
      if (nl === 0 || nr === 0 || nl + nr !== c.size) continue; // stale
      ids[l] = this.resultOf[c.key] as number;
      len[l] = nl + nr;
      len[r] = 0;
      const after = next[r] as number;
      next[l] = after;
      if (after >= 0) prev[after] = l;
      tryAdd(prev[l] as number, l);
      tryAdd(l, after);
    }
    let lastWasUnk = false;
    for (let i = 0; i !== -1; i = next[i] as number) {
      const id = ids[i] as number;
      if (id >= 0) { out.push(id); lastWasUnk = false; continue; }
      // Unknown characters are never merged, so this symbol is one character.
      if (this.pushBytes(chars[i] as string, out)) { lastWasUnk = false; continue; }
      if (this.opts.unkId !== undefined && !(this.opts.fuseUnk && lastWasUnk)) out.push(this.opts.unkId);
      lastWasUnk = true;
    }
  }

  /** Byte fallback: all of the character's bytes as "<0xNN>" tokens, if they all exist. */
  private pushBytes(ch: string, out: number[]): boolean {
    if (!this.opts.byteFallback) return false;
    const bytes = utf8Encode(ch);
    for (const b of bytes) if ((this.byteIds[b] as number) < 0) return false;
    for (const b of bytes) out.push(this.byteIds[b] as number);
    return true;
  }
}
