/** Bad, missing and unsupported tokenizer files: errors name the file, the field and what was expected. */
import { after, test } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { ModelFileError, UnsupportedError } from "../../src/errors.js";
import { loadTokenizer, tokenizerFromGguf, tokenizerFromJson, tokenizerFromLlama2c, tokenizerFromSentencePiece } from "../../src/tokenizer/index.js";
import { kv, writeGguf } from "../../src/weights/gguf-writer.js";
import { bpeGguf, memoryGguf, spmGguf, tempDir, tok } from "./tokenizer-fixtures.js";

const dir = tempDir("fennec-tokerr-");
after(() => fs.rmSync(dir, { recursive: true, force: true }));
const file = (name: string, content: string | Uint8Array): string => {
  const p = path.join(dir, name);
  fs.writeFileSync(p, content);
  return p;
};

function fails(fn: () => unknown, cls: typeof ModelFileError, field: string | RegExp, message: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof cls, `expected ${cls.name}, got ${String(e)}`);
    if (typeof field === "string") assert.equal(e.field, field);
    else assert.match(e.field, field);
    assert.match(e.message, message);
    return true;
  });
}

test("missing paths and directories without tokenizer.json", () => {
  fails(() => loadTokenizer(path.join(dir, "nope.gguf")), ModelFileError, "file", /nope\.gguf: file: cannot open: ENOENT/);
  fails(() => loadTokenizer(dir), ModelFileError, "tokenizer.json", /has no tokenizer\.json/);
  fails(() => tokenizerFromJson(path.join(dir, "missing.json")), ModelFileError, "file", /cannot read/);
});

