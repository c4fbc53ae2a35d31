/**
 * Whole-model quantization: llama.cpp's per-tensor type rules, load-time quantization, GGUF files
 * written from GGUF, Hugging Face and llama2.c sources (read back bit for bit, same logits),
 * tokenizer.json -> GGUF tokenizer metadata, the worker pool, and `fennec quantize` itself.
 */
import { after, test } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { loadModel } from "../../src/index.js";
import { FILE_TYPES, chooseTensorType, fileType, useMoreBits } from "../../src/quant/file-types.js";
import { GgmlType, typeName } from "../../src/quant/formats.js";
import { planQuantization, quantizeModelFiles, writeQuantizedGguf } from "../../src/quant/model-quantize.js";
import { createQuantizePool } from "../../src/quant/quantize-pool.js";
import { quantize, quantizeRows } from "../../src/quant/quantize.js";
import { dequantize } from "../../src/quant/dequant.js";
import { readGguf, readTensors } from "../../src/weights/gguf.js";
import { writeGgufStreaming } from "../../src/weights/gguf-stream-writer.js";
import { openModelFiles } from "../../src/weights/load.js";
import { loadHfDirectory } from "../../src/weights/hf.js";
import { loadGgufModel } from "../../src/weights/gguf-model.js";
import { vocabFromTokenizerJson, vocabKvs } from "../../src/weights/tokenizer-gguf.js";
import { tokenizerFromGguf, tokenizerFromJson } from "../../src/tokenizer/index.js";
import type { ModelConfig } from "../../src/models/config.js";
import type { ModelFiles } from "../../src/weights/model-files.js";
import { buildStories260KHf } from "../helpers/hf-fixture.js";
import { STORIES_TOKENS, logitsOf } from "../helpers/forward.js";
import { runCliSync as fennecCli } from "../helpers/run-cli.js";
import { sharedModels, stories } from "../helpers/paths.js";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "fennec-model-quantize-"));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const STORIES = stories("stories260K.gguf");
const TOKENS = STORIES_TOKENS;
const fennecArgs = (...args: string[]): { code: number | null; stderr: string } => fennecCli(args);


function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs((a[i] as number) - (b[i] as number)));
  return m;
}

/** A ModelFiles with only names and shapes (for type planning; no tensor data). */
function shapesOnly(c: ModelConfig): ModelFiles {
  const q = c.numHeads * c.headDim;
  const kv = c.numKvHeads * c.headDim;
  const infos: { name: string; type: number; dims: number[] }[] = [{ name: "token_embd.weight", type: 0, dims: [c.dim, c.vocabSize] }];
  for (let i = 0; i < c.numLayers; i++) {
    const p = `blk.${i}.`;
    infos.push({ name: p + "attn_norm.weight", type: 0, dims: [c.dim] }, { name: p + "attn_q.weight", type: 0, dims: [c.dim, q] },
      { name: p + "attn_k.weight", type: 0, dims: [c.dim, kv] }, { name: p + "attn_v.weight", type: 0, dims: [c.dim, kv] },
      { name: p + "attn_output.weight", type: 0, dims: [q, c.dim] }, { name: p + "ffn_norm.weight", type: 0, dims: [c.dim] },
      { name: p + "ffn_gate.weight", type: 0, dims: [c.dim, c.hiddenDim] }, { name: p + "ffn_up.weight", type: 0, dims: [c.dim, c.hiddenDim] },
      { name: p + "ffn_down.weight", type: 0, dims: [c.hiddenDim, c.dim] });
  }
  infos.push({ name: "output_norm.weight", type: 0, dims: [c.dim] });
  if (!c.tiedEmbeddings) infos.push({ name: "output.weight", type: 0, dims: [c.dim, c.vocabSize] });
  return {
    path: "(shapes)", format: "gguf", config: c, getTensor: () => undefined, forgetTensor: () => undefined, tensorInfos: infos,
    tokenizerSource: undefined, chatTemplate: undefined, generationDefaults: {}, info: {},
  };
}

