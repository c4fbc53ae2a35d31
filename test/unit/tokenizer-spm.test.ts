/** SentencePiece-style BPE (GGUF "llama" and llama2.c): scores, ▁, byte fallback, specials, decoding. */
import { test } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { tokenizerFromGguf, tokenizerFromLlama2c, loadTokenizer } from "../../src/tokenizer/index.js";
import { memoryGguf, spmGguf, storiesDir, tempDir, tok } from "./tokenizer-fixtures.js";

// spmGguf ids: 0 <unk>, 1 <s>, 2 </s>, 3..258 <0x00>..<0xFF>, then the pieces below from 259.
const FIRST = 259;
const PIECES: [string, number][] = [
  ["▁", -1], ["a", -2], ["b", -3], ["c", -4], ["x", -5], ["ab", -6], ["bc", -1.5], ["▁a", -2.5], ["▁ab", -7], ["aa", -8],
];
const id = (piece: string): number => FIRST + PIECES.findIndex(([p]) => p === piece);
const byteId = (b: number): number => 3 + b;

test("merges the highest-scoring pair first", () => {
  const t = tokenizerFromGguf(spmGguf(PIECES, { "tokenizer.ggml.add_space_prefix": false }));
  assert.deepEqual(t.encode("xabc", { addSpecial: false }), [id("x"), id("a"), id("bc")]); // bc (-1.5) beats ab (-6)
  const swapped = PIECES.map(([p, s]): [string, number] => [p, p === "ab" ? -1 : p === "bc" ? -6 : s]);
  const t2 = tokenizerFromGguf(spmGguf(swapped, { "tokenizer.ggml.add_space_prefix": false }));
  assert.deepEqual(t2.encode("xabc", { addSpecial: false }), [id("x"), id("ab"), id("c")]);
});

test("equal scores merge leftmost first", () => {
  const t = tokenizerFromGguf(spmGguf(PIECES, { "tokenizer.ggml.add_space_prefix": false }));
  assert.deepEqual(t.encode("aaa", { addSpecial: false }), [id("aa"), id("a")]);
});

test("adds a ▁ space prefix unless tokenizer.ggml.add_space_prefix is false", () => {
  const t = tokenizerFromGguf(spmGguf(PIECES));
  assert.deepEqual(t.encode("ab", { addSpecial: false }), [id("▁ab")]);
  assert.deepEqual(t.encode("a b", { addSpecial: false }), [id("▁a"), id("▁"), id("b")]);
  const noPrefix = tokenizerFromGguf(spmGguf(PIECES, { "tokenizer.ggml.add_space_prefix": false }));
  assert.deepEqual(noPrefix.encode("ab", { addSpecial: false }), [id("ab")]);
  assert.deepEqual(t.encode("", { addSpecial: false }), []);
});

test("characters without a token fall back to <0xNN> byte tokens", () => {
  const t = tokenizerFromGguf(spmGguf(PIECES));
  assert.deepEqual(t.encode("é", { addSpecial: false }), [id("▁"), byteId(0xc3), byteId(0xa9)]);
  assert.deepEqual(t.encode("a🦙", { addSpecial: false }), [id("▁a"), byteId(0xf0), byteId(0x9f), byteId(0xa6), byteId(0x99)]);
  assert.equal(t.decode(t.encode("a🦙é")), "<s>a🦙é");
});

test("without byte tokens an unknown character is <unk>", () => {
  const t = tokenizerFromGguf(memoryGguf({
    "tokenizer.ggml.model": "llama",
    "tokenizer.ggml.tokens": ["<unk>", "<s>", "</s>", "▁", "a"],
    "tokenizer.ggml.scores": [0, 0, 0, -1, -2],
    "tokenizer.ggml.token_type": [2, 3, 3, 1, 1],
  }));
  assert.deepEqual(t.encode("ab a", { addSpecial: false }), [3, 4, 0, 3, 4]);
  assert.equal(t.decode([3, 4, 0]), " a<unk>");
  assert.equal(t.decode([3, 4, 0], { skipSpecial: true }), " a");
});

test("control tokens are matched only with parseSpecial; user-defined tokens always", () => {
  const t = tokenizerFromGguf(spmGguf(PIECES, {}, [["<tag>", 4]]));
  const tag = FIRST + PIECES.length;
  // Each text fragment after a special token gets the space prefix again (as llama.cpp does).
  assert.deepEqual(t.encode("a<s>b", { addSpecial: false }), [id("▁a"), 1, id("▁"), id("b")]);
  const literal = t.encode("a<s>b", { addSpecial: false, parseSpecial: false });
  assert.ok(!literal.includes(1), "<s> must not become BOS without parseSpecial");
  assert.equal(t.decode(literal), " a<s>b");
  assert.deepEqual(t.encode("a<tag>b", { addSpecial: false, parseSpecial: false }), [id("▁a"), tag, id("▁"), id("b")]);
  assert.deepEqual(t.encode("<unk>", { addSpecial: false }), [0]);
});

