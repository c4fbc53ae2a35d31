/** WordPiece from a GGUF ("bert", as llama.cpp converts it: "▁" marks word starts, continuations are bare). */
import { test } from "node:test";
import * as assert from "node:assert/strict";
import { tokenizerFromGguf } from "../../src/tokenizer/index.js";
import { memoryGguf } from "./tokenizer-fixtures.js";

const pieces: string[] = ["[PAD]"];
for (let i = 1; i < 100; i++) pieces.push(`[unused${i}]`);
pieces.push("[UNK]", "[CLS]", "[SEP]", "[MASK]");
const words = ["▁hello", "▁world", "▁,", "▁!", "▁fu", "hrer", "▁我", "▁333", "3", "▁~", "▁ie", "d"];
pieces.push(...words);
const id = (p: string): number => pieces.indexOf(p);
const bert = memoryGguf({
  "tokenizer.ggml.model": "bert",
  "tokenizer.ggml.tokens": pieces,
  "tokenizer.ggml.token_type": pieces.map((p) => (p.startsWith("[") ? 3 : 1)),
  "tokenizer.ggml.scores": pieces.map(() => 0),
});

test("lowercases, strips accents, isolates punctuation and CJK, covers words greedily", () => {
  const t = tokenizerFromGguf(bert);
  assert.equal(t.kind, "wpm");
  assert.deepEqual(t.encode("Hello, WORLD!", { addSpecial: false }), [id("▁hello"), id("▁,"), id("▁world"), id("▁!")]);
  assert.deepEqual(t.encode("Führer", { addSpecial: false }), [id("▁fu"), id("hrer")]);
  assert.deepEqual(t.encode("我想", { addSpecial: false }), [id("▁我"), 100]);
  assert.deepEqual(t.encode("3333 ied", { addSpecial: false }), [id("▁333"), id("3"), id("▁ie"), id("d")]);
  assert.deepEqual(t.encode("hellox ~", { addSpecial: false }), [100, id("▁~")]); // uncoverable word: one [UNK]
  assert.deepEqual(t.encode("  \n\t ", { addSpecial: false }), []);
  assert.deepEqual(t.encode("a\u200db", { addSpecial: false }), [100]); // ZWJ is dropped, "ab" is unknown
});

test("adds [CLS] ... [SEP]; control tokens need parseSpecial; decoding joins words with spaces", () => {
  const t = tokenizerFromGguf(bert);
  const ids = t.encode("hello world");
  assert.deepEqual(ids, [101, id("▁hello"), id("▁world"), 102]);
  assert.deepEqual(t.encode("[MASK] hello", { addSpecial: false }), [103, id("▁hello")]);
  assert.equal(t.encode("[MASK]", { addSpecial: false, parseSpecial: false }).includes(103), false);
  assert.equal(t.decode(ids, { skipSpecial: true }), "hello world");
  assert.equal(t.decode([id("▁fu"), id("hrer")]), " fuhrer");
  assert.equal(t.bosId, 101);
});
