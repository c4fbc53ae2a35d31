/**
 * Tokenizer from a Hugging Face tokenizer.json (model BPE or WordPiece), with tokenizer_config.json
 * for add_bos_token / add_eos_token, the bos / eos token strings and extra added tokens.
 *   byte-level BPE (ByteLevel pre-tokenizer or decoder) -> kind "bpe"
 *   BPE over "▁" pieces with byte_fallback (Llama / Mistral style) -> kind "spm"
 *   WordPiece -> kind "wpm"
 */
import { UnsupportedError } from "../errors.js";
import { collectStopIds } from "./assemble.js";
import { BpeModel, type MergeRule } from "./bpe.js";
import { parseDecoder, parseNormalizer, parsePostProcessor, parsePreTokenizer } from "./hf-components.js";
import { JsonFields, isObject, readJsonFile, type JsonObject, type JsonValue } from "./json.js";
import { PipelineEncoder, type WordModel } from "./pipeline.js";
import type { AddedToken } from "./special.js";
import { FennecTokenizer } from "./tokenizer.js";
import type { Tokenizer, TokenizerKind } from "./types.js";
import { parseByteToken } from "./utf8.js";
import { TokenType, buildVocab, type Vocab } from "./vocab.js";
import { WordPieceModel } from "./wordpiece.js";

export function tokenizerFromJson(tokenizerJsonPath: string, tokenizerConfigPath?: string): Tokenizer {
  const j: JsonFields = new JsonFields(tokenizerJsonPath);
  const root = j.object(readJsonFile(tokenizerJsonPath), "(root)");
  const model = j.object(root.model, "model");
  const modelType = model.type === undefined && model.merges !== undefined ? "BPE" : j.string(model.type, "model.type");
  if (modelType !== "BPE" && modelType !== "WordPiece") {
    throw new UnsupportedError(tokenizerJsonPath, "model.type", `${JSON.stringify(modelType)} models are not supported (expected "BPE" or "WordPiece")`);
  }
  const config = tokenizerConfigPath !== undefined ? readConfig(tokenizerConfigPath) : undefined;
  const added = readAddedTokens(j, root.added_tokens, config);
  const { vocab, unkId } = readVocab(j, model, added);

  const normalizer = parseNormalizer(j, root.normalizer);
  const pre = parsePreTokenizer(j, root.pre_tokenizer);
  const decoder = parseDecoder(j, root.decoder);
  let kind: TokenizerKind;
  let wordModel: WordModel;
  if (modelType === "WordPiece") {
    kind = "wpm";
    wordModel = new WordPieceModel(vocab, {
      unkId,
      wordPrefix: "",
      continuationPrefix: j.optString(model.continuing_subword_prefix, "model.continuing_subword_prefix") ?? "##",
      maxInputChars: typeof model.max_input_chars_per_word === "number" ? model.max_input_chars_per_word : 100,
    });
  } else {
    kind = pre.byteLevel || decoder.decoding === "byte-level" ? "bpe" : "spm";
    wordModel = bpeModel(j, model, vocab, unkId);
  }
  const pipeline = new PipelineEncoder(normalizer, pre.steps, wordModel);
  const specials = specialIds(j, root, vocab, config);
  return new FennecTokenizer({
    kind,
    vocab,
    encodeFragment: (text, ctx, out) => pipeline.encodeFragment(text, ctx, out),
    addedTokens: added,
    ...specials,
    stopIds: collectStopIds(vocab, [specials.eosId]),
    // A ByteLevel pre-tokenizer without a decoder still means byte-level pieces.
    decoding: decoder.decoding === "raw" && pre.byteLevel ? "byte-level" : decoder.decoding,
    ...(decoder.spaceMark !== undefined ? { spaceMark: decoder.spaceMark } : {}),
    stripSpaceAfterBos: decoder.stripLeadingSpace,
  });
}

/**
 * Pieces by id from model.vocab and the added tokens. Ids may have gaps (filled as unused tokens)
 * and added tokens may lie beyond model.vocab.
 */