test("addSpecial adds BOS (and EOS when tokenizer.ggml.add_eos_token)", () => {
  assert.deepEqual(tokenizerFromGguf(spmGguf(PIECES)).encode("ab"), [1, id("▁ab")]);
  assert.deepEqual(tokenizerFromGguf(spmGguf(PIECES)).encode(""), [1]);
  const withEos = tokenizerFromGguf(spmGguf(PIECES, { "tokenizer.ggml.add_eos_token": true }));
  assert.deepEqual(withEos.encode("ab"), [1, id("▁ab"), 2]);
  assert.deepEqual(withEos.encode("ab", { addSpecial: false }), [id("▁ab")]);
  const noBos = tokenizerFromGguf(spmGguf(PIECES, { "tokenizer.ggml.add_bos_token": false }));
  assert.deepEqual(noBos.encode("ab"), [id("▁ab")]);
});

test("special ids, stop ids and control flags come from the metadata", () => {
  const t = tokenizerFromGguf(spmGguf(PIECES, { "tokenizer.ggml.eot_token_id": FIRST + PIECES.length }, [["<|eot_id|>", 3]]));
  assert.equal(t.kind, "spm");
  assert.equal(t.bosId, 1);
  assert.equal(t.eosId, 2);
  assert.deepEqual([...t.stopIds].sort((x, y) => x - y), [2, FIRST + PIECES.length]);
  assert.equal(t.isControl(1), true);
  assert.equal(t.isControl(id("a")), false);
  assert.equal(t.isControl(-1), false);
  assert.equal(t.vocabSize, FIRST + PIECES.length + 1);
});

test("decode: ▁ is a space; the prefix space is dropped after a leading BOS only", () => {
  const t = tokenizerFromGguf(spmGguf(PIECES));
  assert.equal(t.decode([1, id("▁ab"), id("▁"), id("c")]), "<s>ab c");
  assert.equal(t.decode([1, id("▁ab")], { skipSpecial: true }), "ab");
  assert.equal(t.decode([id("▁ab")]), " ab"); // a continuation keeps its space
  assert.equal(t.decode([1, 1, id("▁ab"), 2], { skipSpecial: true }), "ab");
  assert.equal(t.decode([byteId(0xc3), byteId(0xa9)]), "é");
  assert.equal(t.decode([id("ab"), 99999, -5]), "ab"); // ids outside the vocabulary are ignored
});

test("tokenText shows a token's text; partial UTF-8 becomes U+FFFD", () => {
  const t = tokenizerFromGguf(spmGguf(PIECES));
  assert.equal(t.tokenText(id("▁ab")), " ab");
  assert.equal(t.tokenText(byteId(0x41)), "A");
  assert.equal(t.tokenText(byteId(0xc3)), "\uFFFD");
  assert.equal(t.tokenText(1), "<s>");
  assert.throws(() => t.tokenText(t.vocabSize), /outside the vocabulary/);
});

test("stories260K: the GGUF and llama2.c tok512.bin tokenize alike", () => {
  const gguf = loadTokenizer(path.join(storiesDir, "stories260K.gguf"));
  const bin = tokenizerFromLlama2c(path.join(storiesDir, "tok512.bin"));
  assert.equal(gguf.vocabSize, 512);
  assert.equal(bin.vocabSize, 512);
  for (const text of ["Once upon a time", "Lily and Tom went to the park. They saw a big dog!", "café 🦙\n"]) {
    const ids = gguf.encode(text);
    assert.deepEqual(bin.encode(text), ids, text);
    assert.equal(gguf.decode(ids, { skipSpecial: true }), text);
  }
});

test("a directory with only a SentencePiece tokenizer.model loads it", () => {
  const dir = tempDir("fennec-spmodel-");
  fs.copyFileSync(tok("llama2-tokenizer.model"), path.join(dir, "tokenizer.model"));
  const t = loadTokenizer(dir);
  const gguf = loadTokenizer(tok("ggml-vocab-llama-spm.gguf"));
  assert.equal(t.kind, "spm");
  assert.deepEqual(t.encode("Hello world 🦙"), gguf.encode("Hello world 🦙"));
  assert.equal(t.tokenText(15043), " Hello");
  fs.rmSync(dir, { recursive: true, force: true });
});
