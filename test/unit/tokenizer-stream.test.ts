/** Streaming detokenization: never a broken UTF-8 character, SentencePiece leading space after BOS. */
import { test } from "node:test";
import * as assert from "node:assert/strict";
import { loadTokenizer, type Tokenizer } from "../../src/tokenizer/index.js";
import { readVocabCases, tok } from "./tokenizer-fixtures.js";

const spm = loadTokenizer(tok("ggml-vocab-llama-spm.gguf"));
const gpt2 = loadTokenizer(tok("ggml-vocab-gpt-2.gguf"));
const qwen2 = loadTokenizer(tok("qwen2"));

function streamPieces(t: Tokenizer, ids: readonly number[], skipSpecial = false): string[] {
  const d = t.createStreamDecoder({ skipSpecial });
  const out = ids.map((id) => d.push(id));
  out.push(d.flush());
  return out;
}

test("an emoji split over SentencePiece byte tokens comes out whole, on its last byte", () => {
  const ids = spm.encode("🦙", { addSpecial: false });
  assert.deepEqual(ids, [29871, 243, 162, 169, 156]); // "▁", then <0xF0> <0x9F> <0xA6> <0x99>
  assert.deepEqual(streamPieces(spm, ids), [" ", "", "", "", "🦙", ""]);
});

test("CJK and Khmer over byte tokens", () => {
  const text = "在apple工作 កាន់តែ";
  const ids = spm.encode(text);
  const pieces = streamPieces(spm, ids);
  assert.equal(pieces.join(""), "<s>" + text);
  for (const p of pieces) assert.ok(!p.includes("\uFFFD"), `broken character in ${JSON.stringify(p)}`);
});

test("byte-level BPE pieces that cut a character in the middle are held back (gpt-2, qwen2)", () => {
  for (const t of [gpt2, qwen2]) {
    const text = "this is 🦙.cpp 我想在apple工作1314151天～ 😶‍🌫️";
    const ids = t.encode(text, { addSpecial: false });
    const pieces = streamPieces(t, ids);
    assert.equal(pieces.join(""), text);
    for (const p of pieces) assert.ok(!p.includes("\uFFFD"), `broken character in ${JSON.stringify(p)}`);
    assert.ok(pieces.some((p) => p === ""), "some token should have been held back");
  }
});

test("flush turns an incomplete tail into U+FFFD; invalid bytes do not stall the stream", () => {
  const d = spm.createStreamDecoder();
  assert.equal(d.push(3 + 0xf0), "");
  assert.equal(d.push(3 + 0x9f), "");
  assert.equal(d.flush(), "\uFFFD");
  const d2 = spm.createStreamDecoder();
  assert.equal(d2.push(3 + 0xff), "\uFFFD"); // 0xFF can never start a character
  assert.equal(d2.push(3 + 0x41), "A");
});

test("leading space: dropped after a leading BOS, kept in a continuation", () => {
  const withBos = spm.encode("Hello world");
  assert.deepEqual(streamPieces(spm, withBos), ["<s>", "Hello", " world", ""]);
  assert.deepEqual(streamPieces(spm, withBos, true), ["", "Hello", " world", ""]);
  const generated = spm.encode("Once upon a time", { addSpecial: false }).slice(1); // "▁upon", "▁a", "▁time"
  assert.equal(streamPieces(spm, generated).join(""), " upon a time");
  assert.equal(streamPieces(spm, spm.encode("Hello", { addSpecial: false })).join(""), " Hello");
  // Byte-level BPE never drops a space.
  assert.equal(streamPieces(qwen2, qwen2.encode(" Hello")).join(""), " Hello");
});

test("skipSpecial drops control tokens from the stream", () => {
  const ids = qwen2.encode("<|im_start|>user\nHi<|im_end|>");
  assert.deepEqual(ids.slice(0, 1), [151644]);
  assert.equal(streamPieces(qwen2, ids).join(""), "<|im_start|>user\nHi<|im_end|>");
  assert.equal(streamPieces(qwen2, ids, true).join(""), "user\nHi");
});

test("streaming equals decode() on every case of every vocabulary", () => {
  const suites: [Tokenizer, string][] = [[spm, "ggml-vocab-llama-spm.gguf"], [gpt2, "ggml-vocab-gpt-2.gguf"], [qwen2, "ggml-vocab-qwen2.gguf"]];
  for (const [t, name] of suites) {
    for (const c of readVocabCases(tok(`${name}.inp`), tok(`${name}.out`))) {
      const ids = t.encode(c.input);
      assert.equal(streamPieces(t, ids).join(""), t.decode(ids), `${name} case #${c.index}`);
    }
  }
});
