/** Hugging Face tokenizer.json (+ tokenizer_config.json): BPE (byte-level and ▁-style) and WordPiece. */
import { after, test } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { loadTokenizer, tokenizerFromJson } from "../../src/tokenizer/index.js";
import { BYTE_TO_CHAR } from "../../src/tokenizer/byte-level.js";
import { tempDir, tok } from "./tokenizer-fixtures.js";

const dir = tempDir("fennec-tokjson-");
after(() => fs.rmSync(dir, { recursive: true, force: true }));
let n = 0;
function writeJson(value: unknown, name = `t${n++}.json`): string {
  const p = path.join(dir, name);
  fs.writeFileSync(p, JSON.stringify(value));
  return p;
}
const special = (id: number, content: string, extra: Record<string, unknown> = {}): Record<string, unknown> =>
  ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true, ...extra });

// ---- a Llama-2 style tokenizer.json: BPE over ▁ pieces with byte fallback ----
const spmPieces = ["<unk>", "<s>", "</s>", ...Array.from({ length: 256 }, (_, b) => `<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`), "▁", "a", "b", "▁a", "ab", "▁ab"];
const spmVocab = Object.fromEntries(spmPieces.map((p, i) => [p, i]));
const sid = (p: string): number => spmPieces.indexOf(p);
const llamaJson = {
  version: "1.0",
  added_tokens: [special(0, "<unk>"), special(1, "<s>"), special(2, "</s>")],
  normalizer: { type: "Sequence", normalizers: [{ type: "Prepend", prepend: "▁" }, { type: "Replace", pattern: { String: " " }, content: "▁" }] },
  pre_tokenizer: null,
  post_processor: {
    type: "TemplateProcessing",
    single: [{ SpecialToken: { id: "<s>", type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } }],
    pair: [], special_tokens: {},
  },
  decoder: {
    type: "Sequence",
    decoders: [
      { type: "Replace", pattern: { String: "▁" }, content: " " }, { type: "ByteFallback" }, { type: "Fuse" },
      { type: "Strip", content: " ", start: 1, stop: 0 },
    ],
  },
  model: { type: "BPE", dropout: null, unk_token: "<unk>", continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: true, byte_fallback: true, vocab: spmVocab, merges: ["▁ a", "a b", "▁a b"] },
};

test("Llama-style tokenizer.json: Prepend/Replace normalizer, merges by rank, byte fallback, BOS from the template", () => {
  const t = tokenizerFromJson(writeJson(llamaJson));
  assert.equal(t.kind, "spm");
  assert.equal(t.bosId, 1);
  assert.deepEqual(t.encode("ab a"), [1, sid("▁ab"), sid("▁a")]);
  assert.deepEqual(t.encode("é", { addSpecial: false }), [sid("▁"), 3 + 0xc3, 3 + 0xa9]);
  assert.deepEqual(t.encode("a<s>b", { addSpecial: false }), [sid("▁a"), 1, sid("▁"), sid("b")]);
  assert.equal(t.decode(t.encode("ab é a")), "<s>ab é a");
  assert.equal(t.decode(t.encode("ab é a"), { skipSpecial: true }), "ab é a");
});

test("tokenizer_config.json add_bos_token / add_eos_token / eos_token override the template", () => {
  const cfg = writeJson({ add_bos_token: false, add_eos_token: true, bos_token: "<s>", eos_token: { content: "</s>", special: true } });
  const t = tokenizerFromJson(writeJson(llamaJson), cfg);
  assert.deepEqual(t.encode("ab"), [sid("▁ab"), 2]);
  assert.equal(t.eosId, 2);
  assert.ok(t.stopIds.has(2));
});

test("Metaspace pre-tokenizer with prepend_scheme first: no ▁ after a special token", () => {
  const json = { ...llamaJson, normalizer: null, pre_tokenizer: { type: "Metaspace", replacement: "▁", prepend_scheme: "first", split: false },
    decoder: { type: "Metaspace", replacement: "▁", prepend_scheme: "first", split: false } };
  const t = tokenizerFromJson(writeJson(json));
  assert.deepEqual(t.encode("ab", { addSpecial: false }), [sid("▁ab")]);
  assert.deepEqual(t.encode("<s>ab", { addSpecial: false }), [1, sid("ab")]);
  assert.equal(t.decode([1, sid("▁ab"), sid("▁a")]), "<s>ab a");
});

// ---- byte-level BPE ----
const blPieces = [...BYTE_TO_CHAR, "Ġt", "he", "Ġthe", "12"];
const blJson = (pre: unknown, extra: Record<string, unknown> = {}): unknown => ({
  added_tokens: [special(260, "<|endoftext|>"), special(261, "<mask>", { lstrip: true, special: false }), special(262, "<|x|>", { rstrip: true })],
  normalizer: { type: "NFC" },
  pre_tokenizer: pre,
  decoder: { type: "ByteLevel", add_prefix_space: true, trim_offsets: true, use_regex: true },
  model: { type: "BPE", vocab: Object.fromEntries(blPieces.map((p, i) => [p, i])), merges: [["Ġ", "t"], ["h", "e"], ["Ġt", "he"], ["1", "2"]], ignore_merges: false },
  ...extra,
});

