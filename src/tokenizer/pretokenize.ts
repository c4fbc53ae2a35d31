/**
 * Pre-tokenizers as data. A GGUF names its pre-tokenizer (`tokenizer.ggml.pre`); each name maps to a
 * list of regexes that one generic splitter applies in sequence: every regex splits every current
 * chunk into its matches and the text between them (both kept, "Isolated"), as llama.cpp's
 * unicode_regex_split does. tokenizer.json Split steps use the same splitter with their behavior.
 *
 * Regexes are written in the tokenizer.json dialect (see regex.ts for the translation to JS).
 */
import { compileTokenizerRegex } from "./regex.js";

export interface PreTokenizerPreset {
  /** Applied in order; each splits every chunk further. */
  readonly regexes: readonly string[];
  /** A whole word that is a token is used as is, without merges. */
  readonly ignoreMerges?: boolean;
  /** Models of this family expect BOS unless the file says otherwise. */
  readonly addBos?: boolean;
  /** The family has no BOS (chatglm). */
  readonly noBos?: boolean;
  /** Words are spelled in the GPT-2 byte alphabet (default true); false: raw UTF-8 with "<0xNN>" fallback. */
  readonly byteLevel?: boolean;
  /** Spaces are written "▁" before splitting (SentencePiece-style BPE, e.g. gemma4). */
  readonly escapeWhitespace?: boolean;
}

const CONTRACTIONS = String.raw`(?i:'s|'t|'re|'ve|'m|'ll|'d)`;
const GPT2 = String.raw`'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`;
const LLAMA3 = String.raw`${CONTRACTIONS}|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`;
const QWEN2 = String.raw`${CONTRACTIONS}|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`;
const UPPER = String.raw`[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]`;
const LOWER = String.raw`[\p{Ll}\p{Lm}\p{Lo}\p{M}]`;
const GPT4O = String.raw`[^\r\n\p{L}\p{N}]?${UPPER}*${LOWER}+${CONTRACTIONS}?|[^\r\n\p{L}\p{N}]?${UPPER}+${LOWER}*${CONTRACTIONS}?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+`;
const TEKKEN = String.raw`[^\r\n\p{L}\p{N}]?${UPPER}*${LOWER}+|[^\r\n\p{L}\p{N}]?${UPPER}+${LOWER}*|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+`;
const BLOOM = String.raw` ?[^(\s|.,!?…。，、।۔،)]+`;
const CJK = String.raw`[一-龥ࠀ-一가-퟿]+`;
/** DeepSeek LLM's Latin/Greek/Cyrillic... cased letters (escaped: NFC would change some of them). */
const DEEPSEEK_LATIN = String.raw`\s?[A-Za-z\u00B5\u00C0-\u00D6\u00D8-\u00F6\u00F8-\u01BA\u01BC-\u01BF\u01C4-\u0293\u0295-\u02AF\u0370-\u0373\u0376\u0377\u037B-\u037D\u037F\u0386\u0388-\u038A\u038C\u038E-\u03A1\u03A3-\u03F5\u03F7-\u0481\u048A-\u052F\u0531-\u0556\u10A0-\u10C5\u13A0-\u13F5\u13F8-\u13FD\u1C90-\u1CBA\u1CBD-\u1CBF\u1D00-\u1D2B\u1D6B-\u1D77\u1D79-\u1D9A\u1E00-\u1F15\u1F18-\u1F1D\u1F20-\u1F45\u1F48-\u1F4D\u1F50-\u1F57\u1F59\u1F5B\u1F5D\u1F5F-\u1F7D\u1F80-\u1FB4\u1FB6-\u1FBC\u1FBE\u1FC2-\u1FC4\u1FC6-\u1FCC\u1FD0-\u1FD3\u1FD6-\u1FDB\u1FE0-\u1FEC\u1FF2-\u1FF4\u1FF6-\u1FFC\u2102\u2107\u210A-\u2113\u2115\u2119-\u211D\u2124\u2126\u2128\u212A-\u212D\u212F-\u2134\u2139\u213C-\u213F\u2145-\u2149\u214E\u2183\u2184\u2C00-\u2C7B\u2C7E-\u2CE4\u2CEB-\u2CEE\u2CF2\u2CF3\uA640-\uA66D\uA680-\uA69B\uA722-\uA76F\uA771-\uA787\uA78B-\uA78E\uAB70-\uABBF\uFB00-\uFB06\uFB13-\uFB17\uFF21-\uFF3A\uFF41-\uFF5A\u{10400}-\u{1044F}\u{104B0}-\u{104D3}\u{104D8}-\u{104FB}\u{10C80}-\u{10CB2}\u{10CC0}-\u{10CF2}\u{118A0}-\u{118DF}\u{1E900}-\u{1E943}]+`;
const DEEPSEEK_V3 = String.raw`[!"#$%&'()*+,\-./:;<=>?@\[\\\]^_\`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+| ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`;

