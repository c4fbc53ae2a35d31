/** Byte-level BPE (GGUF "gpt2"): merge ranks, the byte alphabet, presets, added tokens, decoding. */
import { test } from "node:test";
import * as assert from "node:assert/strict";
import { tokenizerFromGguf, loadTokenizer } from "../../src/tokenizer/index.js";
import { BYTE_TO_CHAR, fromByteLevel, toByteLevel } from "../../src/tokenizer/byte-level.js";
import { bpeGguf, tok } from "./tokenizer-fixtures.js";

const MERGES = ["Ġ t", "h e", "Ġt he", "a a", "i n", "Ġ in"];
// bpeGguf ids: 0..255 are the byte characters in byte order; merged pieces follow in merge order.
const pieceIds = new Map<string, number>();
[...BYTE_TO_CHAR, ...MERGES.map((m) => m.replace(" ", ""))].forEach((p, i) => { if (!pieceIds.has(p)) pieceIds.set(p, i); });
const id = (p: string): number => {
  const v = pieceIds.get(p);
  if (v === undefined) throw new Error(`no piece ${p}`);
  return v;
};

test("the GPT-2 byte alphabet maps all 256 bytes to distinct printable characters and back", () => {
  assert.equal(new Set(BYTE_TO_CHAR).size, 256);
  assert.equal(BYTE_TO_CHAR[0x20], "Ġ");
  assert.equal(BYTE_TO_CHAR[0x0a], "Ċ");
  assert.equal(BYTE_TO_CHAR[0x41], "A");
  assert.equal(toByteLevel(" héllo\n"), "ĠhÃ©lloĊ");
  assert.deepEqual([...(fromByteLevel("ĠhÃ©lloĊ") ?? [])], [...Buffer.from(" héllo\n")]);
  assert.equal(fromByteLevel("<|im_start|>中"), undefined);
});

test("applies merges by rank, leftmost first among equals", () => {
  const t = tokenizerFromGguf(bpeGguf(MERGES));
  assert.equal(t.kind, "bpe");
  assert.deepEqual(t.encode(" the", { addSpecial: false }), [id("Ġthe")]);
  assert.deepEqual(t.encode("the", { addSpecial: false }), [id("t"), id("he")]);
  assert.deepEqual(t.encode("aaa", { addSpecial: false }), [id("aa"), id("a")]);
  assert.deepEqual(t.encode(" in", { addSpecial: false }), [id("Ġin")]);
  // The GPT-2 regex keeps "é" with its word; its two bytes are two byte tokens.
  assert.deepEqual(t.encode(" té", { addSpecial: false }), [id("Ġt"), 0xc3, 0xa9]);
});

test("ignore_merges presets (llama3) take a whole word that is a token as it is", () => {
  // "Ġin" (id 257) is a token, but no merge builds it: only "i n" -> "in" (id 256) exists.
  const special: [string, number][] = [["Ġin", 1]];
  const llama3 = tokenizerFromGguf(bpeGguf(["i n"], special, { "tokenizer.ggml.pre": "llama-bpe", "tokenizer.ggml.add_bos_token": false }));
  assert.deepEqual(llama3.encode(" in", { addSpecial: false }), [257]);
  const gpt2 = tokenizerFromGguf(bpeGguf(["i n"], special));
  assert.deepEqual(gpt2.encode(" in", { addSpecial: false }), [0x20, 256]); // "Ġ" + "in"
});

test("control and user-defined tokens; lstrip/rstrip do not apply by default", () => {
  const t = tokenizerFromGguf(bpeGguf(MERGES, [["<|endoftext|>", 3], ["<|im_start|>", 3], ["<tool>", 4]], { "tokenizer.ggml.eos_token_id": 256 + MERGES.length }));
  const eot = 256 + MERGES.length;
  const imStart = eot + 1;
  const tool = eot + 2;
  assert.deepEqual(t.encode("<|im_start|> the<|endoftext|>", { addSpecial: false }), [imStart, id("Ġthe"), eot]);
  const raw = t.encode("<|im_start|>", { addSpecial: false, parseSpecial: false });
  assert.ok(raw.length > 1 && !raw.includes(imStart));
  assert.deepEqual(t.encode("<tool>", { addSpecial: false, parseSpecial: false }), [tool]);
  assert.equal(t.eosId, eot);
  assert.ok(t.stopIds.has(eot));
  assert.equal(t.decode([imStart, id("Ġthe"), eot]), "<|im_start|> the<|endoftext|>");
  assert.equal(t.decode([imStart, id("Ġthe"), eot], { skipSpecial: true }), " the");
});

test("BOS is added only when the file asks for it", () => {
  const eot = 256 + MERGES.length;
  const plain = tokenizerFromGguf(bpeGguf(MERGES, [["<|endoftext|>", 3]], { "tokenizer.ggml.bos_token_id": eot }));
  assert.deepEqual(plain.encode(" the"), [id("Ġthe")]);
  const withBos = tokenizerFromGguf(bpeGguf(MERGES, [["<|endoftext|>", 3]], { "tokenizer.ggml.bos_token_id": eot, "tokenizer.ggml.add_bos_token": true }));
  assert.deepEqual(withBos.encode(" the"), [eot, id("Ġthe")]);
  // llama3 presets default to adding BOS
  const llama3 = tokenizerFromGguf(bpeGguf(MERGES, [["<|begin_of_text|>", 3]], { "tokenizer.ggml.pre": "llama3", "tokenizer.ggml.bos_token_id": eot }));
  assert.deepEqual(llama3.encode(" the"), [eot, id("Ġthe")]);
});

test("an unknown tokenizer.ggml.pre falls back to the default pre-tokenizer", () => {
  const t = tokenizerFromGguf(bpeGguf(MERGES, [], { "tokenizer.ggml.pre": "no-such-pre-tokenizer" }));
  assert.deepEqual(t.encode(" the", { addSpecial: false }), [id("Ġthe")]);
});

test("gpt-2 vocabulary: encodes and decodes text with emoji and CJK", () => {
  const t = loadTokenizer(tok("ggml-vocab-gpt-2.gguf"));
  assert.equal(t.vocabSize, 50257);
  assert.equal(t.bosId, 50256);
  assert.equal(t.eosId, 50256);
  assert.ok(t.stopIds.has(50256));
  assert.deepEqual(t.encode("Hello world"), [15496, 995]);
  const text = "Hello, y'all! 🦙 我想在apple工作 <|endoftext|>";
  const ids = t.encode(text);
  assert.equal(ids[ids.length - 1], 50256);
  assert.equal(t.decode(ids), text);
  assert.equal(t.tokenText(15496), "Hello");
  assert.equal(t.tokenText(220), " ");
});
