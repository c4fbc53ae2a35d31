/**
 * A tokenizer as GGUF metadata (`tokenizer.ggml.*`, llama.cpp's keys), for files Fennec writes:
 *  - from a GGUF: the `tokenizer.*` entries copied as they are;
 *  - from a Hugging Face tokenizer.json (+ tokenizer_config.json), as convert_hf_to_gguf.py does:
 *    byte-level BPE -> model "gpt2" with its merges and the pre-tokenizer named by matching the
 *    Split regex against Fennec's preset table; SentencePiece-style BPE (byte_fallback) -> model
 *    "llama" with scores -id (tokenizer.json keeps pieces in score order); ids the vocabulary does
 *    not use up to the model's vocab size become "[PADi]" UNUSED tokens;
 *  - from a llama2.c tokenizer.bin: model "llama", spaces as "▁", ids 0/1/2 = <unk>/<s>/</s>.
 * `GgufVocab` is the plain-data middle step (synthetic models edit it before writing).
 */
import * as fs from "node:fs";
import { ModelFileError, UnsupportedError } from "../errors.js";
import { PRE_TOKENIZER_PRESETS } from "../tokenizer/pretokenize.js";
import { isObject, readJsonFile, type JsonObject, type JsonValue } from "../tokenizer/json.js";
import { TokenType } from "../tokenizer/vocab.js";
import { describe, metaArray, metaBool, metaNumber, metaString, type GgufFile } from "./gguf.js";
import { kv, metadataEntries, type GgufKv } from "./gguf-writer.js";
import type { TokenizerSource } from "./model-files.js";

export interface GgufVocab {
  /** tokenizer.ggml.model: "llama" (SentencePiece-style BPE by scores) or "gpt2" (byte-level BPE by merges). */
  readonly model: "llama" | "gpt2";
  /** tokenizer.ggml.pre (gpt2 models). */
  readonly pre?: string;
  readonly tokens: readonly string[];
  /** One TokenType per token. */
  readonly types: readonly number[];
  /** One per token ("llama" models). */
  readonly scores?: readonly number[];
  /** "left right" strings ("gpt2" models). */
  readonly merges?: readonly string[];
  readonly bosId?: number;
  readonly eosId?: number;
  readonly eotId?: number;
  readonly unkId?: number;
  readonly padId?: number;
  readonly addBos?: boolean;
  readonly addEos?: boolean;
  readonly chatTemplate?: string;
}

/** The GGUF metadata entries of a vocabulary. */
export function vocabKvs(v: GgufVocab): GgufKv[] {
  if (v.types.length !== v.tokens.length || (v.scores && v.scores.length !== v.tokens.length)) {
    throw new RangeError(`vocabKvs: ${v.tokens.length} tokens but ${v.types.length} types / ${v.scores?.length ?? "no"} scores`);
  }
  const out: GgufKv[] = [kv.str("tokenizer.ggml.model", v.model)];
  if (v.pre !== undefined) out.push(kv.str("tokenizer.ggml.pre", v.pre));
  out.push(kv.strs("tokenizer.ggml.tokens", v.tokens));
  if (v.scores) out.push(kv.f32s("tokenizer.ggml.scores", v.scores));
  out.push(kv.i32s("tokenizer.ggml.token_type", v.types));
  if (v.merges) out.push(kv.strs("tokenizer.ggml.merges", v.merges));
  const id = (key: string, value: number | undefined): void => {
    if (value !== undefined) out.push(kv.u32(`tokenizer.ggml.${key}`, value));
  };
  id("bos_token_id", v.bosId);
  id("eos_token_id", v.eosId);
  id("eot_token_id", v.eotId);
  id("unknown_token_id", v.unkId);
  id("padding_token_id", v.padId);
  if (v.addBos !== undefined) out.push(kv.bool("tokenizer.ggml.add_bos_token", v.addBos));
  if (v.addEos !== undefined) out.push(kv.bool("tokenizer.ggml.add_eos_token", v.addEos));
  if (v.chatTemplate !== undefined) out.push(kv.str("tokenizer.chat_template", v.chatTemplate));
  return out;
}

/**
 * Tokenizer metadata for a model's tokenizer source. `vocabSize` is the model's (embedding rows):
 * a shorter tokenizer.json vocabulary is padded to it.
 */
export function tokenizerKvs(src: TokenizerSource, vocabSize: number, chatTemplate?: string): GgufKv[] {
  switch (src.kind) {
    case "gguf": {
      const entries = metadataEntries(src.file).filter((e) => e.key.startsWith("tokenizer."));
      if (chatTemplate !== undefined && !entries.some((e) => e.key === "tokenizer.chat_template")) {
        entries.push(kv.str("tokenizer.chat_template", chatTemplate));
      }
      return entries;
    }
    case "tokenizer.json": {
      const v = vocabFromTokenizerJson(src.path, src.configPath, vocabSize);
      return vocabKvs(chatTemplate !== undefined ? { ...v, chatTemplate } : v);
    }
    case "llama2c":
      return vocabKvs(vocabFromLlama2c(src.path));
  }
}