const LLAMA_7B: ModelConfig = {
  arch: "llama", vocabSize: 32000, dim: 4096, hiddenDim: 11008, numLayers: 32, numHeads: 32, numKvHeads: 32, headDim: 128,
  contextLength: 4096, normEps: 1e-5, ropeTheta: 10000, ropeDim: 128, ropeStyle: "norm", ropeScaling: { type: "none" },
  tiedEmbeddings: false, hasQkvBias: false,
};

// ---- type rules ----

test("file types carry llama.cpp's LLAMA_FTYPE numbers", () => {
  const byName = Object.fromEntries(FILE_TYPES.map((t) => [t.name, t.ftype]));
  assert.deepEqual({ f32: byName.f32, f16: byName.f16, q4_0: byName.q4_0, q4_1: byName.q4_1, q8_0: byName.q8_0, q5_0: byName.q5_0,
    q5_1: byName.q5_1, q4_k_s: byName.q4_k_s, q4_k_m: byName.q4_k_m, q5_k_m: byName.q5_k_m, q6_k: byName.q6_k, bf16: byName.bf16 },
  { f32: 0, f16: 1, q4_0: 2, q4_1: 3, q8_0: 7, q5_0: 8, q5_1: 9, q4_k_s: 14, q4_k_m: 15, q5_k_m: 17, q6_k: 18, bf16: 32 });
});

test("use_more_bits: first and last eighth, every third layer between (llama.cpp's layers for 32)", () => {
  const layers = Array.from({ length: 32 }, (_, i) => i).filter((i) => useMoreBits(i, 32));
  assert.deepEqual(layers, [0, 1, 2, 3, 6, 9, 12, 15, 18, 21, 24, 27, 28, 29, 30, 31]);
});

test("q4_k_m on a 7B Llama: Q6_K for output, attn_v/ffn_down where use_more_bits; Q4_K elsewhere; norms F32", () => {
  const plan = planQuantization(shapesOnly(LLAMA_7B), fileType("q4_k_m")!);
  const type = (name: string): string => typeName(plan.find((p) => p.name === name)!.type);
  assert.equal(type("output.weight"), "Q6_K");
  assert.equal(type("token_embd.weight"), "Q4_K");
  assert.equal(type("blk.0.attn_v.weight"), "Q6_K");
  assert.equal(type("blk.4.attn_v.weight"), "Q4_K");
  assert.equal(type("blk.6.ffn_down.weight"), "Q6_K");
  assert.equal(type("blk.7.ffn_down.weight"), "Q4_K");
  assert.equal(type("blk.31.ffn_down.weight"), "Q6_K");
  assert.equal(type("blk.5.attn_q.weight"), "Q4_K");
  assert.equal(type("blk.5.attn_norm.weight"), "F32");
  const counts: Record<string, number> = {};
  for (const p of plan) counts[typeName(p.type)] = (counts[typeName(p.type)] ?? 0) + 1;
  // llama-quantize's Q4_K_M of Llama-2-7B: 65 F32, 193 Q4_K, 33 Q6_K.
  assert.deepEqual(counts, { F32: 65, Q4_K: 193, Q6_K: 33 });
  assert.ok(plan.every((p) => p.note === undefined));
});

test("tied embeddings are the output: token_embd gets output.weight's type (Q6_K, or Q8_0 for rows not a multiple of 256)", () => {
  const tied = { ...LLAMA_7B, tiedEmbeddings: true };
  const ft = fileType("q4_k_m")!;
  assert.equal(typeName(chooseTensorType(ft, "token_embd.weight", [4096, 32000], GgmlType.F32, { numLayers: 32, hasOutput: false }).type), "Q6_K");
  assert.equal(typeName(planQuantization(shapesOnly(tied), fileType("q4_0")!).find((p) => p.name === "token_embd.weight")!.type), "Q6_K");
  assert.equal(typeName(planQuantization(shapesOnly(tied), fileType("q8_0")!).find((p) => p.name === "token_embd.weight")!.type), "Q8_0");
  assert.equal(typeName(chooseTensorType(ft, "token_embd.weight", [896, 151936], GgmlType.F32, { numLayers: 24, hasOutput: false }).type), "Q8_0");
});

