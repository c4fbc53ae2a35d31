import { after, test } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { loadLlama2c } from "../../src/weights/llama2c.js";
import { readGguf, readTensors } from "../../src/weights/gguf.js";
import { GgmlType } from "../../src/quant/formats.js";
import { ModelFileError, UnsupportedError } from "../../src/errors.js";
import { makeTempDir } from "../helpers/hf-fixture.js";
import { stories } from "../helpers/paths.js";

const tmp = makeTempDir("fennec-llama2c-");
const tmpFile = (name: string): string => path.join(tmp, name);
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const BIN = stories("stories260K.bin");
const BIN_SIZE = 1056540;

test("stories260K.bin: config from the header", () => {
  const m = loadLlama2c(BIN);
  assert.equal(m.format, "llama2c");
  assert.equal(m.path, BIN);
  assert.deepEqual({ ...m.config }, {
    arch: "llama",
    vocabSize: 512,
    dim: 64,
    hiddenDim: 172,
    numLayers: 5,
    numHeads: 8,
    numKvHeads: 4,
    headDim: 8,
    contextLength: 512,
    normEps: 1e-5,
    ropeTheta: 10000,
    ropeDim: 8,
    ropeStyle: "norm",
    ropeScaling: { type: "none" },
    tiedEmbeddings: true,
    hasQkvBias: false,
  });
  assert.ok(Object.isFrozen(m.config));
  assert.equal(m.tokenizerSource, undefined);
  assert.equal(m.chatTemplate, undefined);
  assert.deepEqual(m.generationDefaults, {});
  assert.equal(m.getTensor("output.weight"), undefined, "tied: no separate classifier");
  assert.equal(m.getTensor("nope"), undefined);
});

test("stories260K.bin: every tensor equals the same-named tensor of stories260K.gguf, byte for byte", () => {
  const m = loadLlama2c(BIN);
  const gguf = readGguf(stories("stories260K.gguf"));
  const ref = readTensors(gguf);
  // The GGUF stores the (shared) classifier as output.weight: it must be the embedding.
  assert.deepEqual(ref.get("output.weight")?.data, ref.get("token_embd.weight")?.data);
  const expectedNames = [...ref.keys()].filter((n) => n !== "output.weight").sort();
  assert.deepEqual(m.tensorInfos.map((t) => t.name).sort(), expectedNames);
  assert.equal(m.tensorInfos.length, 2 + 5 * 9);
  for (const info of m.tensorInfos) {
    const want = ref.get(info.name);
    assert.ok(want, info.name);
    assert.equal(info.type, GgmlType.F32);
    assert.deepEqual(info.dims, want.dims, `${info.name} dims`);
    const got = m.getTensor(info.name);
    assert.ok(got, info.name);
    assert.equal(got.name, info.name);
    assert.equal(got.type, GgmlType.F32);
    assert.deepEqual(got.dims, want.dims, `${info.name} dims`);
    assert.ok(Buffer.from(got.data).equals(Buffer.from(want.data)), `${info.name} bytes`);
    assert.equal(got.data.buffer.byteLength, got.data.byteLength, `${info.name}: its own off-heap buffer`);
    assert.equal(m.getTensor(info.name), got, "read once, then cached");
  }
});

test("tokenizer path: passed through as a llama2c tokenizer source; a missing one fails clearly", () => {
  const tok = stories("tok512.bin");
  const m = loadLlama2c(BIN, tok);
  assert.deepEqual(m.tokenizerSource, { kind: "llama2c", path: tok });
  assert.throws(() => loadLlama2c(BIN, tmpFile("missing-tok.bin")), /missing-tok\.bin: file: no such file/);
});