/** A GGUF's vocabulary as GgufVocab ("llama" or "gpt2" models only). */
export function vocabFromGguf(file: GgufFile): GgufVocab {
  const model = metaString(file, "tokenizer.ggml.model");
  if (model !== "llama" && model !== "gpt2") {
    throw new UnsupportedError(file.path, "tokenizer.ggml.model", `expected "llama" or "gpt2", got ${JSON.stringify(model)}`);
  }
  const strings = (key: string): string[] | undefined => metaArray(file, key)?.map((x, i) => {
    if (typeof x !== "string") throw new ModelFileError(file.path, key, `element ${i} is ${describe(x)}, expected a string`);
    return x;
  });
  const numbers = (key: string): number[] | undefined => metaArray(file, key)?.map((x, i) => {
    if (typeof x !== "number") throw new ModelFileError(file.path, key, `element ${i} is ${describe(x)}, expected a number`);
    return x;
  });
  const tokens = strings("tokenizer.ggml.tokens");
  if (!tokens) throw new ModelFileError(file.path, "tokenizer.ggml.tokens", "missing");
  const opt = (key: string): number | undefined => metaNumber(file, `tokenizer.ggml.${key}`, undefined);
  const pre = metaString(file, "tokenizer.ggml.pre", undefined);
  const scores = numbers("tokenizer.ggml.scores");
  const merges = strings("tokenizer.ggml.merges");
  const bosId = opt("bos_token_id");
  const eosId = opt("eos_token_id");
  const unkId = opt("unknown_token_id");
  const chatTemplate = metaString(file, "tokenizer.chat_template", undefined);
  return {
    model,
    tokens,
    types: numbers("tokenizer.ggml.token_type") ?? tokens.map(() => TokenType.NORMAL),
    ...(pre !== undefined ? { pre } : {}),
    ...(scores ? { scores } : {}),
    ...(merges ? { merges } : {}),
    ...(bosId !== undefined ? { bosId } : {}),
    ...(eosId !== undefined ? { eosId } : {}),
    ...(unkId !== undefined ? { unkId } : {}),
    ...(file.metadata.has("tokenizer.ggml.add_bos_token") ? { addBos: metaBool(file, "tokenizer.ggml.add_bos_token", false) } : {}),
    ...(file.metadata.has("tokenizer.ggml.add_eos_token") ? { addEos: metaBool(file, "tokenizer.ggml.add_eos_token", false) } : {}),
    ...(chatTemplate !== undefined ? { chatTemplate } : {}),
  };
}

// ---- tokenizer.json ----

/** A special token's text in tokenizer_config.json: a string or {content}. */
function tokenText(v: JsonValue | undefined): string | undefined {
  if (typeof v === "string") return v;
  if (isObject(v) && typeof v.content === "string") return v.content;
  return undefined;
}

/** The tokenizer.ggml.pre name whose regexes are exactly the pre-tokenizer's Split patterns. */
function preName(pre: JsonValue | undefined): string {
  const patterns: string[] = [];
  let byteLevelRegex = false;
  const visit = (p: JsonValue | undefined): void => {
    if (!isObject(p)) return;
    if (p.type === "Sequence" && Array.isArray(p.pretokenizers)) p.pretokenizers.forEach(visit);
    if (p.type === "Split" && isObject(p.pattern) && typeof p.pattern.Regex === "string") patterns.push(p.pattern.Regex);
    if (p.type === "ByteLevel" && p.use_regex !== false) byteLevelRegex = true;
  };
  visit(pre);
  if (patterns.length === 0) return byteLevelRegex ? "gpt-2" : "default";
  for (const [name, preset] of Object.entries(PRE_TOKENIZER_PRESETS)) {
    if (preset.regexes.length === patterns.length && preset.regexes.every((r, i) => r === patterns[i])) return name;
  }
  return "default";
}

