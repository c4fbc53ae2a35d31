/** Pre-tokenizer presets (tokenizer.ggml.pre), the regex dialect translation and Split behaviors. */
import { test } from "node:test";
import * as assert from "node:assert/strict";
import { PRE_TOKENIZER_PRESETS, RegexSplitter, preTokenizerNames, preTokenizerPreset, splitChunk } from "../../src/tokenizer/pretokenize.js";
import { compileTokenizerRegex } from "../../src/tokenizer/regex.js";

const origin = { file: "test", field: "regex" };
const split = (preset: string, text: string): string[] => {
  const p = preTokenizerPreset(preset);
  if (!p) throw new Error(`no preset ${preset}`);
  return new RegexSplitter(p.regexes, origin).split(text);
};

const SAMPLE = "Hello, y'all! I'M 12345 ok";
const SPACES = "  a\n\n b\t\tc  ";

test("every preset compiles and its splits cover the text exactly", () => {
  const texts = [SAMPLE, SPACES, "ÀB 3½ 你好世界 ~!", "camelCaseWord HTTPServer", "x\u00a0y\u0085z\ufeffw", "🦙.cpp 😶‍🌫️", ""];
  for (const name of preTokenizerNames()) {
    for (const t of texts) assert.equal(split(name, t).join(""), t, `${name} on ${JSON.stringify(t)}`);
  }
});

test("gpt-2 (and mpt, olmo, ... aliases)", () => {
  assert.deepEqual(split("gpt-2", SAMPLE), ["Hello", ",", " y", "'", "all", "!", " I", "'", "M", " 12345", " ok"]);
  assert.deepEqual(split("gpt-2", SPACES), [" ", " a", "\n\n", " b", "\t", "\t", "c", "  "]);
  assert.deepEqual(split("mpt", "it's 33"), ["it", "'s", " 33"]);
});

test("llama3 / llama-bpe: case-insensitive contractions, numbers by 3, newlines kept together", () => {
  assert.deepEqual(split("llama-bpe", SAMPLE), ["Hello", ",", " y", "'all", "!", " I", "'M", " ", "123", "45", " ok"]);
  assert.deepEqual(split("llama3", SPACES), [" ", " a", "\n\n", " b", "\t", "\tc", "  "]);
  assert.deepEqual(split("llama3", "x.\n\n\ny"), ["x", ".\n\n\n", "y"]);
  assert.equal(preTokenizerPreset("llama-bpe")?.ignoreMerges, true);
  assert.equal(preTokenizerPreset("llama-bpe")?.addBos, true);
});

test("qwen2: single digits", () => {
  assert.deepEqual(split("qwen2", SAMPLE), ["Hello", ",", " y", "'all", "!", " I", "'M", " ", "1", "2", "3", "4", "5", " ok"]);
  assert.deepEqual(split("qwen2", "ÀB 3½ 你好世界 ~!"), ["ÀB", " ", "3", "½", " 你好世界", " ~!"]);
});

test("default, falcon, starcoder / refact / command-r", () => {
  assert.deepEqual(split("default", SAMPLE), ["Hello", ",", " y", "'", "all", "!", " I", "'", "M", " ", "123", "45", " ok"]);
  assert.deepEqual(split("falcon", "ÀB 3½ 你好世界 ~!"), ["ÀB", " 3½", " 你好世界", " ", "~!"]);
  assert.deepEqual(split("falcon", "x 1234567"), ["x", " ", "123", "456", "7"]);
  assert.deepEqual(split("starcoder", SAMPLE), ["Hello", ",", " y", "'", "all", "!", " I", "'", "M", " ", "1", "2", "3", "4", "5", " ok"]);
  assert.deepEqual(split("refact", "a1b"), split("starcoder", "a1b"));
  assert.deepEqual(split("command-r", "a1b"), ["a", "1", "b"]);
});

test("deepseek-llm and deepseek-coder", () => {
  assert.deepEqual(split("deepseek-llm", SAMPLE), ["Hello", ",", " y", "'", "all", "!", " I", "'", "M", " ", "12345", " ok"]);
  assert.deepEqual(split("deepseek-llm", "你好 world\n"), ["你好", " world", "\n"]);
  assert.deepEqual(split("deepseek-coder", SAMPLE), ["Hello", ",", " y", "'", "all", "!", " I", "'", "M", " ", "1", "2", "3", "4", "5", " ok"]);
  assert.deepEqual(split("deepseek-v3", "abc 12345 日本語"), ["abc", " ", "123", "45", " ", "日本語"]);
});

test("gpt-4o / tekken split camelCase words; bloom / poro split on spaces and punctuation only", () => {
  assert.deepEqual(split("gpt-4o", "camelCaseWord HTTPServer I'M"), ["camel", "Case", "Word", " HTTPServer", " I'M"]);
  assert.deepEqual(split("tekken", "camelCase 12"), ["camel", "Case", " ", "1", "2"]);
  assert.deepEqual(split("bloom", SAMPLE), ["Hello", ",", " y'all", "!", " I'M", " 12345", " ok"]);
  assert.deepEqual(split("viking", "a 12"), ["a", " ", "1", "2"]);
});

