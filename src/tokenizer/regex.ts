/**
 * Translate the regex dialect of tokenizer.json / llama.cpp (Oniguruma / PCRE flavoured) into a
 * JavaScript RegExp with the `u` flag. What changes:
 *  - `\s` / `\S` become the Unicode White_Space set (what Oniguruma, Rust and llama.cpp use; JS's own
 *    `\s` differs: it has U+FEFF and lacks U+0085). `\d` is Unicode decimal digits, `\w` letters,
 *    marks, digits and connector punctuation.
 *  - `(?i:...)` is expanded by hand (`'s` -> `'[sS]`): Node 20 has no inline modifiers.
 *  - `\p{Han}`-style script names become `\p{Script=Han}`; `\pL` becomes `\p{L}`.
 *  - possessive quantifiers (`++`, `?+`) and atomic groups `(?>` degrade to greedy / plain groups.
 *  - `\x{HH}` becomes `\u{HH}`; `\A`, `\z` become `^`, `$`; needless escapes (`\'`) become literals.
 */
import { UnsupportedError } from "../errors.js";

/** The Unicode White_Space code points, as the inside of a character class. */
export const WHITESPACE_CLASS = "\\t-\\r \\x85\\xA0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000";
const WORD_CLASS = "\\p{L}\\p{M}\\p{Nd}\\p{Pc}";

/** General-category names JS knows under `\p{...}` without `Script=`. */
const GENERAL_CATEGORIES = new Set([
  "L", "LC", "Lu", "Ll", "Lt", "Lm", "Lo", "M", "Mn", "Mc", "Me", "N", "Nd", "Nl", "No",
  "P", "Pc", "Pd", "Ps", "Pe", "Pi", "Pf", "Po", "S", "Sm", "Sc", "Sk", "So",
  "Z", "Zs", "Zl", "Zp", "C", "Cc", "Cf", "Cs", "Co", "Cn",
  "Letter", "Cased_Letter", "Uppercase_Letter", "Lowercase_Letter", "Titlecase_Letter", "Modifier_Letter", "Other_Letter",
  "Mark", "Nonspacing_Mark", "Spacing_Mark", "Enclosing_Mark", "Number", "Decimal_Number", "Letter_Number", "Other_Number",
  "Punctuation", "Connector_Punctuation", "Dash_Punctuation", "Open_Punctuation", "Close_Punctuation",
  "Initial_Punctuation", "Final_Punctuation", "Other_Punctuation", "Symbol", "Math_Symbol", "Currency_Symbol",
  "Modifier_Symbol", "Other_Symbol", "Separator", "Space_Separator", "Line_Separator", "Paragraph_Separator",
  "Other", "Control", "Format", "Surrogate", "Private_Use", "Unassigned",
  "Alphabetic", "White_Space", "Uppercase", "Lowercase", "Emoji", "Any", "ASCII",
]);

/** JS syntax characters that keep their backslash when escaped. */
const SYNTAX_CHARS = new Set([..."^$\\.*+?()[]{}|/"]);

const cache = new Map<string, RegExp>();

/** Compile a tokenizer regex to a global, unicode JS RegExp (cached). `origin` names it in errors. */
export function compileTokenizerRegex(pattern: string, origin: { file: string; field: string }): RegExp {
  const hit = cache.get(pattern);
  if (hit) return new RegExp(hit.source, hit.flags);
  let src = pattern;
  let flags = "gu";
  if (src.startsWith("(?i)")) { src = src.slice(4); flags += "i"; }
  let translated: string;
  try {
    translated = translate(src);
    const re = new RegExp(translated, flags);
    cache.set(pattern, re);
    return new RegExp(re.source, re.flags);
  } catch (e) {
    throw new UnsupportedError(origin.file, origin.field, `cannot use the regex ${JSON.stringify(pattern)}: ${(e as Error).message}`);
  }
}

/** Escape a literal string for use in a RegExp. */
export function escapeRegex(text: string): string {
  return text.replace(/[\\^$.*+?()[\]{}|/-]/g, "\\$&");
}

