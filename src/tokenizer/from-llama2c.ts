/**
 * llama2.c `tokenizer.bin`: int32 max_token_length, then per token: float32 score, int32 length,
 * `length` bytes of UTF-8 (little endian). Pieces use real spaces where SentencePiece has "▁";
 * ids 0, 1, 2 are <unk>, <s>, </s> (stored as "\n<s>\n" / "\n</s>\n"); "<0xNN>" pieces are bytes.
 * It behaves as SentencePiece BPE with a space prefix, BOS 1 and EOS 2.
 */
import * as fs from "node:fs";
import { ModelFileError } from "../errors.js";
import { addedTokensFromTypes } from "./assemble.js";
import { SPACE_MARK, SpmModel } from "./spm.js";
import { FennecTokenizer } from "./tokenizer.js";
import type { Tokenizer } from "./types.js";
import { parseByteToken } from "./utf8.js";
import { TokenType, buildVocab } from "./vocab.js";

const UNK = 0;
const BOS = 1;
const EOS = 2;
const SPECIAL_NAMES = ["<unk>", "<s>", "</s>"];

export function tokenizerFromLlama2c(path: string): Tokenizer {
  let buf: Buffer;
  try {
    buf = fs.readFileSync(path);
  } catch (e) {
    throw new ModelFileError(path, "file", `cannot read: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  if (buf.length < 4) throw new ModelFileError(path, "max_token_length", `file is ${buf.length} bytes, too small for a llama2.c tokenizer`);
  const maxTokenLength = buf.readInt32LE(0);
  if (maxTokenLength <= 0 || maxTokenLength > 65536) {
    throw new ModelFileError(path, "max_token_length", `expected a positive int32 of at most 65536, got ${maxTokenLength}: not a llama2.c tokenizer.bin`);
  }
  const pieces: string[] = [];
  const scores: number[] = [];
  const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
  let off = 4;
  while (off < buf.length) {
    const id = pieces.length;
    if (off + 8 > buf.length) throw new ModelFileError(path, `token ${id}`, `truncated: needs a score and a length at offset ${off}, file is ${buf.length} bytes`);
    const score = buf.readFloatLE(off);
    const len = buf.readInt32LE(off + 4);
    off += 8;
    if (len < 0 || len > maxTokenLength || off + len > buf.length) {
      throw new ModelFileError(path, `token ${id}`, `length ${len} at offset ${off - 4} is invalid (max_token_length ${maxTokenLength}, ${buf.length - off} bytes left): truncated or corrupt`);
    }
    let text: string;
    try {
      text = decoder.decode(buf.subarray(off, off + len));
    } catch {
      throw new ModelFileError(path, `token ${id}`, "piece is not valid UTF-8: corrupt file");
    }
    off += len;
    pieces.push(text);
    scores.push(score);
  }
  if (pieces.length < 3) throw new ModelFileError(path, "tokens", `has ${pieces.length} tokens, expected at least 3 (<unk>, <s>, </s>)`);

  const n = pieces.length;
  const types = new Uint8Array(n).fill(TokenType.NORMAL);
  const spmPieces = pieces.map((p, id) => {
    if (id < SPECIAL_NAMES.length) return SPECIAL_NAMES[id] as string;
    if (parseByteToken(p) !== undefined) { types[id] = TokenType.BYTE; return p; }
    return p.replaceAll(" ", SPACE_MARK);
  });
  types[UNK] = TokenType.UNKNOWN;
  types[BOS] = TokenType.CONTROL;
  types[EOS] = TokenType.CONTROL;
  const vocab = buildVocab(spmPieces, types, Float32Array.from(scores));
  const spm = new SpmModel(vocab, { addSpacePrefix: true, unkId: UNK });
  return new FennecTokenizer({
    kind: "spm",
    vocab,
    encodeFragment: (text, _ctx, out) => spm.encodeFragment(text, out),
    addedTokens: addedTokensFromTypes(vocab),
    bosId: BOS,
    eosId: EOS,
    prefixIds: [BOS],
    suffixIds: [],
    stopIds: new Set([EOS]),
    decoding: "spm",
    stripSpaceAfterBos: true,
  });
}
