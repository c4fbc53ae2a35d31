/**
 * The parts of a Hugging Face tokenizer.json around the model: normalizer, pre_tokenizer, decoder
 * and post_processor, turned into pipeline steps / decoding rules. Unknown component types are
 * rejected with an error naming the field.
 */
import { UnsupportedError } from "../errors.js";
import { toByteLevel } from "./byte-level.js";
import { JsonFields, isObject, type JsonObject, type JsonValue } from "./json.js";
import {
  byteLevelStep, metaspaceStep, regexSplitStep, sequenceNormalizer,
  type Normalizer, type PrependScheme, type PreTokenizerStep,
} from "./pipeline.js";
import type { SplitBehavior } from "./pretokenize.js";
import { compileTokenizerRegex, escapeRegex } from "./regex.js";
import type { PieceDecoding } from "./tokenizer.js";
import { lowercasePerChar } from "./utf8.js";
import { bertNormalizer, bertPreTokenizerStep } from "./wordpiece.js";

const WS = /[\t-\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]/u;

/** A Split pattern: {"String": "..."} (literal) or {"Regex": "..."}. */
function patternRegex(j: JsonFields, v: JsonValue | undefined, field: string): RegExp {
  const o = j.object(v, field);
  if (typeof o.String === "string") return new RegExp(escapeRegex(o.String), "gu");
  if (typeof o.Regex === "string") return compileTokenizerRegex(o.Regex, { file: j.file, field: `${field}.Regex` });
  return j.fail(field, 'expected {"String": ...} or {"Regex": ...}');
}

export function parseNormalizer(j: JsonFields, v: JsonValue | undefined, field = "normalizer"): Normalizer | undefined {
  if (v === undefined || v === null) return undefined;
  const o = j.object(v, field);
  const type = j.string(o.type, `${field}.type`);
  switch (type) {
    case "Sequence": {
      const parts = j.array(o.normalizers, `${field}.normalizers`)
        .map((n, i) => parseNormalizer(j, n, `${field}.normalizers[${i}]`))
        .filter((n): n is Normalizer => n !== undefined);
      return sequenceNormalizer(parts);
    }
    case "NFC": case "NFD": case "NFKC": case "NFKD":
      return (t) => t.normalize(type);
    case "Lowercase":
      return lowercasePerChar;
    case "Strip": {
      const left = j.bool(o.strip_left, `${field}.strip_left`, true);
      const right = j.bool(o.strip_right, `${field}.strip_right`, true);
      return (t) => {
        let s = 0;
        let e = t.length;
        if (left) while (s < e && WS.test(t[s] as string)) s++;
        if (right) while (e > s && WS.test(t[e - 1] as string)) e--;
        return t.slice(s, e);
      };
    }
    case "StripAccents":
      return (t) => t.replace(/\p{Mn}/gu, "");
    case "Replace": {
      const re = patternRegex(j, o.pattern, `${field}.pattern`);
      const content = j.string(o.content, `${field}.content`);
      return (t) => t.replace(re, () => content);
    }
    case "Prepend": {
      const prepend = j.string(o.prepend, `${field}.prepend`);
      return (t) => (t.length > 0 ? prepend + t : t);
    }
    case "BertNormalizer": {
      const lowercase = j.bool(o.lowercase, `${field}.lowercase`, true);
      return bertNormalizer({
        cleanText: j.bool(o.clean_text, `${field}.clean_text`, true),
        handleChineseChars: j.bool(o.handle_chinese_chars, `${field}.handle_chinese_chars`, true),
        stripAccents: j.optBool(o.strip_accents, `${field}.strip_accents`) ?? lowercase,
        lowercase,
      });
    }
    case "Precompiled":
      // A SentencePiece normalization table; in practice NFKC-like. Approximated by NFKC.
      return (t) => t.normalize("NFKC");
    case "ByteLevel":
      return toByteLevel;
    default:
      throw new UnsupportedError(j.file, `${field}.type`, `normalizer ${JSON.stringify(type)} is not supported`);
  }
}

const BEHAVIORS: readonly SplitBehavior[] = ["Isolated", "Removed", "MergedWithPrevious", "MergedWithNext", "Contiguous"];

