/**
 * KV-cache dtypes on the reference backend (the oracle) and in the engine's sizing: bytes per block
 * for each dtype (exact), the reference storeKv's bytes against src/quant's encoders and decoders,
 * reference attention over an f16 / q8_0 cache equal to attention over an f32 cache holding the
 * same (rounded) values, and the clear errors: an unknown dtype, q8_0 for a model whose heads are
 * not multiples of 32 (stories260K: headDim 8).
 */
import { test } from "node:test";
import * as assert from "node:assert/strict";
import { createReferenceBackend } from "../../src/backend/js/reference.js";
import type { AttentionSeq, KvLayer } from "../../src/backend/backend.js";
import { allocKvLayer, checkKvDtype, kvRowBytes, parseKvDtype } from "../../src/backend/kv-dtype.js";
import { GgmlType } from "../../src/quant/formats.js";
import { quantize } from "../../src/quant/quantize.js";
import { dequantize } from "../../src/quant/dequant.js";
import { f16ToF32, f32ToF16 } from "../../src/quant/half.js";
import { preset } from "../../src/models/presets.js";
import { DEFAULT_ENGINE_CONFIG, LLMEngine, kvBytesPerBlock } from "../../src/engine/llm-engine.js";
import { InvalidArgumentError, loadModel } from "../../src/index.js";
import { stories } from "../helpers/paths.js";

const ref = createReferenceBackend();

function randn(seed: number, n: number, scale = 1): Float32Array {
  let s = seed >>> 0 || 1;
  const r = (): number => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
  return Float32Array.from({ length: n }, () => scale * Math.sqrt(-2 * Math.log(Math.max(r(), 1e-12))) * Math.cos(2 * Math.PI * r()));
}

test("kvBytesPerBlock: exact bytes per dtype (all layers, K and V), so a budget holds 2x (f16) / 3.76x (q8_0) the tokens of f32", async () => {
  // Llama-3.2-1B: 16 layers, 8 kv heads of 64 -> kvDim 512 values per token per layer, K and V.
  const llama = preset("llama-3.2-1b")?.config;
  assert.ok(llama);
  assert.equal(kvBytesPerBlock(llama, 1, "f32"), 16 * 2 * 512 * 4); // 65536 bytes per token
  assert.equal(kvBytesPerBlock(llama, 1, "f16"), 32768);
  assert.equal(kvBytesPerBlock(llama, 1, "q8_0"), 16 * 2 * (512 / 32) * 34); // 17408
  assert.equal(kvBytesPerBlock(llama, 16, "q8_0"), 278528);
  // stories260K: 5 layers, 4 kv heads of 8 -> kvDim 32.
  const m = await loadModel(stories("stories260K.gguf"), { backend: "reference" });
  assert.equal(kvBytesPerBlock(m.config, 16, "f32"), 16 * 5 * 2 * 32 * 4);
  assert.equal(kvBytesPerBlock(m.config, 16, "f16"), 10240);
  // The engine turns a budget into blocks with these numbers: the same bytes, twice the tokens in f16.
  const budget = 100 * kvBytesPerBlock(m.config, 16, "f32");
  const f32 = new LLMEngine(m.model, { ...DEFAULT_ENGINE_CONFIG, kvCacheBytes: budget, kvCacheDtype: "f32" }, new Set());
  const f16 = new LLMEngine(m.model, { ...DEFAULT_ENGINE_CONFIG, kvCacheBytes: budget }, new Set());
  assert.equal(f32.stats().kvCacheTokens, 1600);
  assert.equal(f16.stats().kvCacheTokens, 3200);
  assert.equal(f16.stats().kvCacheDtype, "f16");
  assert.equal(DEFAULT_ENGINE_CONFIG.kvCacheDtype, "f16");
});

test("unknown dtypes and q8_0 for heads of 8 are clear InvalidArgumentErrors naming the headDim and suggesting f16", async () => {
  assert.equal(parseKvDtype("--kv-cache-dtype", "q8_0"), "q8_0");
  assert.throws(() => parseKvDtype("--kv-cache-dtype", "bf16"), (e: unknown) =>
    e instanceof InvalidArgumentError && e.message === `--kv-cache-dtype: expected f32, f16, q8_0, got "bf16"`);
  checkKvDtype("q8_0", 2, 64);
  checkKvDtype("f16", 4, 8);
  const headDim8 = /q8_0 .*this model's headDim is 8 \(not a multiple of 32\): use f16/;
  assert.throws(() => checkKvDtype("q8_0", 4, 8), headDim8); // kvDim 32 is not enough: a block would span 4 heads
  assert.throws(() => checkKvDtype("q8_0", 3, 48), /headDim is 48/);

  const m = await loadModel(stories("stories260K.gguf"), { backend: "reference" });
  assert.throws(() => m.model.createKvCache(4, 16, "q8_0"), (e: unknown) => e instanceof InvalidArgumentError && headDim8.test(e.message));
  await assert.rejects(loadModel(stories("stories260K.gguf"), { backend: "reference", kvCacheDtype: "q8_0" }), headDim8);
  await assert.rejects(loadModel(stories("stories260K.gguf"), { backend: "reference", kvCacheDtype: "f8" as never }), /kvCacheDtype: expected f32, f16, q8_0, got "f8"/);
  assert.throws(() => new LLMEngine(m.model, { ...DEFAULT_ENGINE_CONFIG, kvCacheBytes: 1 << 20, kvCacheDtype: "q8_0" }, new Set()), headDim8);
  assert.equal(m.model.createKvCache(2, 16).dtype, "f16");
  assert.equal(m.kvCacheDtype, "f16");
});

