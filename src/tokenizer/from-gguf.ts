/**
 * Tokenizer from GGUF metadata (`tokenizer.ggml.*`), following llama.cpp's vocabulary loader:
 *   model "llama" -> SentencePiece-style BPE by scores (SPM)
 *   model "gpt2"  -> byte-level BPE by merge ranks, pre-tokenizer chosen by `tokenizer.ggml.pre`
 *   model "bert"  -> WordPiece
 *   model "gemma4" -> BPE over "▁" pieces with "<0xNN>" byte fallback
 */
import { ModelFileError, UnsupportedError } from "../errors.js";
import { describe, metaArray, metaBool, metaNumber, metaString, type GgufFile, type GgufValue } from "../weights/gguf.js";
import { addedTokensFromTypes, collectStopIds, warnOnce } from "./assemble.js";
import { BpeModel, type MergeRule } from "./bpe.js";
import { PipelineEncoder, byteLevelMapStep, regexSplitStep, type PreTokenizerStep } from "./pipeline.js";
import { preTokenizerPreset, type PreTokenizerPreset } from "./pretokenize.js";
import { compileTokenizerRegex } from "./regex.js";
import { SPACE_MARK, SpmModel } from "./spm.js";
import { FennecTokenizer } from "./tokenizer.js";
import type { Tokenizer } from "./types.js";
import { parseByteToken } from "./utf8.js";
import { TokenType, buildVocab, type Vocab } from "./vocab.js";
import { WordPieceModel, bertNormalizer, bertPreTokenizerStep } from "./wordpiece.js";

const K = {
  model: "tokenizer.ggml.model",
  pre: "tokenizer.ggml.pre",
  tokens: "tokenizer.ggml.tokens",
  scores: "tokenizer.ggml.scores",
  types: "tokenizer.ggml.token_type",
  merges: "tokenizer.ggml.merges",
  bos: "tokenizer.ggml.bos_token_id",
  eos: "tokenizer.ggml.eos_token_id",
  eot: "tokenizer.ggml.eot_token_id",
  eom: "tokenizer.ggml.eom_token_id",
  unk: "tokenizer.ggml.unknown_token_id",
  sep: "tokenizer.ggml.seperator_token_id",
  addBos: "tokenizer.ggml.add_bos_token",
  addEos: "tokenizer.ggml.add_eos_token",
  addSep: "tokenizer.ggml.add_sep_token",
  addSpacePrefix: "tokenizer.ggml.add_space_prefix",
  lowercase: "tokenizer.ggml.normalizer.lowercase",
  stripAccents: "tokenizer.ggml.normalizer.strip_accents",
} as const;

const SUPPORTED_MODELS = ["llama", "gpt2", "bert", "gemma4"];

export function tokenizerFromGguf(file: GgufFile): Tokenizer {
  const model = metaString(file, K.model);
  if (model === "no_vocab" || model === "none") {
    throw new UnsupportedError(file.path, K.model, `is ${JSON.stringify(model)}: the file has no vocabulary (pass a tokenizer file)`);
  }
  if (!SUPPORTED_MODELS.includes(model)) {
    throw new UnsupportedError(file.path, K.model, `tokenizer model ${JSON.stringify(model)} is not supported (expected one of ${SUPPORTED_MODELS.join(", ")})`);
  }
  const vocab = readVocab(file, model === "llama");
  const n = vocab.pieces.length;
  const id: IdReader = (key, fallback) => specialId(file, key, n, fallback);
  const parts = model === "llama" ? spmParts(file, vocab, id) : model === "bert" ? wpmParts(file, vocab, id) : bpeParts(file, vocab, id, model);
  return finish(file, vocab, parts);
}

type IdReader = (key: string, fallback: number | undefined) => number | undefined;

/** "llama": SentencePiece BPE by scores; llama.cpp defaults <unk> 0, <s> 1, </s> 2, BOS added. */
function spmParts(file: GgufFile, vocab: Vocab, id: IdReader): GgufParts {
  const unkId = id(K.unk, 0);
  const addSpacePrefix = metaBool(file, K.addSpacePrefix, true);
  const spm = new SpmModel(vocab, { addSpacePrefix, unkId });
  return {
    kind: "spm",
    encodeFragment: (text, _ctx, out) => spm.encodeFragment(text, out),
    bosId: id(K.bos, 1),
    eosId: id(K.eos, 2),
    addBos: metaBool(file, K.addBos, true),
    addEos: metaBool(file, K.addEos, false),
    decoding: "spm",
    stripSpaceAfterBos: addSpacePrefix,
  };
}