test("byte-level BPE: ByteLevel with add_prefix_space, merges as pairs, NFC", () => {
  const t = tokenizerFromJson(writeJson(blJson({ type: "ByteLevel", add_prefix_space: true, trim_offsets: true, use_regex: true })));
  assert.equal(t.kind, "bpe");
  assert.deepEqual(t.encode("the"), [258]); // prefix space added: "Ġthe"
  assert.deepEqual(t.encode("e\u0301", { addSpecial: false }), [0x20, 0xc3, 0xa9]); // NFC makes é, then bytes
  assert.equal(t.decode([258, 0xc3, 0xa9]), " theé");
});

test("Split + Digits pre-tokenizers and added tokens with lstrip / rstrip", () => {
  const pre = { type: "Sequence", pretokenizers: [
    { type: "Split", pattern: { Regex: String.raw`\s+|[^\s]+` }, behavior: "Isolated", invert: false },
    { type: "Digits", individual_digits: true },
    { type: "ByteLevel", add_prefix_space: false, trim_offsets: false, use_regex: false },
  ] };
  const t = tokenizerFromJson(writeJson(blJson(pre)));
  assert.deepEqual(t.encode("a12", { addSpecial: false }), [0x61, 0x31, 0x32]); // digits split: no "12" merge
  assert.deepEqual(t.encode("a  <mask>", { addSpecial: false }), [0x61, 261]); // lstrip eats the spaces
  assert.deepEqual(t.encode("<|x|>  a", { addSpecial: false }), [262, 0x61]); // rstrip eats the spaces
  assert.deepEqual(t.encode("<|x|>a", { addSpecial: false, parseSpecial: false }).includes(262), false);
  assert.deepEqual(t.encode("<mask>", { addSpecial: false, parseSpecial: false }), [261]); // not special: always matched
  assert.equal(t.eosId, 260); // guessed from <|endoftext|>
});

// ---- WordPiece ----
test("WordPiece (BERT): normalizer, punctuation split, ## continuations, [UNK], [CLS] ... [SEP]", () => {
  const pieces = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "hello", "world", ",", "!", "he", "##llo", "wo", "##r", "##ld", "cafe"];
  const json = {
    added_tokens: [special(0, "[PAD]"), special(1, "[UNK]"), special(2, "[CLS]"), special(3, "[SEP]")],
    normalizer: { type: "BertNormalizer", clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: true },
    pre_tokenizer: { type: "BertPreTokenizer" },
    post_processor: { type: "TemplateProcessing", single: [{ SpecialToken: { id: "[CLS]", type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } }, { SpecialToken: { id: "[SEP]", type_id: 0 } }] },
    decoder: { type: "WordPiece", prefix: "##", cleanup: true },
    model: { type: "WordPiece", unk_token: "[UNK]", continuing_subword_prefix: "##", max_input_chars_per_word: 100, vocab: Object.fromEntries(pieces.map((p, i) => [p, i])) },
  };
  const t = tokenizerFromJson(writeJson(json));
  assert.equal(t.kind, "wpm");
  assert.deepEqual(t.encode("Hello, WORLD!  Café xyz"), [2, 4, 6, 5, 7, 13, 1, 3]);
  assert.deepEqual(t.encode("hello wo", { addSpecial: false }), [4, 10]);
  assert.deepEqual(t.encode("helloworld", { addSpecial: false }), [1]); // "hello" + "##w..." has no piece: [UNK]
  assert.equal(t.decode([2, 8, 9, 10, 11, 12, 3], { skipSpecial: true }), "hello world");
});

test("the qwen2 tokenizer.json: specials from the config, stop ids, added tokens", () => {
  const t = loadTokenizer(tok("qwen2"));
  assert.equal(t.kind, "bpe");
  assert.equal(t.vocabSize, 151669);
  assert.equal(t.bosId, undefined);
  assert.equal(t.eosId, 151645); // <|im_end|> from tokenizer_config.json
  assert.ok(t.stopIds.has(151645) && t.stopIds.has(151643));
  assert.deepEqual(t.encode("<|im_start|>user"), [151644, 872]);
  assert.deepEqual(t.encode("<think>", { parseSpecial: false }), [151667]); // not special: always an added token
  assert.equal(t.isControl(151644), true);
  assert.equal(t.isControl(151667), false);
  // loading the file directly (config found beside it) gives the same tokenizer
  const direct = loadTokenizer(path.join(tok("qwen2"), "tokenizer.json"));
  assert.equal(direct.eosId, 151645);
});