/** Pre-tokenizer name (tokenizer.ggml.pre) -> preset. Names not listed here fall back to "default". */
export const PRE_TOKENIZER_PRESETS: Readonly<Record<string, PreTokenizerPreset>> = {
  "default": { regexes: [String.raw`[\p{P}\$\+<=>\^~\|]+`, GPT2, String.raw`\p{N}+`, "[0-9][0-9][0-9]"] },
  "llama3": { regexes: [LLAMA3], ignoreMerges: true, addBos: true },
  "dbrx": { regexes: [LLAMA3] },
  "jais-2": {
    regexes: [String.raw`${CONTRACTIONS}|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s{512}(?!\S)|\s{256}(?!\S)|\s{128}(?!\S)|\s{64}(?!\S)|\s{32}(?!\S)|\s{16}(?!\S)|\s{8}(?!\S)|\s{4}(?!\S)|\s{1,2}(?!\S)|\s{1}`],
  },
  "deepseek-llm": {
    regexes: ["[\\r\\n]", DEEPSEEK_LATIN, String.raw`\s?[!-/:-~！-／：-～‘-‟　-。]+`, String.raw`\s+$`, CJK, String.raw`\p{N}+`],
  },
  "deepseek-coder": { regexes: ["[\\r\\n]", String.raw`\s?\p{L}+`, String.raw`\s?\p{P}+`, CJK, String.raw`\p{N}`] },
  "deepseek-v3": { regexes: [String.raw`\p{N}{1,3}`, "[一-龥぀-ゟ゠-ヿ]+", DEEPSEEK_V3] },
  "falcon": { regexes: [String.raw`[\p{P}\$\+<=>\^~\|\`]+`, GPT2, "[0-9][0-9][0-9]"] },
  "starcoder": { regexes: [String.raw`\p{N}`, GPT2] },
  "gpt-2": { regexes: [GPT2] },
  "qwen2": { regexes: [QWEN2] },
  "qwen35": {
    regexes: [String.raw`${CONTRACTIONS}|[^\r\n\p{L}\p{N}]?[\p{L}\p{M}]+|\p{N}| ?[^\s\p{L}\p{M}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`],
  },
  "poro-chat": { regexes: [BLOOM] },
  "chatglm4": { regexes: [LLAMA3], noBos: true },
  "viking": { regexes: [BLOOM, String.raw`\p{N}`] },
  "tekken": { regexes: [TEKKEN], ignoreMerges: true, addBos: true },
  "chameleon": {
    regexes: ["<sentinel:[0-9]+>", "(IMGIMG)((A|B|C|D|E|F|G|H|I){1,4})Z", String.raw`([\t\n]|    |  )`, String.raw`\p{N}`, String.raw`[\p{P}!-/:-@\[-\`{-~]`, GPT2],
    addBos: true,
  },
  "gpt-4o": { regexes: [GPT4O] },
  "tiny_aya": { regexes: [String.raw`\d{1,3}(?=(?:\d{3})*\b)`, GPT4O] },
  "superbpe": { regexes: [String.raw`\p{N}+`, String.raw`(?=(\d{3})+(?!\d))`] },
  "bailingmoe": {
    regexes: [String.raw`'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]++[\r\n]*|\s*[\r\n]|\s+(?!\S)|\s+`],
  },
  "seed-coder": {
    regexes: [String.raw`${CONTRACTIONS}|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1}| ?[^\s\p{L}\p{N}\r\n]+|\s*[\r\n]+|\s+(?!\S)|\s+`],
  },
  "exaone-moe": {
    regexes: [String.raw`${CONTRACTIONS}|[^\r\n\p{L}\p{N}]?(?:\p{L}\p{M}*(?: \p{L}\p{M}*)*)+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]?|\s*[\r\n]|\s+(?!\S)|\s+`],
  },
  "minicpm5": {
    regexes: [String.raw`\p{N}{1,3}`, String.raw`${CONTRACTIONS}|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}+| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`],
    ignoreMerges: true,
  },
  "gemma4": { regexes: ["[^\\n]+|[\\n]+"], byteLevel: false, escapeWhitespace: true },
};

/** Other names llama.cpp accepts for the same presets. */
const PRE_TOKENIZER_ALIASES: Readonly<Record<string, string>> = {
  "llama-v3": "llama3", "llama-bpe": "llama3", "falcon3": "llama3", "falcon-h1": "llama3", "pixtral": "llama3",
  "midm-2.0": "llama3", "lfm2": "llama3",
  "smaug-bpe": "dbrx",
  "hunyuan-dense": "deepseek-v3",
  "refact": "starcoder", "command-r": "starcoder", "smollm": "starcoder", "codeshell": "starcoder",
  "exaone": "starcoder", "minerva-7b": "starcoder", "mellum2": "starcoder",
  "mpt": "gpt-2", "olmo": "gpt-2", "jais": "gpt-2", "trillion": "gpt-2", "granite-docling": "gpt-2", "phi-2": "gpt-2",
  "jina-es": "gpt-2", "jina-de": "gpt-2", "gigachat": "gpt-2", "jina-v2-es": "gpt-2", "jina-v2-de": "gpt-2",
  "a.x-4.0": "gpt-2", "mellum": "gpt-2", "modern-bert": "gpt-2", "exaone4": "gpt-2", "jina-v1-en": "gpt-2",
  "jina-v2-code": "gpt-2", "roberta-bpe": "gpt-2", "gpt-neox": "gpt-2",
  "stablelm2": "qwen2", "hunyuan": "qwen2", "solar-open": "qwen2", "deepseek-r1-qwen": "qwen2", "megrez": "qwen2",
  "kormo": "qwen2", "grok-2": "qwen2",
  "bloom": "poro-chat", "gpt3-finnish": "poro-chat",
  "glm4": "chatglm4", "chatglm-bpe": "chatglm4",
  "llama4": "gpt-4o", "kanana2": "gpt-4o", "minimax-m2": "gpt-4o",
  "cohere2moe": "tiny_aya",
  "bailingmoe2": "bailingmoe", "llada-moe": "bailingmoe",
  "granite-embed-multi-311m": "gemma4",
};

