/**
 * A SentencePiece `tokenizer.model` (protobuf ModelProto) of model type BPE, as Llama / Mistral
 * ship it. Only the fields a BPE tokenizer needs are read:
 *   ModelProto      1: pieces (repeated SentencePiece)  2: trainer_spec  3: normalizer_spec
 *   SentencePiece   1: piece (string)  2: score (float)  3: type (enum, same numbers as TokenType)
 *   TrainerSpec     3: model_type (1 unigram, 2 bpe, 3 word, 4 char)  40-42: unk / bos / eos id
 *   NormalizerSpec  1: name  3: add_dummy_prefix (default true)  4: remove_extra_whitespaces (default true)
 */
import * as fs from "node:fs";
import { ModelFileError, UnsupportedError } from "../errors.js";
import { addedTokensFromTypes, collectStopIds } from "./assemble.js";
import { SpmModel } from "./spm.js";
import { FennecTokenizer } from "./tokenizer.js";
import type { Tokenizer } from "./types.js";
import { TokenType, buildVocab } from "./vocab.js";

const MODEL_TYPES = ["", "unigram", "bpe", "word", "char"];

export function tokenizerFromSentencePiece(path: string): Tokenizer {
  let buf: Buffer;
  try {
    buf = fs.readFileSync(path);
  } catch (e) {
    throw new ModelFileError(path, "file", `cannot read: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  const pieces: string[] = [];
  const scores: number[] = [];
  const types: number[] = [];
  let modelType = 1;
  let unkId = 0;
  let bosId = 1;
  let eosId = 2;
  let addDummyPrefix = true;
  let removeExtraWhitespaces = true;
  let normalizerName = "";
  const r = new ProtoReader(buf, path, "ModelProto");
  while (!r.done()) {
    const [field, wire] = r.tag();
    if (field === 1 && wire === 2) {
      const p = r.message("pieces");
      let piece = "";
      let score = 0;
      let type: number = TokenType.NORMAL;
      while (!p.done()) {
        const [f, w] = p.tag();
        if (f === 1 && w === 2) piece = p.string();
        else if (f === 2 && w === 5) score = p.float();
        else if (f === 3 && w === 0) type = p.varint();
        else p.skip(w);
      }
      pieces.push(piece);
      scores.push(score);
      types.push(type >= TokenType.NORMAL && type <= TokenType.BYTE ? type : TokenType.NORMAL);
    } else if (field === 2 && wire === 2) {
      const t = r.message("trainer_spec");
      while (!t.done()) {
        const [f, w] = t.tag();
        if (f === 3 && w === 0) modelType = t.varint();
        else if (f === 40 && w === 0) unkId = t.signedVarint();
        else if (f === 41 && w === 0) bosId = t.signedVarint();
        else if (f === 42 && w === 0) eosId = t.signedVarint();
        else t.skip(w);
      }
    } else if (field === 3 && wire === 2) {
      const n = r.message("normalizer_spec");
      while (!n.done()) {
        const [f, w] = n.tag();
        if (f === 1 && w === 2) normalizerName = n.string();
        else if (f === 3 && w === 0) addDummyPrefix = n.varint() !== 0;
        else if (f === 4 && w === 0) removeExtraWhitespaces = n.varint() !== 0;
        else n.skip(w);
      }
    } else {
      r.skip(wire);
    }
  }
  if (pieces.length === 0) throw new ModelFileError(path, "pieces", "no pieces: not a SentencePiece model");
  if (modelType !== 2) {
    throw new UnsupportedError(path, "trainer_spec.model_type", `${MODEL_TYPES[modelType] ?? modelType} models are not supported (expected bpe)`);
  }
  const n = pieces.length;
  const inRange = (id: number): number | undefined => (id >= 0 && id < n ? id : undefined);
  const vocab = buildVocab(pieces, Uint8Array.from(types), Float32Array.from(scores));
  const spm = new SpmModel(vocab, { addSpacePrefix: addDummyPrefix, unkId: inRange(unkId) });
  const bos = inRange(bosId);
  const eos = inRange(eosId);
  // "nmt_nfkc" and friends: the precompiled table is not read; NFKC is the close approximation.
  const nfkc = normalizerName.toLowerCase().includes("nfkc");
  return new FennecTokenizer({
    kind: "spm",
    vocab,
    encodeFragment: (text, _ctx, out) => {
      let t = nfkc ? text.normalize("NFKC") : text;
      if (removeExtraWhitespaces) t = squeezeSpaces(t);
      spm.encodeFragment(t, out);
    },
    addedTokens: addedTokensFromTypes(vocab),
    bosId: bos,
    eosId: eos,
    prefixIds: bos !== undefined ? [bos] : [],
    suffixIds: [],
    stopIds: collectStopIds(vocab, [eos]),
    decoding: "spm",
    stripSpaceAfterBos: addDummyPrefix,
  });
}

/** SentencePiece's remove_extra_whitespaces: trim, and runs of spaces become one. */
function squeezeSpaces(text: string): string {
  return text.replace(/ {2,}/g, " ").replace(/^ | $/g, "");
}

/** Does this look like a serialized ModelProto (a pieces entry whose first field is a piece string)? */
export function looksLikeSentencePiece(head: Uint8Array): boolean {
  if (head.length < 4 || head[0] !== 0x0a) return false;
  let i = 1;
  let len = 0;
  for (let shift = 0; i < head.length && shift < 28; shift += 7) {
    const b = head[i++] as number;
    len |= (b & 0x7f) << shift;
    if ((b & 0x80) === 0) break;
  }
  return len > 2 && head[i] === 0x0a;
}

/** Minimal protobuf reader over one message; errors name the file and the message. */
class ProtoReader {
  private pos: number;
  constructor(private readonly buf: Uint8Array, private readonly path: string, private readonly what: string, start = 0, private readonly end = buf.length) {
    this.pos = start;
  }
  done(): boolean {
    return this.pos >= this.end;
  }
  private fail(problem: string): never {
    throw new ModelFileError(this.path, this.what, `${problem} at offset ${this.pos}: not a valid SentencePiece model`);
  }
  private varintBig(): bigint {
    let v = 0n;
    for (let k = 0n; k < 70n; k += 7n) {
      if (this.pos >= this.end) this.fail("truncated varint");
      const b = this.buf[this.pos++] as number;
      v |= BigInt(b & 0x7f) << k;
      if ((b & 0x80) === 0) return v;
    }
    return this.fail("varint too long");
  }
  varint(): number {
    return Number(this.varintBig());
  }
  /** An int32 field: negative values are sign-extended to 64 bits on the wire. */
  signedVarint(): number {
    return Number(BigInt.asIntN(32, this.varintBig()));
  }
  tag(): [number, number] {
    const t = this.varint();
    if (t >>> 3 === 0) this.fail("field number 0");
    return [Math.floor(t / 8), t & 7];
  }
  private bytes(): [number, number] {
    const len = this.varint();
    if (this.pos + len > this.end) this.fail(`length ${len} runs past the end`);
    const start = this.pos;
    this.pos += len;
    return [start, start + len];
  }
  string(): string {
    const [s, e] = this.bytes();
    return Buffer.from(this.buf.buffer, this.buf.byteOffset + s, e - s).toString("utf8");
  }
  float(): number {
    if (this.pos + 4 > this.end) this.fail("truncated float");
    const v = Buffer.from(this.buf.buffer, this.buf.byteOffset + this.pos, 4).readFloatLE(0);
    this.pos += 4;
    return v;
  }
  message(what: string): ProtoReader {
    const [s, e] = this.bytes();
    return new ProtoReader(this.buf, this.path, what, s, e);
  }
  skip(wire: number): void {
    switch (wire) {
      case 0: this.varint(); return;
      case 1: this.pos += 8; break;
      case 2: this.bytes(); return;
      case 5: this.pos += 4; break;
      default: this.fail(`unsupported wire type ${wire}`);
    }
    if (this.pos > this.end) this.fail("truncated field");
  }
}
