/**
 * GPT-2 "byte-level" alphabet: every byte 0..255 is shown as one printable code point, so that a
 * vocabulary of byte sequences can be stored as ordinary strings. Printable Latin-1 bytes map to
 * themselves ('!'..'~', '¡'..'¬', '®'..'ÿ'); the other 68 bytes map to U+0100.. in byte order
 * (space 0x20 -> 'Ġ' U+0120, '\n' 0x0A -> 'Ċ' U+010A).
 */

/** BYTE_TO_CHAR[b]: the one-character string standing for byte b. */
export const BYTE_TO_CHAR: readonly string[] = buildByteToChar();

/** Code point of a byte-level character -> the byte it stands for. */
const CHAR_TO_BYTE: ReadonlyMap<number, number> = new Map(BYTE_TO_CHAR.map((ch, b) => [ch.charCodeAt(0), b]));

function buildByteToChar(): string[] {
  const isPrintable = (b: number): boolean => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  const out: string[] = new Array<string>(256);
  let next = 0;
  for (let b = 0; b < 256; b++) {
    out[b] = String.fromCharCode(isPrintable(b) ? b : 256 + next++);
  }
  return out;
}

const utf8Encoder = new TextEncoder();

/** The byte-level spelling of a text: its UTF-8 bytes, each as one alphabet character. */
export function toByteLevel(text: string): string {
  let out = "";
  let ascii = true;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0x80) { ascii = false; break; }
    out += BYTE_TO_CHAR[c] as string;
  }
  if (ascii) return out;
  out = "";
  for (const b of utf8Encoder.encode(text)) out += BYTE_TO_CHAR[b] as string;
  return out;
}

/**
 * The bytes a byte-level piece stands for, or undefined if some character is outside the alphabet
 * (such pieces, e.g. added tokens, are taken as their own UTF-8 text by the caller).
 */
export function fromByteLevel(piece: string): Uint8Array | undefined {
  const out = new Uint8Array(piece.length);
  for (let i = 0; i < piece.length; i++) {
    const b = CHAR_TO_BYTE.get(piece.charCodeAt(i));
    if (b === undefined) return undefined;
    out[i] = b;
  }
  return out;
}