function behaviorOf(j: JsonFields, v: JsonValue | undefined, field: string, fallback: SplitBehavior): SplitBehavior {
  if (v === undefined || v === null) return fallback;
  const s = j.string(v, field);
  const b = BEHAVIORS.find((x) => x.toLowerCase() === s.toLowerCase());
  if (b === undefined) j.fail(field, `expected one of ${BEHAVIORS.join(", ")}, got ${JSON.stringify(s)}`);
  return b;
}

export interface PreTokenizerInfo {
  readonly steps: PreTokenizerStep[];
  /** A ByteLevel step is present: words are in the GPT-2 byte alphabet. */
  readonly byteLevel: boolean;
}

export function parsePreTokenizer(j: JsonFields, v: JsonValue | undefined, field = "pre_tokenizer"): PreTokenizerInfo {
  const steps: PreTokenizerStep[] = [];
  let byteLevel = false;
  const add = (value: JsonValue | undefined, f: string): void => {
    if (value === undefined || value === null) return;
    const o = j.object(value, f);
    const type = j.string(o.type, `${f}.type`);
    switch (type) {
      case "Sequence":
        j.array(o.pretokenizers, `${f}.pretokenizers`).forEach((p, i) => add(p, `${f}.pretokenizers[${i}]`));
        return;
      case "Split":
        steps.push(regexSplitStep(patternRegex(j, o.pattern, `${f}.pattern`), behaviorOf(j, o.behavior, `${f}.behavior`, "Isolated"), j.bool(o.invert, `${f}.invert`, false)));
        return;
      case "ByteLevel":
        steps.push(byteLevelStep(j.bool(o.add_prefix_space, `${f}.add_prefix_space`, true), j.bool(o.use_regex, `${f}.use_regex`, true)));
        byteLevel = true;
        return;
      case "Metaspace":
        steps.push(metaspaceStep(metaspaceReplacement(j, o, f), prependScheme(j, o, f), j.bool(o.split, `${f}.split`, true)));
        return;
      case "Digits":
        steps.push(regexSplitStep(/\p{N}/gu, j.bool(o.individual_digits, `${f}.individual_digits`, false) ? "Isolated" : "Contiguous"));
        return;
      case "Whitespace":
        steps.push(regexSplitStep(compileTokenizerRegex(String.raw`\w+|[^\w\s]+`, { file: j.file, field: f }), "Removed", true));
        return;
      case "WhitespaceSplit":
        steps.push(regexSplitStep(compileTokenizerRegex(String.raw`\s+`, { file: j.file, field: f }), "Removed"));
        return;
      case "Punctuation":
        steps.push(regexSplitStep(/[\p{P}!-/:-@[-`{-~]/gu, behaviorOf(j, o.behavior, `${f}.behavior`, "Isolated")));
        return;
      case "BertPreTokenizer":
        steps.push(bertPreTokenizerStep);
        return;
      case "CharDelimiterSplit":
        steps.push(regexSplitStep(new RegExp(escapeRegex(j.string(o.delimiter, `${f}.delimiter`)), "gu"), "Removed"));
        return;
      default:
        throw new UnsupportedError(j.file, `${f}.type`, `pre-tokenizer ${JSON.stringify(type)} is not supported`);
    }
  };
  add(v, field);
  return { steps, byteLevel };
}

function metaspaceReplacement(j: JsonFields, o: JsonObject, f: string): string {
  return j.optString(o.replacement, `${f}.replacement`) ?? "\u2581";
}

function prependScheme(j: JsonFields, o: JsonObject, f: string): PrependScheme {
  const s = j.optString(o.prepend_scheme, `${f}.prepend_scheme`);
  if (s === undefined) return j.bool(o.add_prefix_space, `${f}.add_prefix_space`, true) ? "always" : "never";
  if (s !== "always" && s !== "first" && s !== "never") j.fail(`${f}.prepend_scheme`, `expected "always", "first" or "never", got ${JSON.stringify(s)}`);
  return s;
}

export interface DecoderInfo {
  readonly decoding: PieceDecoding;
  readonly spaceMark?: string;
  /** The decoder strips the space the encoder put before the text. */
  readonly stripLeadingSpace: boolean;
}

/**
 * Map a decoder to per-token decoding. Handles ByteLevel, Metaspace, WordPiece, and the
 * SentencePiece chain Sequence[Replace("▁", " "), ByteFallback, Fuse, Strip(" ", 1, 0)].
 */
export function parseDecoder(j: JsonFields, v: JsonValue | undefined, field = "decoder"): DecoderInfo {
  if (v === undefined || v === null) return { decoding: "raw", stripLeadingSpace: false };
  const o = j.object(v, field);
  const type = j.string(o.type, `${field}.type`);
  switch (type) {
    case "ByteLevel":
      return { decoding: "byte-level", stripLeadingSpace: false };
    case "Metaspace":
      return { decoding: "spm", spaceMark: metaspaceReplacement(j, o, field), stripLeadingSpace: prependScheme(j, o, field) !== "never" };
    case "WordPiece":
      return { decoding: "wordpiece", spaceMark: j.optString(o.prefix, `${field}.prefix`) ?? "##", stripLeadingSpace: true };
    case "Sequence": {
      let info: DecoderInfo = { decoding: "raw", stripLeadingSpace: false };
      let strip = false;
      j.array(o.decoders, `${field}.decoders`).forEach((d, i) => {
        const f = `${field}.decoders[${i}]`;
        const dobj = j.object(d, f);
        const t = j.string(dobj.type, `${f}.type`);
        if (t === "Replace") {
          const content = j.string(dobj.content, `${f}.content`);
          const pat = j.object(dobj.pattern, `${f}.pattern`);
          if (content === " " && typeof pat.String === "string") info = { decoding: "spm", spaceMark: pat.String, stripLeadingSpace: false };
        } else if (t === "Strip") {
          strip = j.string(dobj.content, `${f}.content`) === " " && typeof dobj.start === "number" && dobj.start > 0;
        } else if (t === "ByteFallback" || t === "Fuse") {
          // Byte tokens decode to their byte in every mode; pieces are concatenated anyway.
        } else {
          const inner = parseDecoder(j, d, f);
          if (inner.decoding !== "raw") info = inner;
          strip ||= inner.stripLeadingSpace;
        }
      });
      return { ...info, stripLeadingSpace: info.stripLeadingSpace || strip };
    }
    case "ByteFallback": case "Fuse":
      return { decoding: "raw", stripLeadingSpace: false };
    case "Replace": {
      const content = j.string(o.content, `${field}.content`);
      const pat = j.object(o.pattern, `${field}.pattern`);
      if (content === " " && typeof pat.String === "string") return { decoding: "spm", spaceMark: pat.String, stripLeadingSpace: false };
      return { decoding: "raw", stripLeadingSpace: false };
    }
    default:
      throw new UnsupportedError(j.file, `${field}.type`, `decoder ${JSON.stringify(type)} is not supported`);
  }
}

export interface PostProcessorInfo {
  /** Special token texts put before / after a single sequence. */
  readonly prefix: readonly string[];
  readonly suffix: readonly string[];
}

/** The special tokens a post-processor adds around one sequence (TemplateProcessing, Roberta, Bert). */
export function parsePostProcessor(j: JsonFields, v: JsonValue | undefined, field = "post_processor"): PostProcessorInfo {
  if (v === undefined || v === null) return { prefix: [], suffix: [] };
  const o = j.object(v, field);
  const type = j.string(o.type, `${field}.type`);
  switch (type) {
    case "TemplateProcessing": {
      const prefix: string[] = [];
      const suffix: string[] = [];
      let seenSeq = false;
      j.array(o.single, `${field}.single`).forEach((item, i) => {
        const it = j.object(item, `${field}.single[${i}]`);
        if (isObject(it.Sequence)) { seenSeq = true; return; }
        if (isObject(it.SpecialToken)) {
          const id = j.string(it.SpecialToken.id, `${field}.single[${i}].SpecialToken.id`);
          (seenSeq ? suffix : prefix).push(id);
        }
      });
      return { prefix, suffix };
    }
    case "RobertaProcessing": case "BertProcessing": {
      const cls = j.array(o.cls, `${field}.cls`);
      const sep = j.array(o.sep, `${field}.sep`);
      return { prefix: [j.string(cls[0], `${field}.cls[0]`)], suffix: [j.string(sep[0], `${field}.sep[0]`)] };
    }
    case "Sequence": {
      const prefix: string[] = [];
      const suffix: string[] = [];
      j.array(o.processors, `${field}.processors`).forEach((p, i) => {
        const info = parsePostProcessor(j, p, `${field}.processors[${i}]`);
        prefix.push(...info.prefix);
        suffix.push(...info.suffix);
      });
      return { prefix, suffix };
    }
    default:
      // ByteLevel and others add no tokens.
      return { prefix: [], suffix: [] };
  }
}