test("row lengths that do not fit fall back as llama.cpp does (Q4_K->Q5_0, Q6_K->Q8_0, ...), then F16, with a note", () => {
  const ft = fileType("q4_k_m")!;
  const ctx = { numLayers: 24, hasOutput: false };
  const q = chooseTensorType(ft, "blk.1.attn_q.weight", [896, 896], GgmlType.F32, ctx);
  assert.equal(typeName(q.type), "Q5_0");
  assert.match(q.note ?? "", /blk\.1\.attn_q\.weight: rows of 896 are not a multiple of the Q4_K block size \(256\); using Q5_0/);
  assert.equal(typeName(chooseTensorType(ft, "blk.0.attn_v.weight", [896, 128], GgmlType.F32, ctx).type), "Q8_0");
  assert.equal(typeName(chooseTensorType(ft, "blk.4.ffn_down.weight", [4864, 896], GgmlType.F32, ctx).type), "Q4_K");
  assert.equal(typeName(chooseTensorType(ft, "blk.5.ffn_down.weight", [4864, 896], GgmlType.F32, ctx).type), "Q6_K");
  assert.equal(typeName(chooseTensorType(fileType("q2_k")!, "blk.1.attn_q.weight", [96, 96], GgmlType.F32, ctx).type), "Q4_0");
  assert.equal(typeName(chooseTensorType(fileType("q5_k")!, "blk.1.attn_q.weight", [96, 96], GgmlType.F32, ctx).type), "Q5_1");
  const f16 = chooseTensorType(fileType("q8_0")!, "blk.0.ffn_down.weight", [172, 64], GgmlType.F32, ctx);
  assert.equal(typeName(f16.type), "F16");
  assert.match(f16.note ?? "", /172.*Q8_0.*F16/);
});

test("f16 / q8_0 / pure: 2-D weights in the base type (q8_0 keeps Q8_0 output), 1-D tensors F32", () => {
  const f16 = planQuantization(shapesOnly(LLAMA_7B), fileType("f16")!);
  assert.ok(f16.every((p) => typeName(p.type) === (p.dims.length === 1 ? "F32" : "F16")));
  const q8 = planQuantization(shapesOnly(LLAMA_7B), fileType("q8_0")!);
  assert.ok(q8.every((p) => typeName(p.type) === (p.dims.length === 1 ? "F32" : "Q8_0")));
  const pure = planQuantization(shapesOnly(LLAMA_7B), fileType("q4_0")!, { pure: true });
  assert.ok(pure.every((p) => typeName(p.type) === (p.dims.length === 1 ? "F32" : "Q4_0")));
});

// ---- load-time quantization ----

test("quantizeModelFiles: weights converted on first use with the reference quantizers; same tokens as F32 on stories260K", async () => {
  const files = quantizeModelFiles(openModelFiles(STORIES), "q8_0");
  const q = files.getTensor("blk.0.attn_q.weight")!;
  assert.equal(q.type, GgmlType.Q8_0);
  const src = readTensors(readGguf(STORIES)).get("blk.0.attn_q.weight")!;
  const f32 = new Float32Array(64 * 64);
  dequantize(GgmlType.F32, src.data, f32.length, f32);
  assert.deepEqual(q.data, quantize(GgmlType.Q8_0, f32, f32.length));
  // Converted weights are carved from the model's weight heap (huge-page chunks), not one buffer each.
  const k = files.getTensor("blk.0.attn_k.weight")!;
  assert.equal(k.data.buffer, q.data.buffer);
  assert.equal(k.data.byteOffset - q.data.byteOffset, Math.ceil(q.data.byteLength / 64) * 64);
  assert.equal(files.getTensor("blk.0.ffn_down.weight")!.type, GgmlType.F16); // 172 is not a multiple of 32
  assert.equal(files.getTensor("blk.0.attn_norm.weight")!.type, GgmlType.F32);
  assert.equal(files.tensorInfos.find((t) => t.name === "output.weight")?.type, GgmlType.Q8_0);
  assert.equal(files.info["fileType"], 7);

  const greedy = async (quantizeType?: string): Promise<number[]> => {
    const m = await loadModel(STORIES, { backend: "reference", ...(quantizeType ? { quantize: quantizeType } : {}) });
    const ids: number[] = [];
    for await (const c of m.generate("Once upon a time", { maxTokens: 20, temperature: 0 })) if (c.tokenId !== undefined) ids.push(c.tokenId);
    return ids;
  };
  assert.deepEqual(await greedy("q8_0"), await greedy());
  await assert.rejects(loadModel(STORIES, { quantize: "q9_9" }), /quantize: unknown quantization type "q9_9"/);
});