test("reference storeKv writes src/quant's f16 / Q8_0 encodings into the mapped slots, and they decode back", () => {
  const kvDim = 64;
  const n = 4;
  const k = randn(1, n * kvDim, 3);
  const v = randn(2, n * kvDim, 0.05);
  const slots = Int32Array.of(5, 0, 3, 6);
  for (const dtype of ["f16", "q8_0"] as const) {
    const type = dtype === "f16" ? GgmlType.F16 : GgmlType.Q8_0;
    const rb = kvRowBytes(dtype, kvDim);
    assert.equal(rb, dtype === "f16" ? 128 : 68);
    const kv = allocKvLayer(dtype, 8, kvDim);
    assert.equal(kv.k.byteLength, 8 * rb);
    ref.storeKv(kv, k, v, n, kvDim, slots);
    for (let t = 0; t < n; t++) {
      const slot = slots[t] as number;
      for (const [src, cache] of [[k, kv.k], [v, kv.v]] as const) {
        const row = src.subarray(t * kvDim, (t + 1) * kvDim);
        const bytes = (cache as Uint8Array).subarray(slot * rb, (slot + 1) * rb);
        assert.deepEqual(bytes, quantize(type, row, kvDim), `${dtype} slot ${slot}`);
        const back = new Float32Array(kvDim);
        dequantize(type, bytes, kvDim, back);
        for (let i = 0; i < kvDim; i++) {
          const x = row[i] as number;
          // f16: exactly the round-to-nearest-even half; q8_0: within half a step of its block.
          if (dtype === "f16") assert.equal(back[i], f16ToF32(f32ToF16(x)));
          else {
            const b0 = i - (i % 32);
            const amax = Math.max(...row.subarray(b0, b0 + 32).map(Math.abs));
            assert.ok(Math.abs((back[i] as number) - x) <= (amax / 254) * 1.001 + amax * 2 ** -11, `q8_0 [${i}]`);
          }
        }
      }
    }
    // Untouched slots stay zero.
    assert.ok((kv.k as Uint8Array).subarray(rb, 3 * rb).every((b) => b === 0));
  }
});

test("reference attention over f16 / q8_0 caches equals attention over an f32 cache of the same rounded values", () => {
  const numHeads = 4;
  const numKvHeads = 2;
  const headDim = 32;
  const kvDim = numKvHeads * headDim;
  const blockSize = 4;
  const numBlocks = 12;
  const slots = numBlocks * blockSize;
  const k = randn(3, slots * kvDim);
  const v = randn(4, slots * kvDim);
  const seqs: AttentionSeq[] = [
    { queryStart: 0, queryLen: 3, contextLen: 17, blockTable: Int32Array.of(7, 2, 9, 0, 5) },
    { queryStart: 3, queryLen: 1, contextLen: 9, blockTable: Int32Array.of(11, 1, 4) },
  ];
  const q = randn(5, 4 * numHeads * headDim);
  const all = Int32Array.from({ length: slots }, (_, i) => i);
  for (const dtype of ["f16", "q8_0"] as const) {
    const type = dtype === "f16" ? GgmlType.F16 : GgmlType.Q8_0;
    const kv = allocKvLayer(dtype, slots, kvDim);
    ref.storeKv(kv, k, v, slots, kvDim, all);
    // The same values, rounded by src/quant and kept as fp32.
    const rounded = (x: Float32Array): Float32Array => {
      const out = new Float32Array(x.length);
      dequantize(type, quantize(type, x, x.length), x.length, out);
      return out;
    };
    const kvF32: KvLayer = { dtype: "f32", k: rounded(k), v: rounded(v) };
    const args = { q, numHeads, numKvHeads, headDim, blockSize, scale: 1 / Math.sqrt(headDim), seqs };
    const want = new Float32Array(4 * numHeads * headDim);
    const got = new Float32Array(want.length);
    ref.attention({ ...args, kv: kvF32, out: want });
    ref.attention({ ...args, kv, out: got });
    assert.deepEqual(got, want, dtype);
    // ...and the rounding did change something (the comparison is not between identical caches).
    const exact = new Float32Array(want.length);
    ref.attention({ ...args, kv: { dtype: "f32", k, v }, out: exact });
    assert.notDeepEqual(exact, want, dtype);
  }
});
