/**
 * Tokenizers: SentencePiece-style BPE, byte-level BPE and WordPiece, loaded from a GGUF's metadata,
 * a Hugging Face tokenizer.json (+ tokenizer_config.json), a SentencePiece tokenizer.model or a
 * llama2.c tokenizer.bin.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { ModelFileError } from "../errors.js";
import { GGUF_MAGIC, readGguf } from "../weights/gguf.js";
import { tokenizerFromGguf } from "./from-gguf.js";
import { tokenizerFromLlama2c } from "./from-llama2c.js";
import { looksLikeSentencePiece, tokenizerFromSentencePiece } from "./from-sentencepiece.js";
import { tokenizerFromJson } from "./from-tokenizer-json.js";
import type { Tokenizer } from "./types.js";

export type { DecodeOptions, EncodeOptions, StreamDecoder, Tokenizer, TokenizerKind } from "./types.js";
export { tokenizerFromGguf } from "./from-gguf.js";
export { tokenizerFromJson } from "./from-tokenizer-json.js";
export { tokenizerFromLlama2c } from "./from-llama2c.js";
export { tokenizerFromSentencePiece } from "./from-sentencepiece.js";
export { FennecTokenizer } from "./tokenizer.js";
export { PRE_TOKENIZER_PRESETS, preTokenizerNames, preTokenizerPreset, type PreTokenizerPreset } from "./pretokenize.js";

/**
 * Load a tokenizer from a path, detecting its format: a GGUF file (by magic), a tokenizer.json
 * (a JSON object; a tokenizer_config.json next to it is used too), a directory holding
 * tokenizer.json (or a SentencePiece tokenizer.model), a SentencePiece .model file, or a llama2.c
 * tokenizer.bin.
 */
export function loadTokenizer(p: string): Tokenizer {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(p);
  } catch (e) {
    throw new ModelFileError(p, "file", `cannot open: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  if (stat.isDirectory()) {
    const json = path.join(p, "tokenizer.json");
    if (fs.existsSync(json)) return tokenizerFromJson(json, siblingConfig(json));
    const model = path.join(p, "tokenizer.model");
    if (fs.existsSync(model)) return tokenizerFromSentencePiece(model);
    throw new ModelFileError(p, "tokenizer.json", "the directory has no tokenizer.json or tokenizer.model (expected a Hugging Face tokenizer directory)");
  }
  const head = readHead(p, 64);
  if (head.length >= 4 && head.readUInt32LE(0) === GGUF_MAGIC) return tokenizerFromGguf(readGguf(p));
  const firstChar = head.toString("latin1").trimStart()[0];
  if (firstChar === "{") return tokenizerFromJson(p, siblingConfig(p));
  if (p.endsWith(".json")) throw new ModelFileError(p, "json", "expected a JSON object (a Hugging Face tokenizer.json)");
  if (p.endsWith(".model") || looksLikeSentencePiece(head)) return tokenizerFromSentencePiece(p);
  return tokenizerFromLlama2c(p);
}

/** tokenizer_config.json beside a tokenizer.json, if there is one (and it is not the file itself). */
function siblingConfig(jsonPath: string): string | undefined {
  const config = path.join(path.dirname(jsonPath), "tokenizer_config.json");
  return path.resolve(config) !== path.resolve(jsonPath) && fs.existsSync(config) ? config : undefined;
}

function readHead(p: string, n: number): Buffer {
  const fd = fs.openSync(p, "r");
  try {
    const buf = Buffer.alloc(n);
    const got = fs.readSync(fd, buf, 0, n, 0);
    return buf.subarray(0, got);
  } finally {
    fs.closeSync(fd);
  }
}