test("quantizeModelFiles: the source tensor is dropped once converted, kept when it is already the result", () => {
  const raw = openModelFiles(STORIES);
  const reads: string[] = [];
  const counting: ModelFiles = { ...raw, getTensor: (name) => { reads.push(name); return raw.getTensor(name); } };
  const files = quantizeModelFiles(counting, "q8_0");
  const srcQ = raw.getTensor("blk.0.attn_q.weight")!; // cached in the source now
  const q = files.getTensor("blk.0.attn_q.weight")!;
  assert.equal(q.type, GgmlType.Q8_0);
  // Converted: the source's cache no longer holds the f32 copy (a new read returns fresh bytes).
  assert.notEqual(raw.getTensor("blk.0.attn_q.weight"), srcQ);
  // Kept as is (F32 norm stays F32): the source object is the result and stays cached.
  const norm = files.getTensor("blk.0.attn_norm.weight")!;
  assert.equal(norm, raw.getTensor("blk.0.attn_norm.weight"));
  // The converted tensor is cached by the view: fetching it again reads nothing.
  const before = reads.length;
  assert.equal(files.getTensor("blk.0.attn_q.weight"), q);
  assert.equal(reads.length, before);
});

test("load-time quantization of a Hugging Face directory keeps its layout (permuted Q/K, neox): same argmax as F32", () => {
  const fx = buildStories260KHf({ dtype: "BF16" });
  const files = quantizeModelFiles(loadHfDirectory(fx.dir), "q8_0");
  assert.equal(files.config.ropeStyle, "neox");
  assert.equal(files.getTensor("blk.0.attn_q.weight")?.type, GgmlType.Q8_0);
  const got = logitsOf(files);
  const want = logitsOf(loadGgufModel(fx.ggufPath));
  for (let pos = 0; pos < TOKENS.length; pos++) {
    const g = got.subarray(pos * 512, (pos + 1) * 512);
    const w = want.subarray(pos * 512, (pos + 1) * 512);
    assert.equal(g.indexOf(Math.max(...g)), w.indexOf(Math.max(...w)), `argmax at position ${pos}`);
  }
  fs.rmSync(fx.dir, { recursive: true, force: true });
});

// ---- GGUF files ----

test("GGUF -> F32 GGUF is the same model: tensors bit for bit, metadata kept, file type 0", async () => {
  const out = path.join(tmp, "stories-f32.gguf");
  const r = await writeQuantizedGguf(openModelFiles(STORIES), out, "f32", { threads: 1 });
  assert.equal(r.tensors.length, 48);
  const a = readGguf(STORIES);
  const b = readGguf(out);
  const ta = readTensors(a);
  for (const [name, t] of readTensors(b)) assert.deepEqual(t.data, ta.get(name)?.data, name);
  for (const [k, v] of a.metadata) assert.deepEqual(b.metadata.get(k), v, k);
  assert.equal(b.metadata.get("general.file_type"), 0);
  assert.equal(b.metadata.has("general.quantization_version"), false);
});

