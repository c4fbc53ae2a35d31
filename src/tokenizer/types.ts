/** What the rest of Fennec sees of a tokenizer. Built from a GGUF, a tokenizer.json or a llama2.c tokenizer.bin. */
export interface EncodeOptions {
  /** Add the BOS (and EOS, where the vocabulary says so) tokens the model expects. Default true. */
  readonly addSpecial?: boolean;
  /** Match control / added tokens written literally in the text (e.g. "<|im_start|>"). Default true. */
  readonly parseSpecial?: boolean;
}

export interface DecodeOptions {
  /** Drop control tokens (BOS, EOS, chat markers) from the text. Default false. */
  readonly skipSpecial?: boolean;
}

/** Turns token ids into text incrementally; never emits a partial UTF-8 character. */
export interface StreamDecoder {
  /** Text newly completed by this token ("" while a multi-byte character is still incomplete). */
  push(id: number): string;
  /** Whatever is still held back (invalid/incomplete bytes become U+FFFD). */
  flush(): string;
}

/** "wpm": WordPiece (BERT-style embedding models). */
export type TokenizerKind = "spm" | "bpe" | "wpm";

export interface Tokenizer {
  /** "spm": SentencePiece-style BPE over scores with ▁ and <0xNN> byte fallback; "bpe": byte-level BPE over merges. */
  readonly kind: TokenizerKind;
  readonly vocabSize: number;
  readonly bosId: number | undefined;
  readonly eosId: number | undefined;
  /** Every token that ends generation (EOS, EOT, <|im_end|>, ...). */
  readonly stopIds: ReadonlySet<number>;
  encode(text: string, opts?: EncodeOptions): number[];
  decode(ids: readonly number[], opts?: DecodeOptions): string;
  /** The piece of one token as a display string (bytes decoded leniently). */
  tokenText(id: number): string;
  isControl(id: number): boolean;
  createStreamDecoder(opts?: DecodeOptions): StreamDecoder;
}