export function vocabFromTokenizerJson(path: string, configPath: string | undefined, vocabSize: number): GgufVocab {
  const root = readJsonFile(path);
  if (!isObject(root) || !isObject(root.model)) throw new ModelFileError(path, "model", "expected an object");
  const model: JsonObject = root.model;
  if (model.type !== "BPE" && !(model.type === undefined && model.merges !== undefined)) {
    throw new UnsupportedError(path, "model.type", `${JSON.stringify(model.type)} tokenizers cannot be written to GGUF by Fennec (expected "BPE")`);
  }
  if (!isObject(model.vocab)) throw new ModelFileError(path, "model.vocab", "expected an object of piece -> id");
  const pieces: (string | undefined)[] = [];
  for (const [piece, id] of Object.entries(model.vocab)) {
    if (typeof id !== "number" || !Number.isInteger(id) || id < 0) throw new ModelFileError(path, `model.vocab[${JSON.stringify(piece)}]`, "expected a non-negative integer id");
    pieces[id] ??= piece;
  }
  const special = new Set<number>();
  const userDefined = new Set<number>();
  for (const [i, t] of (Array.isArray(root.added_tokens) ? root.added_tokens : []).entries()) {
    if (!isObject(t) || typeof t.id !== "number" || typeof t.content !== "string") throw new ModelFileError(path, `added_tokens[${i}]`, "expected {id, content}");
    pieces[t.id] = t.content;
    (t.special === true ? special : userDefined).add(t.id);
  }
  const isByteLevel = JSON.stringify(root.pre_tokenizer ?? null).includes('"ByteLevel"') || (isObject(root.decoder) && root.decoder.type === "ByteLevel");
  const n = Math.max(vocabSize, pieces.length);
  const tokens: string[] = [];
  const types: number[] = [];
  const unkText = typeof model.unk_token === "string" ? model.unk_token : undefined;
  for (let i = 0; i < n; i++) {
    const p = pieces[i];
    if (p === undefined) {
      tokens.push(`[PAD${i}]`);
      types.push(TokenType.UNUSED);
      continue;
    }
    tokens.push(p);
    if (special.has(i)) types.push(TokenType.CONTROL);
    else if (userDefined.has(i)) types.push(TokenType.USER_DEFINED);
    else if (p === unkText) types.push(TokenType.UNKNOWN);
    else if (!isByteLevel && /^<0x[0-9A-Fa-f]{2}>$/.test(p)) types.push(TokenType.BYTE);
    else types.push(TokenType.NORMAL);
  }
  const merges = (Array.isArray(model.merges) ? model.merges : []).map((m, i) => {
    if (typeof m === "string") return m;
    if (Array.isArray(m) && m.length === 2 && typeof m[0] === "string" && typeof m[1] === "string") return `${m[0]} ${m[1]}`;
    throw new ModelFileError(path, `model.merges[${i}]`, `expected "left right" or [left, right]`);
  });

  const config = configPath !== undefined ? readJsonFile(configPath) : undefined;
  const cfg: JsonObject = isObject(config) ? config : {};
  const idOf = (v: JsonValue | undefined): number | undefined => {
    const text = tokenText(v);
    if (text === undefined) return undefined;
    const id = tokens.indexOf(text);
    return id >= 0 ? id : undefined;
  };
  const ids = {
    bosId: idOf(cfg.bos_token), eosId: idOf(cfg.eos_token), padId: idOf(cfg.pad_token),
    unkId: idOf(cfg.unk_token) ?? (unkText !== undefined ? tokens.indexOf(unkText) : -1),
  };
  const common = {
    tokens, types,
    ...(ids.bosId !== undefined ? { bosId: ids.bosId } : {}),
    ...(ids.eosId !== undefined ? { eosId: ids.eosId } : {}),
    ...(ids.padId !== undefined ? { padId: ids.padId } : {}),
    ...(ids.unkId !== undefined && ids.unkId >= 0 ? { unkId: ids.unkId } : {}),
    ...(typeof cfg.add_bos_token === "boolean" ? { addBos: cfg.add_bos_token } : {}),
    ...(typeof cfg.add_eos_token === "boolean" ? { addEos: cfg.add_eos_token } : {}),
  };
  if (isByteLevel) return { model: "gpt2", pre: preName(root.pre_tokenizer), merges, ...common };
  // SentencePiece-style: llama.cpp merges by piece score; tokenizer.json lists pieces in score order.
  return { model: "llama", scores: tokens.map((_, i) => (types[i] === TokenType.NORMAL ? -i : 0)), ...common };
}

// ---- llama2.c tokenizer.bin ----

export function vocabFromLlama2c(path: string): GgufVocab {
  let buf: Buffer;
  try {
    buf = fs.readFileSync(path);
  } catch (e) {
    throw new ModelFileError(path, "file", `cannot read: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  const tokens: string[] = [];
  const scores: number[] = [];
  const types: number[] = [];
  const names = ["<unk>", "<s>", "</s>"];
  const decoder = new TextDecoder("utf-8");
  for (let off = 4; off + 8 <= buf.length;) {
    const score = buf.readFloatLE(off);
    const len = buf.readInt32LE(off + 4);
    if (len < 0 || off + 8 + len > buf.length) throw new ModelFileError(path, `token ${tokens.length}`, "truncated");
    const text = decoder.decode(buf.subarray(off + 8, off + 8 + len));
    off += 8 + len;
    const id = tokens.length;
    const special = names[id];
    tokens.push(special ?? text.replaceAll(" ", "\u2581"));
    scores.push(score);
    types.push(id === 0 ? TokenType.UNKNOWN : special !== undefined ? TokenType.CONTROL : /^<0x[0-9A-F]{2}>$/.test(text) ? TokenType.BYTE : TokenType.NORMAL);
  }
  return { model: "llama", tokens, scores, types, unkId: 0, bosId: 1, eosId: 2, addBos: true, addEos: false };
}