test("GGUF -> Q4_K_M GGUF on 2 worker threads: the planned types, the same bytes as load-time quantization", async () => {
  const out = path.join(tmp, "stories-q4km.gguf");
  const progress: number[] = [];
  const r = await writeQuantizedGguf(openModelFiles(STORIES), out, "q4_k_m", { threads: 2, onProgress: (p) => progress.push(p.index) });
  assert.deepEqual(progress, Array.from({ length: 48 }, (_, i) => i + 1));
  assert.deepEqual(r.typeCounts, { Q5_0: 29, F32: 11, F16: 5, Q8_0: 3 }); // every row is 64 or 172 long: all fall back
  const file = readGguf(out);
  assert.equal(file.metadata.get("general.file_type"), 15);
  assert.equal(file.metadata.get("general.quantization_version"), 2);
  assert.equal(file.tensors[0]?.name, "token_embd.weight");
  const lazy = quantizeModelFiles(openModelFiles(STORIES), "q4_k_m");
  for (const [name, t] of readTensors(file)) {
    const want = lazy.getTensor(name)!;
    assert.equal(t.type, want.type, name);
    assert.deepEqual(t.data, want.data, name);
  }
  // And it runs like the F32 model: same argmax at each of the 8 positions, logits within 10% of
  // each row's range (measured 6%: stories260K's 64-wide rows are all Q5_0, the coarsest fallback).
  const got = logitsOf(loadGgufModel(out));
  const want = logitsOf(loadGgufModel(STORIES));
  const V = 512;
  for (let pos = 0; pos < TOKENS.length; pos++) {
    const g = got.subarray(pos * V, (pos + 1) * V);
    const w = want.subarray(pos * V, (pos + 1) * V);
    const range = Math.max(...w) - Math.min(...w);
    assert.equal(g.indexOf(Math.max(...g)), w.indexOf(Math.max(...w)), `argmax at position ${pos}`);
    assert.ok(maxAbsDiff(g, w) < 0.1 * range, `position ${pos}: max |logit diff| ${maxAbsDiff(g, w)}, range ${range}`);
  }
});

test("HF directory -> GGUF: Q/K un-permuted to the GGUF layout, config as llama.* keys, the GGUF model's logits", async () => {
  const fx = buildStories260KHf({ dtype: "F32", numShards: 2 });
  const out = path.join(tmp, "hf-f32.gguf");
  await writeQuantizedGguf(loadHfDirectory(fx.dir), out, "f32", { threads: 1 });
  const file = readGguf(out);
  const src = readGguf(fx.ggufPath);
  for (const k of ["embedding_length", "feed_forward_length", "block_count", "attention.head_count", "attention.head_count_kv", "rope.dimension_count", "context_length"]) {
    assert.equal(file.metadata.get(`llama.${k}`), src.metadata.get(`llama.${k}`), k);
  }
  for (const [name, t] of readTensors(file)) assert.deepEqual(t.data, fx.ggufTensors.get(name)?.data, name);
  const g = loadGgufModel(out);
  assert.equal(g.config.ropeStyle, "norm");
  assert.equal(maxAbsDiff(logitsOf(g), logitsOf(loadGgufModel(fx.ggufPath))), 0);
  fs.rmSync(fx.dir, { recursive: true, force: true });
});

test("HF directory with Llama-3 RoPE scaling -> GGUF with rope_freqs.weight, same logits as the HF model", async () => {
  const rope_scaling = { rope_type: "llama3", factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 16 };
  const fx = buildStories260KHf({ dtype: "BF16", configOverrides: { rope_scaling } });
  const out = path.join(tmp, "hf-llama3.gguf");
  await writeQuantizedGguf(loadHfDirectory(fx.dir), out, "bf16", { threads: 1 });
  const file = readGguf(out);
  const freqs = file.tensors.find((t) => t.name === "rope_freqs.weight");
  assert.deepEqual(freqs?.dims, [4]);
  assert.equal(typeName(file.tensors.find((t) => t.name === "blk.0.attn_q.weight")!.type), "BF16");
  const d = maxAbsDiff(logitsOf(loadGgufModel(out)), logitsOf(loadHfDirectory(fx.dir)));
  assert.ok(d < 1e-4, `max |logit diff| ${d}`);
  fs.rmSync(fx.dir, { recursive: true, force: true });
});

test("llama2.c checkpoint + tokenizer.bin -> GGUF with a llama tokenizer: same tokens and logits as stories260K.gguf", async () => {
  const out = path.join(tmp, "from-llama2c.gguf");
  await writeQuantizedGguf(openModelFiles(stories("stories260K.bin"), { tokenizerPath: stories("tok512.bin") }), out, "f32", { threads: 1 });
  const tok = tokenizerFromGguf(readGguf(out));
  const ref = tokenizerFromGguf(readGguf(STORIES));
  for (const text of ["Once upon a time", "Lily's dog said: \"hi!\" 123", "  spaces\nnewline"]) assert.deepEqual(tok.encode(text), ref.encode(text), text);
  assert.equal(maxAbsDiff(logitsOf(loadGgufModel(out)), logitsOf(loadGgufModel(STORIES))), 0);
});

