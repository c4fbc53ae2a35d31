/**
 * Synthetic models: random valid blocks of every type (decoded std and mean, determinism), preset
 * shapes against the real models' config.json, full tensor lists of the 1B presets (shapes and
 * types, without writing them), small files that load and run in Fennec, preset vocabularies, and
 * `fennec synth` itself.
 */
import { after, test } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { loadModel, loadTokenizer } from "../../src/index.js";
import { GgmlType, typeName } from "../../src/quant/formats.js";
import { dequantize } from "../../src/quant/dequant.js";
import { RANDOM_TYPES, randomTensorData } from "../../src/quant/random-blocks.js";
import { fileType } from "../../src/quant/file-types.js";
import { PRESETS, parameterCount, preset } from "../../src/models/presets.js";
import { synthesize, synthTensors, writeVocabOnly } from "../../src/models/synth.js";
import { ropeInvFreq } from "../../src/models/rope.js";
import { readGguf, readTensors } from "../../src/weights/gguf.js";
import { tokenizerFromJson } from "../../src/tokenizer/index.js";
import { sharedModels } from "../helpers/paths.js";
import { runCliSync } from "../helpers/run-cli.js";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "fennec-synth-"));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

// ---- random blocks ----

test("random tensors of every type decode to N(0, std)-like weights: std within 10%, mean near 0, finite", () => {
  for (const type of RANDOM_TYPES) {
    const n = 256 * 512;
    for (const std of [0.02, 0.002]) {
      const x = new Float32Array(n);
      dequantize(type, randomTensorData(type, n, std, 42), n, x);
      let s1 = 0;
      let s2 = 0;
      for (const v of x) {
        assert.ok(Number.isFinite(v), typeName(type));
        s1 += v;
        s2 += v * v;
      }
      const mean = s1 / n;
      const got = Math.sqrt(s2 / n - mean * mean);
      assert.ok(Math.abs(got / std - 1) < 0.1, `${typeName(type)} std ${std}: got ${got}`);
      assert.ok(Math.abs(mean) < 0.05 * std, `${typeName(type)} mean ${mean}`);
    }
  }
});

test("random tensors are deterministic in the seed; Q8_0 quants avoid -128 as ggml's quantizer does", () => {
  const a = randomTensorData(GgmlType.Q4_K, 4096, 0.02, 7);
  assert.deepEqual(randomTensorData(GgmlType.Q4_K, 4096, 0.02, 7), a);
  assert.notDeepEqual(randomTensorData(GgmlType.Q4_K, 4096, 0.02, 8), a);
  const q8 = randomTensorData(GgmlType.Q8_0, 32 * 1000, 0.02, 1);
  for (let b = 0; b < 1000; b++) for (let j = 2; j < 34; j++) assert.notEqual(q8[34 * b + j], 0x80);
  assert.throws(() => randomTensorData(GgmlType.Q4_K, 100, 0.02, 1), /not a multiple of the Q4_K block size/);
});

// ---- presets ----

test("presets have the real models' shapes (config.json of each model)", () => {
  const want: Record<string, [string, number, number, number, number, number, number, number, number, number, number, boolean, boolean]> = {
    // arch, hidden, intermediate, layers, heads, kv heads, head dim, vocab, ctx, theta, eps, tied, qkv bias
    "smollm2-135m": ["llama", 576, 1536, 30, 9, 3, 64, 49152, 8192, 100000, 1e-5, true, false],
    "qwen2.5-0.5b": ["qwen2", 896, 4864, 24, 14, 2, 64, 151936, 32768, 1e6, 1e-6, true, true],
    "llama-3.2-1b": ["llama", 2048, 8192, 16, 32, 8, 64, 128256, 131072, 500000, 1e-5, true, false],
    "tinyllama-1.1b": ["llama", 2048, 5632, 22, 32, 4, 64, 32000, 2048, 10000, 1e-5, false, false],
  };
  for (const [name, w] of Object.entries(want)) {
    const c = preset(name)!.config;
    assert.deepEqual([c.arch, c.dim, c.hiddenDim, c.numLayers, c.numHeads, c.numKvHeads, c.headDim, c.vocabSize, c.contextLength,
      c.ropeTheta, c.normEps, c.tiedEmbeddings, c.hasQkvBias], w, name);
  }
  assert.deepEqual(preset("llama-3.2-1b")!.config.ropeScaling, { type: "llama3", factor: 32, lowFreqFactor: 1, highFreqFactor: 4, originalContextLength: 8192 });
  // Parameter counts as published: 135M, 0.49B, 1.24B, 1.1B.
  const params = (name: string): number => parameterCount(preset(name)!.config) / 1e6;
  assert.equal(Math.round(params("smollm2-135m")), 135);
  assert.equal(Math.round(params("qwen2.5-0.5b")), 494);
  assert.equal(Math.round(params("llama-3.2-1b")), 1236);
  assert.equal(Math.round(params("tinyllama-1.1b")), 1100);
  for (const p of PRESETS) {
    assert.equal(p.config.headDim * p.config.numHeads, p.config.dim, p.name);
    assert.equal(p.config.numHeads % p.config.numKvHeads, 0, p.name);
  }
});