/** "bert": WordPiece; [CLS] text [SEP], llama.cpp defaults [UNK] 100, [CLS] 101, [SEP] 102. */
function wpmParts(file: GgufFile, vocab: Vocab, id: IdReader): GgufParts {
  const unkId = id(K.unk, 100);
  const sepId = id(K.sep, 102);
  const lowercase = metaBool(file, K.lowercase, true);
  const stripAccents = metaBool(file, K.stripAccents, lowercase);
  const wp = new WordPieceModel(vocab, { unkId, wordPrefix: SPACE_MARK, continuationPrefix: "", maxInputChars: 100 });
  const normalizer = bertNormalizer({ cleanText: true, handleChineseChars: true, stripAccents, lowercase });
  const pipeline = new PipelineEncoder(normalizer, [bertPreTokenizerStep], wp);
  return {
    kind: "wpm",
    encodeFragment: (text, ctx, out) => pipeline.encodeFragment(text, ctx, out),
    bosId: id(K.bos, 101),
    eosId: id(K.eos, undefined),
    addBos: metaBool(file, K.addBos, true),
    addEos: false,
    extraSuffix: metaBool(file, K.addSep, true) && sepId !== undefined ? [sepId] : [],
    decoding: "spm",
    stripSpaceAfterBos: true,
  };
}

/** "gpt2": byte-level BPE with the pre-tokenizer named by tokenizer.ggml.pre; "gemma4": BPE over ▁ pieces. */
function bpeParts(file: GgufFile, vocab: Vocab, id: IdReader, model: string): GgufParts {
  const preName = model === "gemma4" ? "gemma4" : metaString(file, K.pre, undefined);
  let preset = preTokenizerPreset(preName ?? "default");
  if (preName === undefined) {
    warnOnce(`${file.path}: ${K.pre} is missing; using the default pre-tokenizer (tokenization may differ from the model's)`);
  } else if (preset === undefined) {
    warnOnce(`${file.path}: ${K.pre}: unknown pre-tokenizer ${JSON.stringify(preName)}; using the default one (tokenization may differ from the model's)`);
  }
  preset ??= preTokenizerPreset("default") as PreTokenizerPreset;
  const byteLevel = preset.byteLevel ?? true;
  const escape = preset.escapeWhitespace ?? false;
  const bpe = new BpeModel(vocab, readMerges(file), {
    ignoreMerges: preset.ignoreMerges ?? false,
    byteFallback: !byteLevel,
    unkId: id(K.unk, undefined),
    fuseUnk: false,
  });
  const origin = { file: file.path, field: K.pre };
  const steps: PreTokenizerStep[] = preset.regexes.map((r) => regexSplitStep(compileTokenizerRegex(r, origin)));
  if (byteLevel) steps.push(byteLevelMapStep);
  const pipeline = new PipelineEncoder(escape ? (t) => t.replaceAll(" ", SPACE_MARK) : undefined, steps, bpe);
  return {
    kind: "bpe",
    encodeFragment: (text, ctx, out) => pipeline.encodeFragment(text, ctx, out),
    bosId: preset.noBos ? undefined : id(K.bos, undefined),
    eosId: id(K.eos, undefined),
    addBos: metaBool(file, K.addBos, preset.addBos ?? false),
    addEos: metaBool(file, K.addEos, false),
    decoding: escape ? "spm" : "byte-level",
    stripSpaceAfterBos: false,
  };
}

interface GgufParts {
  readonly kind: "spm" | "bpe" | "wpm";
  readonly encodeFragment: (text: string, ctx: { readonly isFirst: boolean }, out: number[]) => void;
  readonly bosId: number | undefined;
  readonly eosId: number | undefined;
  readonly addBos: boolean;
  readonly addEos: boolean;
  readonly extraSuffix?: readonly number[];
  readonly decoding: "spm" | "byte-level";
  readonly stripSpaceAfterBos: boolean;
}