test("GGUF: missing or malformed tokenizer metadata", () => {
  fails(() => tokenizerFromGguf(memoryGguf({})), ModelFileError, "tokenizer.ggml.model", /missing/);
  fails(() => tokenizerFromGguf(memoryGguf({ "tokenizer.ggml.model": "t5" })), UnsupportedError, "tokenizer.ggml.model", /"t5" is not supported \(expected one of llama, gpt2, bert/);
  fails(() => tokenizerFromGguf(memoryGguf({ "tokenizer.ggml.model": "llama" })), ModelFileError, "tokenizer.ggml.tokens", /missing/);
  fails(() => tokenizerFromGguf(memoryGguf({ "tokenizer.ggml.model": "llama", "tokenizer.ggml.tokens": ["a", 3] })), ModelFileError, "tokenizer.ggml.tokens", /element 1 .* expected a string/);
  fails(() => tokenizerFromGguf(memoryGguf({ "tokenizer.ggml.model": "llama", "tokenizer.ggml.tokens": ["a", "b"], "tokenizer.ggml.scores": [0] })), ModelFileError, "tokenizer.ggml.scores", /has 1 entries, expected 2/);
  fails(() => tokenizerFromGguf(memoryGguf({ "tokenizer.ggml.model": "gpt2", "tokenizer.ggml.tokens": ["a"] })), ModelFileError, "tokenizer.ggml.merges", /missing/);
  const noBos = bpeGguf(["a a"], [], { "tokenizer.ggml.add_bos_token": true });
  fails(() => tokenizerFromGguf(noBos), ModelFileError, "tokenizer.ggml.add_bos_token", /bos_token_id is missing/);
});

test("GGUF: an unknown tokenizer.ggml.pre warns once on stderr and uses the default", () => {
  const lines: string[] = [];
  const orig = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((chunk: string | Uint8Array): boolean => { lines.push(String(chunk)); return true; }) as typeof process.stderr.write;
  try {
    const f = bpeGguf(["a a"], [], { "tokenizer.ggml.pre": "brand-new-model" });
    tokenizerFromGguf(f);
    tokenizerFromGguf(f);
  } finally {
    process.stderr.write = orig;
  }
  assert.equal(lines.length, 1);
  assert.match(lines[0] as string, /tokenizer\.ggml\.pre: unknown pre-tokenizer "brand-new-model"; using the default/);
});

test("GGUF files on disk: detected by magic; a truncated file is reported by the reader", () => {
  const src = spmGguf([["▁a", -1]]);
  const p = path.join(dir, "vocab.gguf");
  writeGguf(p, {
    metadata: [
      kv.str("tokenizer.ggml.model", "llama"),
      kv.strs("tokenizer.ggml.tokens", src.metadata.get("tokenizer.ggml.tokens") as string[]),
      kv.f32s("tokenizer.ggml.scores", src.metadata.get("tokenizer.ggml.scores") as number[]),
      kv.i32s("tokenizer.ggml.token_type", src.metadata.get("tokenizer.ggml.token_type") as number[]),
    ],
    tensors: [],
  });
  const t = loadTokenizer(p);
  assert.deepEqual(t.encode("a"), [1, 259]);
  const bytes = fs.readFileSync(p);
  const cut = file("cut.gguf", bytes.subarray(0, bytes.length - 20));
  assert.throws(() => loadTokenizer(cut), ModelFileError);
});

test("llama2.c tokenizer.bin: bad header, truncated entries", () => {
  const good = fs.readFileSync(tok("llama2-tokenizer.bin"));
  fails(() => tokenizerFromLlama2c(file("tiny.bin", new Uint8Array([1, 0]))), ModelFileError, "max_token_length", /too small/);
  fails(() => tokenizerFromLlama2c(file("neg.bin", new Uint8Array([0xff, 0xff, 0xff, 0xff]))), ModelFileError, "max_token_length", /expected a positive int32/);
  fails(() => tokenizerFromLlama2c(file("trunc.bin", good.subarray(0, 1000))), ModelFileError, /^token \d+$/, /truncated|invalid/);
  const headerOnly = Buffer.alloc(4);
  headerOnly.writeInt32LE(16);
  fails(() => tokenizerFromLlama2c(file("empty.bin", headerOnly)), ModelFileError, "tokens", /expected at least 3/);
  // Through loadTokenizer, an unrecognised file is tried as llama2.c.
  fails(() => loadTokenizer(file("junk.dat", "\x00\x00\x00\x00junk")), ModelFileError, "max_token_length", /not a llama2\.c tokenizer/);
});

test("tokenizer.json: invalid JSON, unsupported models and components", () => {
  fails(() => loadTokenizer(file("bad.json", "{ not json")), ModelFileError, "json", /not valid JSON/);
  fails(() => loadTokenizer(file("list.json", "[1, 2]")), ModelFileError, "json", /expected a JSON object/);
  const vocab = { a: 0, b: 1 };
  fails(() => tokenizerFromJson(file("uni.json", JSON.stringify({ model: { type: "Unigram", vocab: [] } }))), UnsupportedError, "model.type", /"Unigram" models are not supported/);
  fails(() => tokenizerFromJson(file("novocab.json", JSON.stringify({ model: { type: "BPE", merges: [] } }))), ModelFileError, "model.vocab", /expected an object/);
  fails(() => tokenizerFromJson(file("pre.json", JSON.stringify({ pre_tokenizer: { type: "Sequence", pretokenizers: [{ type: "Fancy" }] }, model: { type: "BPE", vocab, merges: [] } }))),
    UnsupportedError, "pre_tokenizer.pretokenizers[0].type", /"Fancy" is not supported/);
  fails(() => tokenizerFromJson(file("merge.json", JSON.stringify({ model: { type: "BPE", vocab, merges: ["ab"] } }))), ModelFileError, "model.merges[0]", /expected "left right"/);
  fails(() => tokenizerFromJson(file("re.json", JSON.stringify({ pre_tokenizer: { type: "Split", pattern: { Regex: "(?<=" }, behavior: "Isolated" }, model: { type: "BPE", vocab, merges: [] } }))),
    UnsupportedError, "pre_tokenizer.pattern.Regex", /cannot use the regex/);
});

test("SentencePiece .model: truncated protobuf, unigram models", () => {
  const good = fs.readFileSync(tok("llama2-tokenizer.model"));
  fails(() => tokenizerFromSentencePiece(file("cut.model", good.subarray(0, 5000))), ModelFileError, /^(ModelProto|pieces)$/, /runs past the end|truncated/);
  // one piece "a", then trainer_spec { model_type: UNIGRAM }
  const unigram = Uint8Array.from([0x0a, 0x03, 0x0a, 0x01, 0x61, 0x12, 0x02, 0x18, 0x01]);
  fails(() => loadTokenizer(file("uni.model", unigram)), UnsupportedError, "trainer_spec.model_type", /unigram models are not supported/);
});

test("bad arguments", () => {
  const t = tokenizerFromGguf(spmGguf([["▁a", -1]]));
  assert.throws(() => t.encode(42 as unknown as string), /text: expected a string/);
  assert.throws(() => t.tokenText(-1), /outside the vocabulary/);
  assert.throws(() => t.tokenText(1.5), /outside the vocabulary/);
});