test("llama-3.2-1b q4_k_m tensor list (not written): shapes, llama.cpp's mix, rope_freqs giving Llama-3 scaling", () => {
  const p = preset("llama-3.2-1b")!;
  const ts = synthTensors(p, p.config, fileType("q4_k_m")!, false);
  assert.equal(ts.length, 1 + 16 * 9 + 1 + 1); // embeddings, 16 layers, output_norm, rope_freqs (tied: no output.weight)
  const byName = new Map(ts.map((t) => [t.name, t]));
  assert.deepEqual(byName.get("token_embd.weight")?.dims, [2048, 128256]);
  assert.equal(typeName(byName.get("token_embd.weight")!.type), "Q6_K"); // tied: it is the output
  assert.deepEqual(byName.get("blk.0.attn_k.weight")?.dims, [2048, 512]);
  assert.deepEqual(byName.get("blk.0.ffn_down.weight")?.dims, [8192, 2048]);
  const count: Record<string, number> = {};
  for (const t of ts) count[typeName(t.type)] = (count[typeName(t.type)] ?? 0) + 1;
  // use_more_bits(i, 16): layers 0, 1, 4, 7, 10, 13, 14, 15 get Q6_K attn_v and ffn_down.
  assert.deepEqual(count, { Q6_K: 1 + 2 * 8, Q4_K: 16 * 7 - 2 * 8, F32: 16 * 2 + 2 });
  // rope_freqs divides the plain frequencies into HF's llama3 ones.
  const fill = byName.get("rope_freqs.weight")!.fill;
  assert.equal(fill.kind, "data");
  const factors = fill.kind === "data" ? new Float32Array(fill.data.buffer, fill.data.byteOffset, 32) : new Float32Array(0);
  const viaTensor = ropeInvFreq({ ...p.config, ropeScaling: { type: "none" } }, factors);
  const viaConfig = ropeInvFreq(p.config);
  for (let j = 0; j < 32; j++) assert.ok(Math.abs((viaTensor[j] as number) / (viaConfig[j] as number) - 1) < 1e-6, `frequency ${j}`);
});

test("qwen2.5-0.5b q4_k_m tensor list: QKV biases F32, 896-wide rows fall back to Q5_0 / Q8_0 as in llama.cpp's files", () => {
  const p = preset("qwen2.5-0.5b")!;
  const ts = synthTensors(p, p.config, fileType("q4_k_m")!, false);
  const type = (name: string): string => typeName(ts.find((t) => t.name === name)!.type);
  assert.equal(type("token_embd.weight"), "Q8_0");
  assert.equal(type("blk.0.attn_q.bias"), "F32");
  assert.equal(type("blk.3.attn_q.weight"), "Q5_0");
  assert.equal(type("blk.0.attn_v.weight"), "Q8_0");
  assert.equal(type("blk.3.ffn_down.weight"), "Q4_K");
  assert.equal(type("blk.0.ffn_down.weight"), "Q6_K");
});

// ---- files ----

test("tiny q8_0: a few MB, loads and runs in Fennec, deterministic, metadata of the preset", async () => {
  const a = path.join(tmp, "tiny-a.gguf");
  const b = path.join(tmp, "tiny-b.gguf");
  const r = await synthesize("tiny", a, { type: "q8_0", seed: 5 });
  await synthesize("tiny", b, { type: "q8_0", seed: 5 });
  assert.deepEqual(fs.readFileSync(a), fs.readFileSync(b));
  assert.ok(r.bytes < 8e6, `${r.bytes} bytes`);
  const file = readGguf(a);
  assert.equal(file.metadata.get("general.architecture"), "llama");
  assert.equal(file.metadata.get("general.file_type"), 7);
  assert.equal(file.metadata.get("llama.embedding_length"), 256);
  assert.equal((file.metadata.get("tokenizer.ggml.tokens") as string[]).length, 4096);
  const m = await loadModel(a, { backend: "reference" });
  assert.equal(m.config.vocabSize, 4096);
  const ids: number[] = [];
  for await (const c of m.generate("Once upon a time", { maxTokens: 8, temperature: 0, ignoreEos: true })) if (c.tokenId !== undefined) ids.push(c.tokenId);
  assert.equal(ids.length, 8);
  assert.equal(m.tokenizer.decode(m.tokenizer.encode("Hello world"), { skipSpecial: true }), "Hello world");
});

