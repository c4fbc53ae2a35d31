/**
 * The one Tokenizer implementation. Loaders (GGUF, tokenizer.json, llama2.c) differ only in the
 * TokenizerParts they assemble: a vocabulary, a fragment encoder (SentencePiece or a BPE/WordPiece
 * pipeline), the added tokens to cut out of raw text, the special ids and a piece decoding.
 *
 * encode: cut added tokens out of the raw text -> encode each text fragment -> add BOS/EOS.
 * decode: each token's bytes (byte tokens, byte-level pieces, "▁" -> " ") -> one UTF-8 decode.
 */
import { InvalidArgumentError } from "../errors.js";
import { fromByteLevel } from "./byte-level.js";
import { AddedTokenMatcher, type AddedToken } from "./special.js";
import { createStreamDecoder } from "./stream-decoder.js";
import type { DecodeOptions, EncodeOptions, StreamDecoder, Tokenizer, TokenizerKind } from "./types.js";
import { parseByteToken, utf8DecodeLenient, utf8Encode } from "./utf8.js";
import { TokenType, type Vocab } from "./vocab.js";
import type { FragmentContext } from "./pipeline.js";

/**
 * How a normal token's piece becomes text:
 *  - "spm": the space mark (▁) is a space;
 *  - "byte-level": each character is one byte of the GPT-2 byte alphabet;
 *  - "wordpiece": "##x" continues a word, any other piece starts one (a space before it);
 *  - "raw": the piece is the text.
 * Byte tokens (<0xNN>) are their byte; control and added tokens are their text, in every mode.
 */
export type PieceDecoding = "spm" | "byte-level" | "wordpiece" | "raw";

export interface TokenizerParts {
  readonly kind: TokenizerKind;
  readonly vocab: Vocab;
  /** Encode one raw-text fragment (no added tokens in it) and append the ids. */
  readonly encodeFragment: (text: string, ctx: FragmentContext, out: number[]) => void;
  /** Tokens cut out of raw text before encoding (control ones only with parseSpecial). */
  readonly addedTokens: readonly AddedToken[];
  readonly bosId: number | undefined;
  readonly eosId: number | undefined;
  /** Added before / after the text when addSpecial (e.g. [BOS], [] or [CLS], [SEP]). */
  readonly prefixIds: readonly number[];
  readonly suffixIds: readonly number[];
  readonly stopIds: ReadonlySet<number>;
  readonly decoding: PieceDecoding;
  /** The space mark for "spm" decoding (default "▁"); "##" prefix for "wordpiece". */
  readonly spaceMark?: string;
  /** The encoder prefixes a space to the text: drop one leading space of the text after BOS. */
  readonly stripSpaceAfterBos: boolean;
}

export class FennecTokenizer implements Tokenizer {
  readonly kind: TokenizerKind;
  readonly vocabSize: number;
  readonly bosId: number | undefined;
  readonly eosId: number | undefined;
  readonly stopIds: ReadonlySet<number>;
  private readonly matcher: AddedTokenMatcher;
  private readonly bytesCache: (Uint8Array | undefined)[];

  constructor(private readonly parts: TokenizerParts) {
    this.kind = parts.kind;
    this.vocabSize = parts.vocab.pieces.length;
    this.bosId = parts.bosId;
    this.eosId = parts.eosId;
    this.stopIds = parts.stopIds;
    this.matcher = new AddedTokenMatcher(parts.addedTokens);
    this.bytesCache = new Array<Uint8Array | undefined>(this.vocabSize);
  }

  encode(text: string, opts: EncodeOptions = {}): number[] {
    if (typeof text !== "string") throw new InvalidArgumentError("text", `expected a string, got ${typeof text}`);
    const addSpecial = opts.addSpecial ?? true;
    const parseSpecial = opts.parseSpecial ?? true;
    const out: number[] = [];
    if (addSpecial) out.push(...this.parts.prefixIds);
    for (const f of this.matcher.split(text, parseSpecial)) {
      if (f.kind === "token") out.push(f.id);
      else this.parts.encodeFragment(f.text, { isFirst: f.start === 0 }, out);
    }
    if (addSpecial) out.push(...this.parts.suffixIds);
    return out;
  }

  decode(ids: readonly number[], opts: DecodeOptions = {}): string {
    const dec = this.createStreamDecoder(opts);
    let text = "";
    for (const id of ids) text += dec.push(id);
    return text + dec.flush();
  }

  tokenText(id: number): string {
    this.checkId(id);
    return utf8DecodeLenient(this.tokenBytes(id));
  }

  isControl(id: number): boolean {
    return this.isValidId(id) && this.parts.vocab.types[id] === TokenType.CONTROL;
  }

  createStreamDecoder(opts: DecodeOptions = {}): StreamDecoder {
    return createStreamDecoder({
      bytesOf: (id) => (this.isValidId(id) ? this.tokenBytes(id) : undefined),
      isSkipped: (id) => opts.skipSpecial === true && this.isSpecialForSkip(id),
      bosId: this.bosId,
      stripSpaceAfterBos: this.parts.stripSpaceAfterBos,
    });
  }

  /** The piece of a token as stored in the vocabulary ("▁the", "Ġthe", "<0x0A>"). */
  piece(id: number): string {
    this.checkId(id);
    return this.parts.vocab.pieces[id] as string;
  }

  /** The id of a piece, if it is in the vocabulary. */
  pieceId(piece: string): number | undefined {
    return this.parts.vocab.pieceToId.get(piece);
  }

  /** The bytes a token stands for when decoding (no space stripping). */
  tokenBytes(id: number): Uint8Array {
    const hit = this.bytesCache[id];
    if (hit !== undefined) return hit;
    const bytes = this.computeBytes(id);
    this.bytesCache[id] = bytes;
    return bytes;
  }

  private computeBytes(id: number): Uint8Array {
    const { vocab, decoding } = this.parts;
    const piece = vocab.pieces[id] as string;
    switch (vocab.types[id]) {
      case TokenType.BYTE: {
        const b = parseByteToken(piece);
        return b !== undefined ? Uint8Array.of(b) : utf8Encode(piece);
      }
      case TokenType.UNUSED:
        return new Uint8Array(0);
      case TokenType.CONTROL:
      case TokenType.UNKNOWN:
      case TokenType.USER_DEFINED:
        return utf8Encode(piece);
    }
    switch (decoding) {
      case "spm":
        return utf8Encode(piece.replaceAll(this.parts.spaceMark ?? "\u2581", " "));
      case "byte-level":
        return fromByteLevel(piece) ?? utf8Encode(piece);
      case "wordpiece": {
        const cont = this.parts.spaceMark ?? "##";
        return utf8Encode(piece.startsWith(cont) ? piece.slice(cont.length) : " " + piece);
      }
      case "raw":
        return utf8Encode(piece);
    }
  }

  private isSpecialForSkip(id: number): boolean {
    if (!this.isValidId(id)) return false;
    const t = this.parts.vocab.types[id];
    return t === TokenType.CONTROL || t === TokenType.UNKNOWN;
  }

  private isValidId(id: number): boolean {
    return Number.isInteger(id) && id >= 0 && id < this.vocabSize;
  }

  private checkId(id: number): void {
    if (!this.isValidId(id)) throw new InvalidArgumentError("id", `token id ${id} is outside the vocabulary [0, ${this.vocabSize})`);
  }
}
