/**
 * Incremental detokenization. Each token contributes bytes; a streaming UTF-8 decoder emits only
 * complete characters and holds back an incomplete multi-byte sequence (a CJK character or emoji
 * split over byte tokens or byte-level pieces) until its last byte arrives. Invalid bytes become
 * U+FFFD; flush() turns a still-incomplete tail into U+FFFD.
 *
 * Leading space: SentencePiece encoders put a space before the text ("Hello" -> "▁Hello"). When a
 * sequence starts with BOS, the space right after it is dropped, so decode(encode(x)) == x. A
 * stream that does not start with BOS is taken as a continuation (e.g. generated tokens after a
 * prompt) and keeps its spaces.
 */
import type { StreamDecoder } from "./types.js";
import { createUtf8StreamDecoder } from "./utf8.js";

export interface StreamDecoderSource {
  /** The bytes of a token, or undefined for an id outside the vocabulary (ignored). */
  bytesOf(id: number): Uint8Array | undefined;
  /** Tokens dropped entirely (control tokens when skipSpecial). */
  isSkipped(id: number): boolean;
  readonly bosId: number | undefined;
  readonly stripSpaceAfterBos: boolean;
}

export function createStreamDecoder(src: StreamDecoderSource): StreamDecoder {
  const utf8 = createUtf8StreamDecoder();
  let onlyBosSoFar = true; // every token pushed so far was BOS
  let stripNext = false;
  return {
    push(id: number): string {
      if (onlyBosSoFar && src.bosId !== undefined && id === src.bosId) {
        stripNext = src.stripSpaceAfterBos;
        return src.isSkipped(id) ? "" : emit(src.bytesOf(id));
      }
      onlyBosSoFar = false;
      const strip = stripNext;
      stripNext = false;
      if (src.isSkipped(id)) return "";
      let bytes = src.bytesOf(id);
      if (bytes !== undefined && strip && bytes[0] === 0x20) bytes = bytes.subarray(1);
      return emit(bytes);
    },
    flush(): string {
      return utf8.decode();
    },
  };

  function emit(bytes: Uint8Array | undefined): string {
    if (bytes === undefined || bytes.length === 0) return "";
    return utf8.decode(bytes, { stream: true });
  }
}