test("tokenizer.json -> GGUF metadata (qwen2): model gpt2, pre qwen2, padded to the vocab size, same token ids on llama.cpp's cases", async () => {
  const dir = path.join(sharedModels, "tokenizers");
  const json = path.join(dir, "qwen2", "tokenizer.json");
  const config = path.join(dir, "qwen2", "tokenizer_config.json");
  const v = vocabFromTokenizerJson(json, config, 151936);
  assert.equal(v.model, "gpt2");
  assert.equal(v.pre, "qwen2");
  assert.equal(v.tokens.length, 151936);
  assert.equal(v.tokens[151935], "[PAD151935]");
  assert.equal(v.tokens[v.eosId ?? -1], "<|im_end|>");
  const out = path.join(tmp, "qwen2-vocab.gguf");
  await writeGgufStreaming(out, vocabKvs(v), [], () => new Uint8Array(0));
  const fromGguf = tokenizerFromGguf(readGguf(out));
  const fromJson = tokenizerFromJson(json, config);
  const inputs = fs.readFileSync(path.join(dir, "ggml-vocab-qwen2.gguf.inp"), "utf8").split("\n__ggml_vocab_test__\n");
  const expected = fs.readFileSync(path.join(dir, "ggml-vocab-qwen2.gguf.out"), "utf8").split("\n");
  inputs.forEach((text, i) => {
    const ids = fromGguf.encode(text, { addSpecial: false });
    assert.deepEqual(ids, fromJson.encode(text, { addSpecial: false }), JSON.stringify(text));
    const want = (expected[i] ?? "").trim();
    if (want !== "") assert.deepEqual(ids, want.split(/\s+/).map(Number), JSON.stringify(text));
  });
});

// ---- the pool ----

test("quantize pool: 3 workers give the same bytes as one thread (Q4_K, Q8_0, F16)", async () => {
  const pool = createQuantizePool(3);
  try {
    const rows = 37;
    const cols = 512;
    const src = pool.allocSource(rows * cols);
    for (let i = 0; i < src.length; i++) src[i] = Math.sin(i * 0.37) * 0.1 + Math.cos(i * 0.011) * 0.05;
    for (const type of [GgmlType.Q4_K, GgmlType.Q8_0, GgmlType.F16]) {
      assert.deepEqual(await pool.quantize(type, src, rows, cols), quantizeRows(type, src, rows, cols), typeName(type));
    }
  } finally {
    await pool.close();
  }
});

// ---- CLI ----


test("fennec quantize: writes the file, reports each tensor and fallback on stderr; bad type is one line, exit 1", () => {
  const out = path.join(tmp, "cli-q8.gguf");
  const r = fennecArgs("quantize", STORIES, out, "q8_0", "--threads", "1");
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /\[ 1\/48\] token_embd\.weight F32 -> Q8_0 \[64, 512\]/);
  assert.match(r.stderr, /note: blk\.0\.ffn_down\.weight: rows of 172 are not a multiple of the Q8_0 block size \(32\); using F16/);
  assert.match(r.stderr, /wrote .*cli-q8\.gguf: q8_0 \(file type 7\), 48 tensors \(Q8_0 32, F32 11, F16 5\), [\d.]+ KB in [\d.]+ s/);
  assert.equal(readGguf(out).metadata.get("general.file_type"), 7);
  const bad = fennecArgs("quantize", STORIES, path.join(tmp, "x.gguf"), "q7");
  assert.equal(bad.code, 1);
  assert.equal(bad.stderr.trim().split("\n").length, 1);
  assert.match(bad.stderr, /^fennec: type: unknown quantization type "q7" \(expected one of: f32, f16/);
  const missing = fennecArgs("quantize", path.join(tmp, "nope.gguf"), path.join(tmp, "y.gguf"), "q8_0");
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /nope\.gguf: file: no such file or directory/);
});