function readVocab(j: JsonFields, model: JsonObject, added: readonly AddedToken[]): { vocab: Vocab; unkId: number | undefined } {
  const vocabObj = j.object(model.vocab, "model.vocab");
  const byteFallback = j.bool(model.byte_fallback, "model.byte_fallback", false);
  const byId: (string | undefined)[] = [];
  for (const piece in vocabObj) {
    const id = vocabObj[piece];
    if (typeof id !== "number" || !Number.isInteger(id) || id < 0) j.fail(`model.vocab[${JSON.stringify(piece)}]`, `expected a non-negative integer id, got ${String(id)}`);
    if (byId[id] === undefined) byId[id] = piece;
  }
  for (const t of added) byId[t.id] = t.text;
  const size = byId.length;
  if (size === 0) j.fail("model.vocab", "is empty");
  const pieces: string[] = new Array<string>(size);
  const types = new Uint8Array(size).fill(TokenType.NORMAL);
  for (let id = 0; id < size; id++) {
    const p = byId[id];
    if (p === undefined) { pieces[id] = `<unused_${id}>`; types[id] = TokenType.UNUSED; continue; }
    pieces[id] = p;
    if (byteFallback && p.length === 6 && parseByteToken(p) !== undefined) types[id] = TokenType.BYTE;
  }
  for (const t of added) types[t.id] = t.isControl ? TokenType.CONTROL : TokenType.USER_DEFINED;
  const vocab = buildVocab(pieces, types);
  const unkText = j.optString(model.unk_token, "model.unk_token");
  const unkId = unkText !== undefined ? vocab.pieceToId.get(unkText) : undefined;
  if (unkId !== undefined && types[unkId] === TokenType.NORMAL) types[unkId] = TokenType.UNKNOWN;
  return { vocab, unkId };
}

function bpeModel(j: JsonFields, model: JsonObject, vocab: Vocab, unkId: number | undefined): BpeModel {
  for (const k of ["continuing_subword_prefix", "end_of_word_suffix"] as const) {
    const v = j.optString(model[k], `model.${k}`);
    if (v !== undefined && v !== "") throw new UnsupportedError(j.file, `model.${k}`, `BPE with a ${k} (${JSON.stringify(v)}) is not supported`);
  }
  return new BpeModel(vocab, readMerges(j, model.merges), {
    ignoreMerges: j.bool(model.ignore_merges, "model.ignore_merges", false),
    byteFallback: j.bool(model.byte_fallback, "model.byte_fallback", false),
    unkId,
    fuseUnk: j.bool(model.fuse_unk, "model.fuse_unk", false),
  });
}

/** BOS / EOS and what addSpecial adds: tokenizer_config.json first, then the post-processor template. */
function specialIds(j: JsonFields, root: JsonObject, vocab: Vocab, config: TokenizerConfig | undefined): {
  bosId: number | undefined; eosId: number | undefined; prefixIds: number[]; suffixIds: number[];
} {
  const post = parsePostProcessor(j, root.post_processor);
  const idOf = (text: string | undefined): number | undefined => (text === undefined ? undefined : vocab.pieceToId.get(text));
  const templatePrefix = post.prefix.map(idOf).filter((x): x is number => x !== undefined);
  const templateSuffix = post.suffix.map(idOf).filter((x): x is number => x !== undefined);
  const bosId = idOf(config?.bosToken) ?? (config?.bosToken === undefined ? templatePrefix[0] : undefined);
  const eosId = idOf(config?.eosToken) ?? templateSuffix[templateSuffix.length - 1] ?? guessEos(vocab);
  const prefixIds = config?.addBos !== undefined ? (config.addBos && bosId !== undefined ? [bosId] : []) : templatePrefix;
  const suffixIds = config?.addEos !== undefined ? (config.addEos && eosId !== undefined ? [eosId] : []) : templateSuffix;
  return { bosId, eosId, prefixIds, suffixIds };
}

