/**
 * The text pipeline of a BPE / WordPiece tokenizer, for one raw-text fragment (added tokens are
 * already cut out): normalize -> pre-tokenize into words -> the model turns each word into ids.
 * Pre-tokenizer steps map a list of chunks to a list of chunks, like Hugging Face's
 * PreTokenizedString splits.
 */
import { toByteLevel } from "./byte-level.js";
import { splitChunks, type SplitBehavior } from "./pretokenize.js";
import { WHITESPACE_CLASS } from "./regex.js";

export type Normalizer = (text: string) => string;

export interface FragmentContext {
  /** The fragment starts at offset 0 of the input (Metaspace prepend_scheme "first"). */
  readonly isFirst: boolean;
}

export type PreTokenizerStep = (chunks: string[], ctx: FragmentContext) => string[];

export interface WordModel {
  encodeWord(word: string, out: number[]): void;
}

export class PipelineEncoder {
  constructor(
    private readonly normalizer: Normalizer | undefined,
    private readonly steps: readonly PreTokenizerStep[],
    private readonly model: WordModel,
  ) {}

  encodeFragment(text: string, ctx: FragmentContext, out: number[]): void {
    const normalized = this.normalizer ? this.normalizer(text) : text;
    if (normalized.length === 0) return;
    let chunks = [normalized];
    for (const step of this.steps) chunks = step(chunks, ctx);
    for (const w of chunks) this.model.encodeWord(w, out);
  }
}

export function sequenceNormalizer(parts: readonly Normalizer[]): Normalizer | undefined {
  if (parts.length === 0) return undefined;
  if (parts.length === 1) return parts[0];
  return (text) => parts.reduce((t, n) => n(t), text);
}

/** Split every chunk with a regex (a Hugging Face Split step, or one entry of a preset). */
export function regexSplitStep(re: RegExp, behavior: SplitBehavior = "Isolated", invert = false): PreTokenizerStep {
  return (chunks) => splitChunks(chunks, re, behavior, invert);
}

/** Spell every chunk in the GPT-2 byte alphabet. */
export const byteLevelMapStep: PreTokenizerStep = (chunks) => chunks.map(toByteLevel);

/** The GPT-2 regex of Hugging Face's ByteLevel pre-tokenizer. */
export const GPT2_SPLIT_REGEX = new RegExp(
  `'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^${WHITESPACE_CLASS}\\p{L}\\p{N}]+|[${WHITESPACE_CLASS}]+(?![^${WHITESPACE_CLASS}])|[${WHITESPACE_CLASS}]+`,
  "gu",
);

/** Hugging Face ByteLevel pre-tokenizer: optional prefix space per chunk, GPT-2 split, byte alphabet. */
export function byteLevelStep(addPrefixSpace: boolean, useRegex: boolean): PreTokenizerStep {
  return (chunks) => {
    let out = addPrefixSpace ? chunks.map((c) => (c.startsWith(" ") ? c : " " + c)) : chunks;
    if (useRegex) out = splitChunks(out, GPT2_SPLIT_REGEX);
    return out.map(toByteLevel);
  };
}

export type PrependScheme = "always" | "first" | "never";

/** Hugging Face Metaspace pre-tokenizer: spaces -> replacement, optional prefix, split before each. */
export function metaspaceStep(replacement: string, prependScheme: PrependScheme, split: boolean): PreTokenizerStep {
  const splitRe = new RegExp(escapeForRegex(replacement), "gu");
  return (chunks, ctx) => {
    const out: string[] = [];
    chunks.forEach((chunk, i) => {
      let c = chunk.replaceAll(" ", replacement);
      const prepend = prependScheme === "always" || (prependScheme === "first" && ctx.isFirst && i === 0);
      if (prepend && !c.startsWith(replacement)) c = replacement + c;
      if (split) out.push(...splitChunks([c], splitRe, "MergedWithNext"));
      else out.push(c);
    });
    return out;
  };
}

function escapeForRegex(text: string): string {
  return text.replace(/[\\^$.*+?()[\]{}|/-]/g, "\\$&");
}
