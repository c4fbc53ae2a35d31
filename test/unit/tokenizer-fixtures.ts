/** Shared fixtures for the tokenizer tests: paths, the llama.cpp case files, small synthetic vocabularies. */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { GgufValueType, type GgufFile, type GgufValue } from "../../src/weights/gguf.js";
import { BYTE_TO_CHAR } from "../../src/tokenizer/byte-level.js";

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const tokenizersDir = path.resolve(repoRoot, "../shared/models/tokenizers");
export const tok = (file: string): string => path.join(tokenizersDir, file);
export const storiesDir = path.resolve(repoRoot, "../shared/models/stories260K");

export interface VocabCase {
  readonly index: number;
  readonly input: string;
  readonly expected: readonly number[];
}

/**
 * llama.cpp's test-tokenizer-0 convention: `.inp` holds inputs separated by "\n__ggml_vocab_test__\n"
 * (the file ends with the separator), `.out` one line of space-separated ids per input. The ids were
 * made with add_special = false and parse_special = false.
 */
export function readVocabCases(inpPath: string, outPath: string): VocabCase[] {
  const raw = fs.readFileSync(inpPath, "utf8");
  const sep = "\n__ggml_vocab_test__\n";
  const inputs: string[] = [];
  for (let pos = 0; pos < raw.length; ) {
    const next = raw.indexOf(sep, pos);
    if (next < 0) { inputs.push(raw.slice(pos)); break; }
    inputs.push(raw.slice(pos, next));
    pos = next + sep.length;
  }
  const lines = fs.readFileSync(outPath, "utf8").split("\n");
  if (lines[lines.length - 1] === "") lines.pop();
  if (lines.length !== inputs.length) throw new Error(`${inpPath}: ${inputs.length} inputs but ${lines.length} expected lines`);
  return inputs.map((input, index) => {
    const line = (lines[index] as string).trim();
    return { index, input, expected: line === "" ? [] : line.split(" ").map(Number) };
  });
}

/** An in-memory GgufFile with the given metadata (arrays typed from their first element). */
export function memoryGguf(entries: Record<string, GgufValue>, filePath = "memory.gguf"): GgufFile {
  const metadata = new Map<string, GgufValue>(Object.entries(entries));
  const metadataTypes = new Map<string, GgufValueType>();
  for (const [k, v] of metadata) {
    const probe = Array.isArray(v) ? v[0] : v;
    const t = typeof probe === "string" ? GgufValueType.STRING
      : typeof probe === "boolean" ? GgufValueType.BOOL
      : typeof probe === "number" && !Number.isInteger(probe) ? GgufValueType.FLOAT32 : GgufValueType.INT32;
    metadataTypes.set(k, t);
  }
  return { path: filePath, version: 3, fileSize: 0, metadata, metadataTypes, tensors: [], alignment: 32, dataOffset: 0 };
}

/** A tiny SentencePiece vocabulary: <unk> <s> </s>, 256 byte tokens, then `pieces` with scores. */
export function spmGguf(pieces: readonly [string, number][], extra: Record<string, GgufValue> = {}, special: readonly [string, number][] = []): GgufFile {
  const tokens: string[] = ["<unk>", "<s>", "</s>"];
  const types: number[] = [2, 3, 3];
  for (let b = 0; b < 256; b++) { tokens.push(`<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`); types.push(6); }
  const scores: number[] = tokens.map(() => 0);
  for (const [p, s] of pieces) { tokens.push(p); scores.push(s); types.push(1); }
  for (const [p, t] of special) { tokens.push(p); scores.push(0); types.push(t); }
  return memoryGguf({
    "tokenizer.ggml.model": "llama",
    "tokenizer.ggml.tokens": tokens,
    "tokenizer.ggml.scores": scores,
    "tokenizer.ggml.token_type": types,
    "tokenizer.ggml.bos_token_id": 1,
    "tokenizer.ggml.eos_token_id": 2,
    "tokenizer.ggml.unknown_token_id": 0,
    ...extra,
  });
}

/** Byte-level BPE: the 256 byte characters (ids 0..255 in byte order), then merged pieces, then specials. */
export function bpeGguf(merges: readonly string[], special: readonly [string, number][] = [], extra: Record<string, GgufValue> = {}): GgufFile {
  const tokens: string[] = [...BYTE_TO_CHAR];
  const types: number[] = tokens.map(() => 1);
  for (const m of merges) {
    const merged = m.replace(" ", "");
    if (!tokens.includes(merged)) { tokens.push(merged); types.push(1); }
  }
  for (const [p, t] of special) { tokens.push(p); types.push(t); }
  return memoryGguf({
    "tokenizer.ggml.model": "gpt2",
    "tokenizer.ggml.pre": "gpt-2",
    "tokenizer.ggml.tokens": tokens,
    "tokenizer.ggml.token_type": types,
    "tokenizer.ggml.merges": [...merges],
    ...extra,
  });
}

/** A fresh temporary directory for files a test writes. */
export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}