interface TokenizerConfig {
  readonly addBos: boolean | undefined;
  readonly addEos: boolean | undefined;
  /** undefined: not given; null in the file means "no BOS" and is kept as undefined too. */
  readonly bosToken: string | undefined;
  readonly eosToken: string | undefined;
  readonly addedTokens: readonly AddedToken[];
}

function readConfig(path: string): TokenizerConfig {
  const j: JsonFields = new JsonFields(path);
  const o = j.object(readJsonFile(path), "(root)");
  const tokenText = (v: JsonValue | undefined, field: string): string | undefined =>
    isObject(v) ? j.string(v.content, `${field}.content`) : j.optString(v, field);
  const addedTokens: AddedToken[] = [];
  if (o.added_tokens_decoder !== undefined && o.added_tokens_decoder !== null) {
    for (const [key, value] of Object.entries(j.object(o.added_tokens_decoder, "added_tokens_decoder"))) {
      const f = `added_tokens_decoder[${JSON.stringify(key)}]`;
      const id = Number(key);
      if (!Number.isInteger(id) || id < 0) j.fail(f, "expected a non-negative integer key");
      addedTokens.push(addedToken(j, j.object(value, f), f, id));
    }
  }
  return {
    addBos: j.optBool(o.add_bos_token, "add_bos_token"),
    addEos: j.optBool(o.add_eos_token, "add_eos_token"),
    bosToken: tokenText(o.bos_token, "bos_token"),
    eosToken: tokenText(o.eos_token, "eos_token"),
    addedTokens,
  };
}

function addedToken(j: JsonFields, o: JsonObject, f: string, id: number): AddedToken {
  return {
    id,
    text: j.string(o.content, `${f}.content`),
    isControl: j.bool(o.special, `${f}.special`, false),
    lstrip: j.bool(o.lstrip, `${f}.lstrip`, false),
    rstrip: j.bool(o.rstrip, `${f}.rstrip`, false),
    singleWord: j.bool(o.single_word, `${f}.single_word`, false),
  };
}

/** tokenizer.json added_tokens, plus any from tokenizer_config.json that it lacks. */
function readAddedTokens(j: JsonFields, v: JsonValue | undefined, config: TokenizerConfig | undefined): AddedToken[] {
  const out: AddedToken[] = [];
  const seen = new Set<number>();
  if (v !== undefined && v !== null) {
    j.array(v, "added_tokens").forEach((t, i) => {
      const f = `added_tokens[${i}]`;
      const o = j.object(t, f);
      const tok = addedToken(j, o, f, j.integer(o.id, `${f}.id`));
      out.push(tok);
      seen.add(tok.id);
    });
  }
  for (const t of config?.addedTokens ?? []) if (!seen.has(t.id)) out.push(t);
  return out;
}

/** model.merges: ["a b", ...] (older files) or [["a", "b"], ...]. */
function readMerges(j: JsonFields, v: JsonValue | undefined): MergeRule[] {
  if (v === undefined || v === null) return [];
  return j.array(v, "model.merges").map((m, i): MergeRule => {
    if (typeof m === "string") {
      const sp = m.indexOf(" ", 1);
      if (sp < 0) j.fail(`model.merges[${i}]`, `expected "left right", got ${JSON.stringify(m)}`);
      return [m.slice(0, sp), m.slice(sp + 1)];
    }
    const pair = j.array(m, `model.merges[${i}]`);
    if (pair.length !== 2) j.fail(`model.merges[${i}]`, `expected a pair, got ${pair.length} items`);
    return [j.string(pair[0], `model.merges[${i}][0]`), j.string(pair[1], `model.merges[${i}][1]`)];
  });
}

function guessEos(vocab: Vocab): number | undefined {
  for (const t of ["</s>", "<|endoftext|>", "<|end_of_text|>", "<eos>"]) {
    const id = vocab.pieceToId.get(t);
    if (id !== undefined && vocab.types[id] === TokenType.CONTROL) return id;
  }
  return undefined;
}
