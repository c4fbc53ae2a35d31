/** The token table every tokenizer is built on: pieces, their types and (SentencePiece) scores. */

/** GGUF `tokenizer.ggml.token_type` values (llama.cpp's llama_token_type). */
export const TokenType = {
  UNDEFINED: 0,
  NORMAL: 1,
  UNKNOWN: 2,
  /** BOS, EOS, chat markers: matched in text only with parseSpecial, dropped by skipSpecial. */
  CONTROL: 3,
  /** Added tokens that are always matched in the raw text, even without parseSpecial. */
  USER_DEFINED: 4,
  UNUSED: 5,
  /** "<0xNN>": one raw byte. */
  BYTE: 6,
} as const;
export type TokenType = (typeof TokenType)[keyof typeof TokenType];

export interface Vocab {
  /** pieces[id]: the token as stored ("▁the" for SentencePiece, "Ġthe" for byte-level BPE). */
  readonly pieces: readonly string[];
  /** types[id]: a TokenType. */
  readonly types: Uint8Array;
  /** scores[id] (SentencePiece merge priority, higher merges first); zeros when the model has none. */
  readonly scores: Float32Array;
  /** Piece -> id (the first id wins if a piece is listed twice). */
  readonly pieceToId: ReadonlyMap<string, number>;
}

export function buildVocab(pieces: readonly string[], types: Uint8Array, scores?: Float32Array): Vocab {
  const pieceToId = new Map<string, number>();
  for (let id = 0; id < pieces.length; id++) {
    const p = pieces[id] as string;
    if (!pieceToId.has(p)) pieceToId.set(p, id);
  }
  return { pieces, types, scores: scores ?? new Float32Array(pieces.length), pieceToId };
}

/** Texts of tokens that end generation in common chat models (llama.cpp's end-of-generation list). */
export const EOG_TOKEN_TEXTS: readonly string[] = [
  "<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<end_of_turn>", "<|endoftext|>",
  "<|eom_id|>", "<EOT>", "_<EOT>", "<|end_of_text|>", "<end_of_utterance>", "<｜end▁of▁sentence｜>",
];

/** Fill-in-the-middle tokens that end generation (llama.cpp treats them as EOG). */
export const FIM_EOG_TOKEN_TEXTS: readonly string[] = [
  "<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<|repo_name|>", "<fim-repo>", "<|file_sep|>",
];

/** The ids of the end-of-generation tokens present in a vocabulary, by text. */
export function findEogIds(vocab: Vocab, texts: readonly string[]): number[] {
  const ids: number[] = [];
  for (const t of texts) {
    const id = vocab.pieceToId.get(t);
    if (id !== undefined) ids.push(id);
  }
  return ids;
}