function translate(src: string): string {
  let out = "";
  let inClass = false;
  // Stack of open groups; true for a group that is case-insensitive (?i:...).
  const groups: boolean[] = [];
  let caseless = 0; // number of open (?i: groups
  let classExtra = ""; // other-case letters to add before the current class closes
  let i = 0;
  while (i < src.length) {
    const c = src[i] as string;
    if (c === "\\") {
      const [text, used] = translateEscape(src, i, inClass);
      out += text;
      i += used;
      // "[\\s-x]": a "-" after a class escape is a literal (the u flag rejects it unescaped).
      if (inClass && "sSdDwWhpP".includes(src[i - used + 1] ?? "") && src[i] === "-" && src[i + 1] !== "]") { out += "\\-"; i++; }
      continue;
    }
    if (inClass) {
      if (c === "]") { inClass = false; out += classExtra + c; classExtra = ""; i++; continue; }
      if (c === "[") { out += "\\["; i++; continue; }
      const d = src[i + 2];
      const isRange = src[i + 1] === "-" && d !== undefined && d !== "]" && d !== "\\";
      const lit = isRange ? `${c}-${d}` : c;
      out += lit;
      // In a case-insensitive group, add the other case of letters (and ranges of letters).
      if (caseless > 0) classExtra += isRange ? otherCaseRange(c, d) : otherCase(c);
      i += lit.length;
      continue;
    }
    switch (c) {
      case "[":
        inClass = true;
        out += c;
        i++;
        if (src[i] === "^") { out += "^"; i++; }
        if (src[i] === "]") { out += "\\]"; i++; } // a leading ']' is literal
        continue;
      case "(": {
        if (src.startsWith("(?i:", i)) { groups.push(true); caseless++; out += "(?:"; i += 4; continue; }
        if (src.startsWith("(?>", i)) { groups.push(false); out += "(?:"; i += 3; continue; }
        if (src.startsWith("(?-i:", i)) throw new Error("(?-i:...) is not supported");
        if (/^\(\?[a-zA-Z-]+[):]/.test(src.slice(i, i + 12)) && !src.startsWith("(?<", i)) {
          throw new Error(`inline flags ${src.slice(i, i + 6)}... are not supported`);
        }
        groups.push(false);
        out += c;
        i++;
        continue;
      }
      case ")":
        if (groups.pop() === true) caseless--;
        out += c;
        i++;
        continue;
      case "{": {
        const q = /^\{\d+(,\d*)?\}/.exec(src.slice(i));
        if (q) { out += q[0]; i = skipPossessive(src, i + q[0].length); continue; }
        out += "\\{";
        i++;
        continue;
      }
      case "}": out += "\\}"; i++; continue;
      case "]": out += "\\]"; i++; continue;
      case "*": case "+": case "?":
        out += c;
        i = skipPossessive(src, i + 1);
        continue;
      default:
        out += caseless > 0 ? bothCases(c) : c;
        i++;
    }
  }
  if (inClass) throw new Error("unterminated character class");
  return out;
}

/** Possessive `X++` / `X?+` / `X*+`: drop the `+` (JS has no possessive quantifiers). */
function skipPossessive(src: string, i: number): number {
  return src[i] === "+" ? i + 1 : i;
}

/** A letter in a case-insensitive group, outside a class: a class of both cases. */
function bothCases(c: string): string {
  const o = otherCase(c);
  return o === "" ? c : `[${c}${o}]`;
}

/** The other case of a one-character letter, or "" if it has none. */
function otherCase(c: string): string {
  const lo = c.toLowerCase();
  const up = c.toUpperCase();
  if (lo === up || lo.length !== 1 || up.length !== 1) return "";
  return c === lo ? up : lo;
}

function otherCaseRange(a: string, b: string): string {
  const oa = otherCase(a);
  const ob = otherCase(b);
  return oa !== "" && ob !== "" && oa <= ob ? `${oa}-${ob}` : "";
}

/** Translate the escape at src[i] ('\\'); returns the JS text and how many source chars it used. */
function translateEscape(src: string, i: number, inClass: boolean): [string, number] {
  const c = src[i + 1];
  if (c === undefined) throw new Error("trailing backslash");
  const wrap = (inner: string): string => (inClass ? inner : `[${inner}]`);
  switch (c) {
    case "s": return [wrap(WHITESPACE_CLASS), 2];
    case "S": return [inClass ? "\\S" : `[^${WHITESPACE_CLASS}]`, 2];
    case "d": return ["\\p{Nd}", 2];
    case "D": return ["\\P{Nd}", 2];
    case "w": return [wrap(WORD_CLASS), 2];
    case "W": return [inClass ? "\\W" : `[^${WORD_CLASS}]`, 2];
    case "h": return [wrap("\\t \\xA0\\u1680\\u180E\\u2000-\\u200A\\u202F\\u205F\\u3000"), 2];
    case "A": return ["^", 2];
    case "z": return ["$", 2];
    case "Z": return ["(?=\\n?$)", 2];
    case "p": case "P": {
      let name: string;
      let used: number;
      if (src[i + 2] === "{") {
        const close = src.indexOf("}", i + 3);
        if (close < 0) throw new Error("unterminated \\p{...}");
        name = src.slice(i + 3, close);
        used = close + 1 - i;
      } else {
        name = src[i + 2] ?? "";
        used = 3;
      }
      if (name.startsWith("^")) { name = name.slice(1); return [`\\${c === "p" ? "P" : "p"}{${propertyName(name)}}`, used]; }
      return [`\\${c}{${propertyName(name)}}`, used];
    }
    case "x": {
      if (src[i + 2] === "{") {
        const close = src.indexOf("}", i + 3);
        if (close < 0) throw new Error("unterminated \\x{...}");
        return [`\\u{${src.slice(i + 3, close)}}`, close + 1 - i];
      }
      return [src.slice(i, i + 4), 4];
    }
    default:
      if (/[0-9A-Za-z]/.test(c)) return ["\\" + c, 2]; // \n \t \r \b \B \u.... \1 ...: same in JS
      if (SYNTAX_CHARS.has(c) || (inClass && c === "-")) return ["\\" + c, 2];
      // Needless escape of a non-syntax character (e.g. \' or \"): a literal, which the u flag needs.
      return [c, 2];
  }
}

function propertyName(name: string): string {
  if (GENERAL_CATEGORIES.has(name) || name.includes("=")) return name;
  return `Script=${name}`;
}