test("layers override and tiny-qwen2 (tied, QKV bias): every layer's tensors, logits finite", async () => {
  const out = path.join(tmp, "qwen2-1layer.gguf");
  await synthesize("tiny-qwen2", out, { type: "q4_k_m", numLayers: 1 });
  const tensors = readTensors(readGguf(out));
  assert.ok(tensors.has("blk.0.attn_k.bias"));
  assert.ok(!tensors.has("blk.1.attn_q.weight"));
  assert.ok(!tensors.has("output.weight"));
  const m = await loadModel(out, { backend: "reference" });
  const positions = Int32Array.of(0, 1, 2);
  const logits = m.model.forward({ tokenIds: Int32Array.of(1, 2, 3), positions, slotMapping: positions,
    seqs: [{ queryStart: 0, queryLen: 3, contextLen: 3, blockTable: Int32Array.of(0) }], logitIndices: Int32Array.of(2) }, m.model.createKvCache(1, 16));
  assert.ok(logits.every(Number.isFinite));
});

test("preset vocabularies: qwen2.5 is the Qwen2 tokenizer (llama.cpp's cases), the others load with the right size", async () => {
  for (const p of PRESETS) {
    const out = path.join(tmp, `${p.name}-vocab.gguf`);
    await writeVocabOnly(p.name, out);
    const tok = loadTokenizer(out);
    assert.equal(tok.vocabSize, p.config.vocabSize, p.name);
    assert.equal(tok.decode(tok.encode("Hello world, 123!"), { skipSpecial: true }), "Hello world, 123!", p.name);
  }
  const qwen = loadTokenizer(path.join(tmp, "qwen2.5-0.5b-vocab.gguf"));
  const ref = tokenizerFromJson(path.join(sharedModels, "tokenizers", "qwen2", "tokenizer.json"));
  for (const text of ["Hello world", " multiple   spaces\n\n", "数字 12345 and émojis 🦊", "<|im_start|>user\nhi<|im_end|>"]) {
    assert.deepEqual(qwen.encode(text, { addSpecial: false }), ref.encode(text, { addSpecial: false }), text);
  }
  const llama3 = loadTokenizer(path.join(tmp, "llama-3.2-1b-vocab.gguf"));
  assert.deepEqual(llama3.encode("<|begin_of_text|>hi<|eot_id|>", { addSpecial: false }).filter((id) => id >= 128000), [128000, 128009]);
  assert.ok(llama3.stopIds.has(128009));
});

// ---- CLI ----

const fennec = (...args: string[]): { code: number | null; stderr: string } => runCliSync(args);


test("fennec synth: writes the file and says what it is; bad preset / missing -o are one line, exit 1", () => {
  const out = path.join(tmp, "cli-tiny.gguf");
  const r = fennec("synth", "--preset", "tiny", "--type", "q4_0", "-o", out, "--seed", "3");
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /wrote .*cli-tiny\.gguf: synthetic tiny \(test model, Llama architecture\), llama, 4 layers, 5\.2M parameters, q4_0, [\d.]+ MB in [\d.]+ s/);
  assert.match(r.stderr, /vocabulary: Llama SentencePiece \(ggml-vocab-llama-spm\.gguf\), first 4096 pieces/);
  assert.equal(readGguf(out).metadata.get("general.file_type"), 2);
  const bad = fennec("synth", "--preset", "gpt-5", "--type", "q4_0", "-o", out);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /^fennec: preset: unknown preset "gpt-5" \(expected one of: smollm2-135m, qwen2\.5-0\.5b, llama-3\.2-1b, tinyllama-1\.1b, tiny, tiny-qwen2\)\n$/);
  const noOut = fennec("synth", "--preset", "tiny", "--type", "q4_0");
  assert.equal(noOut.code, 1);
  assert.match(noOut.stderr, /^fennec: -o: missing/);
});
