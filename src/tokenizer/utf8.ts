/** Small UTF-8 helpers shared by the tokenizers. */
import { TextDecoder } from "node:util";

const encoder = new TextEncoder();
/** Lenient decoder: invalid or truncated sequences become U+FFFD; a leading BOM is kept as text. */
const lenientDecoder = new TextDecoder("utf-8", { fatal: false, ignoreBOM: true });

export function utf8Encode(text: string): Uint8Array {
  return encoder.encode(text);
}

export function utf8DecodeLenient(bytes: Uint8Array): string {
  return lenientDecoder.decode(bytes);
}

/** A streaming decoder that holds back an incomplete trailing sequence between calls. */
export function createUtf8StreamDecoder(): TextDecoder {
  return new TextDecoder("utf-8", { fatal: false, ignoreBOM: true });
}

/** "<0x0A>"-style name of a byte token. */
export function byteTokenName(b: number): string {
  return `<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`;
}

/** The byte value of a "<0xNN>" piece, or undefined. */
export function parseByteToken(piece: string): number | undefined {
  if (piece.length !== 6 || !piece.startsWith("<0x") || piece[5] !== ">") return undefined;
  const hex = piece.slice(3, 5);
  if (!/^[0-9A-Fa-f]{2}$/.test(hex)) return undefined;
  return parseInt(hex, 16);
}

/**
 * Lowercase code point by code point (as Rust's char::to_lowercase in Hugging Face normalizers):
 * String.prototype.toLowerCase also applies the context-dependent final-sigma rule, the only
 * difference, so it is used unless the text has a capital sigma.
 */
export function lowercasePerChar(text: string): string {
  if (!text.includes("\u03a3")) return text.toLowerCase();
  let out = "";
  for (const ch of text) out += ch.toLowerCase();
  return out;
}