test("truncated or padded file: expected N bytes for this header, got M", () => {
  const bytes = fs.readFileSync(BIN);
  assert.equal(bytes.length, BIN_SIZE);
  const cut = tmpFile("truncated.bin");
  fs.writeFileSync(cut, bytes.subarray(0, BIN_SIZE - 4000));
  assert.throws(() => loadLlama2c(cut), (e: unknown) => {
    assert.ok(e instanceof ModelFileError);
    assert.equal(e.field, "size");
    assert.match(e.message, /truncated\.bin: size: expected 1056540 bytes for this header \(dim 64, hidden_dim 172, n_layers 5, n_heads 8, n_kv_heads 4, vocab_size 512, seq_len 512\), got 1052540: truncated/);
    return true;
  });
  const padded = tmpFile("padded.bin");
  fs.writeFileSync(padded, Buffer.concat([bytes, Buffer.alloc(4)]));
  assert.throws(() => loadLlama2c(padded), /padded\.bin: size: expected 1056540 bytes .* got 1056544: corrupt \(trailing bytes\)/);
  const tiny = tmpFile("tiny.bin");
  fs.writeFileSync(tiny, bytes.subarray(0, 10));
  assert.throws(() => loadLlama2c(tiny), /tiny\.bin: header: file is 10 bytes, too small/);
});

test("bad headers name the field", () => {
  const header = (vals: number[]): string => {
    const b = Buffer.alloc(28 + 64);
    vals.forEach((v, i) => b.writeInt32LE(v, 4 * i));
    const p = tmpFile(`h${vals.join("_")}.bin`);
    fs.writeFileSync(p, b);
    return p;
  };
  assert.throws(() => loadLlama2c(header([0, 1, 1, 1, 1, 1, 1])), /header dim: expected a positive integer, got 0/);
  assert.throws(() => loadLlama2c(header([64, 172, 5, 8, 4, 0, 512])), /header vocab_size: expected a positive integer/);
  assert.throws(() => loadLlama2c(header([64, 172, 5, 7, 7, 512, 512])), /header n_heads: dim 64 must split into 7 heads/);
  assert.throws(() => loadLlama2c(header([64, 172, 5, 8, 3, 512, 512])), /header n_kv_heads: n_heads 8 must be a multiple of n_kv_heads 3/);
  assert.throws(() => loadLlama2c(header([0x616b3432, 1, 0, 0, 0, 0, 0])), (e: unknown) =>
    e instanceof UnsupportedError && /llama2\.c export version 1 \(magic "ak42"\) is not supported/.test(e.message));
  assert.throws(() => loadLlama2c(tmpFile("none.bin")), /none\.bin: file: no such file/);
});

test("negative vocab_size: an unshared classifier follows the weights (output.weight)", () => {
  // dim 4, hidden 6, 1 layer, 2 heads, 1 kv head (head 2, kv_dim 2), vocab 3 (unshared), seq_len 2.
  const [dim, hidden, layers, heads, kvHeads, vocab, seqLen] = [4, 6, 1, 2, 1, 3, 2];
  const kvDim = 2;
  const sizes = [vocab * dim, dim, dim * dim, kvDim * dim, kvDim * dim, dim * dim, dim, hidden * dim, dim * hidden, hidden * dim, dim,
    seqLen * 1, seqLen * 1, vocab * dim];
  const total = sizes.reduce((a, b) => a + b, 0);
  const body = new Float32Array(total).map((_, i) => i);
  const head = Buffer.alloc(28);
  [dim, hidden, layers, heads, kvHeads, -vocab, seqLen].forEach((v, i) => head.writeInt32LE(v, 4 * i));
  const p = tmpFile("unshared.bin");
  fs.writeFileSync(p, Buffer.concat([head, Buffer.from(body.buffer)]));
  const m = loadLlama2c(p);
  assert.equal(m.config.tiedEmbeddings, false);
  assert.equal(m.config.vocabSize, 3);
  assert.equal(m.info["sharedClassifier"], false);
  const out = m.getTensor("output.weight");
  assert.ok(out);
  assert.deepEqual(out.dims, [dim, vocab]);
  const outVals = new Float32Array(out.data.buffer, out.data.byteOffset, vocab * dim);
  assert.deepEqual([...outVals], Array.from({ length: vocab * dim }, (_, i) => total - vocab * dim + i));
  const k = m.getTensor("blk.0.attn_k.weight");
  assert.ok(k);
  assert.deepEqual(k.dims, [dim, kvDim]);
  const kStart = vocab * dim + dim + dim * dim;
  assert.equal(new Float32Array(k.data.buffer, k.data.byteOffset, 1)[0], kStart);
  const down = m.getTensor("blk.0.ffn_down.weight");
  assert.deepEqual(down?.dims, [hidden, dim]);
});