test("chameleon, superbpe, tiny_aya, gemma4", () => {
  // Later regexes split earlier chunks further (special tokens are cut out before pre-tokenizing anyway).
  assert.deepEqual(split("chameleon", "ab  c,d"), ["ab", "  ", "c", ",", "d"]);
  assert.deepEqual(split("superbpe", "pay 1234567 now"), ["pay ", "1", "234", "567", " now"]);
  assert.deepEqual(split("tiny_aya", "n=12345"), ["n", "=", "12", "345"]);
  assert.deepEqual(split("gemma4", "a b\n\nc"), ["a b", "\n\n", "c"]);
  assert.equal(PRE_TOKENIZER_PRESETS["gemma4"]?.byteLevel, false);
});

test("the other presets on a string each", () => {
  const expect: [string, string, string[]][] = [
    ["dbrx", "I'M 12345", ["I", "'M", " ", "123", "45"]],
    ["smaug-bpe", "I'M", ["I", "'M"]],
    ["jais-2", "a" + " ".repeat(10) + "b", ["a", " ".repeat(8), " ", " b"]],
    ["qwen35", "naïve café", ["naïve", " café"]],
    ["bailingmoe", "it'LL x.\n\ny", ["it", "'LL", " x", ".\n\n", "y"]],
    ["seed-coder", "a+b\n\nc", ["a", "+b", "\n\n", "c"]],
    ["exaone-moe", "Hello World 123", ["Hello World", " ", "1", "2", "3"]],
    ["minicpm5", "x 12345678", ["x", " ", "123", "456", "78"]],
    ["chatglm4", "ab 1234", ["ab", " ", "123", "4"]],
    ["deepseek-v3", "ab,c 12345", ["ab", ",c", " ", "123", "45"]],
  ];
  for (const [name, text, parts] of expect) assert.deepEqual(split(name, text), parts, name);
  assert.equal(preTokenizerPreset("chatglm4")?.noBos, true);
  assert.equal(preTokenizerPreset("no-such-thing"), undefined);
});

test("whitespace is Unicode White_Space (NEL and NBSP yes, BOM no), as in llama.cpp and Hugging Face", () => {
  const ws = compileTokenizerRegex(String.raw`\s+`, origin);
  assert.deepEqual("a\u0085b\u00a0c\u2003d\ufeffe".match(ws), ["\u0085", "\u00a0", "\u2003"]);
  const notWs = compileTokenizerRegex(String.raw`\S+`, origin);
  assert.deepEqual("a\ufeffb c".match(notWs), ["a\ufeffb", "c"]);
});

test("regex translation: (?i:...), \\p{Han}, possessive quantifiers, needless escapes", () => {
  const ci = compileTokenizerRegex("(?i:'s|'ll)|x", origin);
  assert.deepEqual("'S 'Ll 's X x".match(ci), ["'S", "'Ll", "'s", "x"]);
  const ciClass = compileTokenizerRegex("'(?i:[sdmt]|ll)", origin);
  assert.deepEqual("'D 'm 'LL 'x".match(ciClass), ["'D", "'m", "'LL"]);
  assert.deepEqual("漢字abc".match(compileTokenizerRegex(String.raw`\p{Han}+`, origin)), ["漢字"]);
  assert.deepEqual("aaab cc".match(compileTokenizerRegex("a++b|c?+c", origin)), ["aaab", "cc"]);
  assert.deepEqual(`x'y"z`.match(compileTokenizerRegex(String.raw`[\'\"]`, origin)), ["'", '"']);
  assert.deepEqual("a{b}".match(compileTokenizerRegex("{|}", origin)), ["{", "}"]);
  assert.deepEqual("٣3".match(compileTokenizerRegex(String.raw`\d`, origin)), ["٣", "3"]);
  assert.throws(() => compileTokenizerRegex("(?<!a)[", origin), /cannot use the regex/);
});

test("Split behaviors (Hugging Face SplitDelimiterBehavior) and invert", () => {
  const re = /-/gu;
  assert.deepEqual(splitChunk("a-b--c", re, "Isolated"), ["a", "-", "b", "-", "-", "c"]);
  assert.deepEqual(splitChunk("a-b--c", re, "Removed"), ["a", "b", "c"]);
  assert.deepEqual(splitChunk("a-b--c", re, "MergedWithPrevious"), ["a-", "b-", "-", "c"]);
  assert.deepEqual(splitChunk("a-b--c", re, "MergedWithNext"), ["a", "-b", "-", "-c"]);
  assert.deepEqual(splitChunk("a-b--c", re, "Contiguous"), ["a", "-", "b", "--", "c"]);
  assert.deepEqual(splitChunk("ab12cd3", /\p{N}+/gu, "Removed", true), ["12", "3"]);
  // An empty match is a split point only.
  assert.deepEqual(splitChunk("1234567", /(?=(\d{3})+(?!\d))/gu, "Isolated"), ["1", "234", "567"]);
});