/** Common tail: BOS/EOS checks, end-of-generation ids, added tokens. */
function finish(file: GgufFile, vocab: Vocab, p: GgufParts): Tokenizer {
  if (p.addBos && p.bosId === undefined) {
    throw new ModelFileError(file.path, K.addBos, `is true but ${K.bos} is missing or outside the vocabulary`);
  }
  if (p.addEos && p.eosId === undefined) {
    throw new ModelFileError(file.path, K.addEos, `is true but ${K.eos} is missing or outside the vocabulary`);
  }
  const n = vocab.pieces.length;
  const stopIds = collectStopIds(vocab, [p.eosId, specialId(file, K.eot, n, undefined), specialId(file, K.eom, n, undefined)]);
  // As llama.cpp: end-of-generation tokens found by their text are control tokens, whatever the file says.
  for (const sid of stopIds) vocab.types[sid] = TokenType.CONTROL;
  // llama.cpp: Phi-3's special tokens swallow the whitespace after them (except <unk>, <s>, <|endoftext|>).
  const name = metaString(file, "general.name", undefined)?.toLowerCase() ?? "";
  const isPhi3 = name.includes("phi-3") || name.includes("phi3");
  const noRstrip = new Set(["<unk>", "<s>", "<|endoftext|>"]);
  const rstrip = (tid: number): boolean => isPhi3 && !noRstrip.has(vocab.pieces[tid] as string);
  return new FennecTokenizer({
    kind: p.kind,
    vocab,
    encodeFragment: p.encodeFragment,
    addedTokens: addedTokensFromTypes(vocab, rstrip),
    bosId: p.bosId,
    eosId: p.eosId,
    prefixIds: p.addBos && p.bosId !== undefined ? [p.bosId] : [],
    suffixIds: [...(p.addEos && p.eosId !== undefined ? [p.eosId] : []), ...(p.extraSuffix ?? [])],
    stopIds,
    decoding: p.decoding,
    stripSpaceAfterBos: p.stripSpaceAfterBos,
  });
}

function readVocab(file: GgufFile, isSpm: boolean): Vocab {
  const tokens = metaArray(file, K.tokens);
  if (tokens === undefined) throw new ModelFileError(file.path, K.tokens, "missing (expected the array of token strings)");
  if (tokens.length === 0) throw new ModelFileError(file.path, K.tokens, "is empty (expected at least one token)");
  const n = tokens.length;
  const pieces: string[] = new Array<string>(n);
  for (let i = 0; i < n; i++) {
    const t = tokens[i];
    if (typeof t !== "string") throw new ModelFileError(file.path, K.tokens, `element ${i} is ${describe(t as GgufValue)}, expected a string`);
    pieces[i] = t.length > 0 ? t : `[EMPTY_${i}]`;
  }
  const scores = new Float32Array(n);
  const rawScores = metaArray(file, K.scores);
  if (rawScores !== undefined) {
    if (rawScores.length < n) throw new ModelFileError(file.path, K.scores, `has ${rawScores.length} entries, expected ${n} (one per token)`);
    for (let i = 0; i < n; i++) {
      const s = rawScores[i];
      if (typeof s !== "number") throw new ModelFileError(file.path, K.scores, `element ${i} is ${describe(s as GgufValue)}, expected a number`);
      scores[i] = s;
    }
  }
  const types = new Uint8Array(n).fill(TokenType.NORMAL);
  const rawTypes = metaArray(file, K.types);
  if (rawTypes !== undefined) {
    if (rawTypes.length < n) throw new ModelFileError(file.path, K.types, `has ${rawTypes.length} entries, expected ${n} (one per token)`);
    for (let i = 0; i < n; i++) {
      const t = rawTypes[i];
      if (typeof t !== "number" || !Number.isInteger(t)) throw new ModelFileError(file.path, K.types, `element ${i} is ${describe(t as GgufValue)}, expected an integer token type`);
      types[i] = t >= 0 && t <= TokenType.BYTE ? t : TokenType.UNDEFINED;
    }
  } else if (isSpm) {
    // No types: recognise byte tokens by name so byte fallback and decoding still work.
    for (let i = 0; i < n; i++) if (parseByteToken(pieces[i] as string) !== undefined) types[i] = TokenType.BYTE;
  }
  return buildVocab(pieces, types, scores);
}

function readMerges(file: GgufFile): MergeRule[] {
  const raw = metaArray(file, K.merges);
  if (raw === undefined) throw new ModelFileError(file.path, K.merges, "missing (a gpt2 tokenizer needs its BPE merges)");
  const out: MergeRule[] = new Array<MergeRule>(raw.length);
  for (let i = 0; i < raw.length; i++) {
    const m = raw[i];
    if (typeof m !== "string") throw new ModelFileError(file.path, K.merges, `element ${i} is ${describe(m as GgufValue)}, expected a string "left right"`);
    // The separator is the first space after the first character (a merge may start with a space).
    const sp = m.indexOf(" ", 1);
    out[i] = sp < 0 ? [m, ""] : [m.slice(0, sp), m.slice(sp + 1)];
  }
  return out;
}

/** A special-token id from the metadata; ids outside the vocabulary (e.g. 0xFFFFFFFF for "none") are ignored. */
function specialId(file: GgufFile, key: string, n: number, fallback: number | undefined): number | undefined {
  const v = metaNumber(file, key, undefined);
  if (v === undefined) return fallback !== undefined && fallback < n ? fallback : undefined;
  if (!Number.isInteger(v) || v < 0 || v >= n) return undefined;
  return v;
}