/** The preset for a pre-tokenizer name, or undefined if the name is unknown. */
export function preTokenizerPreset(name: string): PreTokenizerPreset | undefined {
  return PRE_TOKENIZER_PRESETS[PRE_TOKENIZER_ALIASES[name] ?? name];
}

/** Every name preTokenizerPreset accepts. */
export function preTokenizerNames(): string[] {
  return [...Object.keys(PRE_TOKENIZER_PRESETS), ...Object.keys(PRE_TOKENIZER_ALIASES)].sort();
}

/** How a Split step treats the matches (Hugging Face SplitDelimiterBehavior). */
export type SplitBehavior = "Isolated" | "Removed" | "MergedWithPrevious" | "MergedWithNext" | "Contiguous";

/**
 * Split one chunk with a global regex. Matches and the text between them become pieces, then the
 * behavior decides what is kept and what is glued together. Empty pieces are dropped.
 */
export function splitChunk(text: string, re: RegExp, behavior: SplitBehavior = "Isolated", invert = false): string[] {
  // Segments covering the whole chunk: [start, end, isMatch].
  const segs: [number, number, boolean][] = [];
  let prev = 0;
  re.lastIndex = 0;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    const s = m.index;
    const e = s + m[0].length;
    if (e === s) {
      // Empty match: a split point only; step over one code point to make progress.
      re.lastIndex = s + (isHighSurrogateAt(text, s) ? 2 : 1);
      if (s > prev && s < text.length) { segs.push([prev, s, false]); prev = s; }
      if (re.lastIndex > text.length) break;
      continue;
    }
    if (s > prev) segs.push([prev, s, false]);
    segs.push([s, e, true]);
    prev = e;
  }
  if (prev < text.length) segs.push([prev, text.length, false]);
  if (invert) for (const seg of segs) seg[2] = !seg[2];

  const pieces: [number, number][] = [];
  switch (behavior) {
    case "Isolated":
      for (const [s, e] of segs) pieces.push([s, e]);
      break;
    case "Removed":
      for (const [s, e, isMatch] of segs) if (!isMatch) pieces.push([s, e]);
      break;
    case "Contiguous": {
      let prevMatch = false;
      for (const [s, e, isMatch] of segs) {
        const last = pieces[pieces.length - 1];
        if (last !== undefined && isMatch === prevMatch) last[1] = e;
        else pieces.push([s, e]);
        prevMatch = isMatch;
      }
      break;
    }
    case "MergedWithPrevious": {
      let prevMatch = false;
      for (const [s, e, isMatch] of segs) {
        const last = pieces[pieces.length - 1];
        if (last !== undefined && isMatch && !prevMatch) last[1] = e;
        else pieces.push([s, e]);
        prevMatch = isMatch;
      }
      break;
    }
    case "MergedWithNext": {
      let prevMatch = false;
      for (let k = segs.length - 1; k >= 0; k--) {
        const [s, e, isMatch] = segs[k] as [number, number, boolean];
        const last = pieces[pieces.length - 1];
        if (last !== undefined && isMatch && !prevMatch) last[0] = s;
        else pieces.push([s, e]);
        prevMatch = isMatch;
      }
      pieces.reverse();
      break;
    }
  }
  const out: string[] = [];
  for (const [s, e] of pieces) if (e > s) out.push(text.slice(s, e));
  return out;
}

function isHighSurrogateAt(text: string, i: number): boolean {
  const c = text.charCodeAt(i);
  return c >= 0xd800 && c <= 0xdbff;
}

/** Split every chunk with one regex. */
export function splitChunks(chunks: readonly string[], re: RegExp, behavior: SplitBehavior = "Isolated", invert = false): string[] {
  const out: string[] = [];
  for (const c of chunks) for (const p of splitChunk(c, re, behavior, invert)) out.push(p);
  return out;
}

/** A compiled regex sequence (llama.cpp semantics: each regex Isolated-splits every chunk). */
export class RegexSplitter {
  private readonly regexes: RegExp[];
  constructor(patterns: readonly string[], origin: { file: string; field: string }) {
    this.regexes = patterns.map((p) => compileTokenizerRegex(p, origin));
  }
  split(text: string): string[] {
    let chunks = [text];
    for (const re of this.regexes) chunks = splitChunks(chunks, re);
    return chunks;
  }
}
