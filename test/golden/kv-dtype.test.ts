/**
 * The KV-cache dtype end to end: the default f16 cache must not change what a model generates, and
 * q8_0 must run. On stories260K (real weights, headDim 8: f16 only) and on the synthetic `tiny`
 * preset (random weights, headDim 64: f16 and q8_0).
 *
 *  - Greedy tokens through the batched engine (16 / 6 prompts at once) with an f16 cache equal the
 *    f32 cache's, on the reference and the native backend. (The run.c goldens in stories260k.test.ts
 *    also run on the default f16 cache through `generate`.)
 *  - Teacher-forced logits over 200 positions, f16 / q8_0 vs f32, max |diff| / the row's std:
 *    f16 <= 1e-2 (measured 3e-3 stories260K, 1.1e-3 tiny), q8_0 <= 0.1 (measured 2.7e-2 tiny).
 *    q8_0's greedy tokens are not compared: on a random model its rounding flips a near-tie argmax
 *    in a few of 200 positions.
 */
import { after, test } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { createEngine, loadModel, type LoadedModel } from "../../src/index.js";
import { DEFAULT_ENGINE_CONFIG, LLMEngine, kvBytesPerBlock } from "../../src/engine/llm-engine.js";
import { EngineLoop } from "../../src/engine/engine-loop.js";
import type { KvDtype } from "../../src/backend/kv-dtype.js";
import { loadNativeAddon } from "../../src/backend/native/index.js";
import { synthesize } from "../../src/models/synth.js";
import { collect } from "../helpers/engine.js";
import { stories } from "../helpers/paths.js";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "fennec-kv-dtype-"));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const backends = loadNativeAddon().ok ? (["reference", "native"] as const) : (["reference"] as const);
const tinyFile = path.join(tmp, "tiny-f32.gguf");
await synthesize("tiny", tinyFile, { type: "f32", pure: true, seed: 1 });

/** Greedy tokens of all prompts, run concurrently in one engine with a cache of `dtype`. */
async function engineGreedy(m: LoadedModel, dtype: KvDtype, prompts: readonly (readonly number[])[], maxTokens: number): Promise<number[][]> {
  const engine = new LLMEngine(m.model, { ...DEFAULT_ENGINE_CONFIG, maxNumBatchedTokens: 64, kvCacheDtype: dtype,
    kvCacheBytes: 256 * kvBytesPerBlock(m.config, 16, dtype) }, m.tokenizer.stopIds);
  assert.equal(engine.stats().kvCacheDtype, dtype);
  assert.equal(engine.runner.kvCache.dtype, dtype);
  const loop = new EngineLoop(engine);
  const runs = await Promise.all(prompts.map((p) => collect(loop.generate(p, { temperature: 0, maxTokens, ignoreEos: true }).events)));
  return runs.map((r) => r.ids);
}

/** Logits at every position of `ids` (one prefill batch) with a cache of `dtype`. */
function logitsAll(m: LoadedModel, dtype: KvDtype, ids: readonly number[]): Float32Array {
  const kv = m.model.createKvCache(Math.ceil(ids.length / 16), 16, dtype);
  const positions = Int32Array.from(ids, (_, i) => i);
  return m.model.forward({
    tokenIds: Int32Array.from(ids), positions, slotMapping: positions,
    seqs: [{ queryStart: 0, queryLen: ids.length, contextLen: ids.length, blockTable: Int32Array.from({ length: kv.numBlocks }, (_, i) => i) }],
    logitIndices: positions,
  }, kv).slice();
}

/** Max over rows of max |got - want| / std(want row). */
function worstOverStd(got: Float32Array, want: Float32Array, V: number): number {
  let worst = 0;
  for (let r = 0; r < want.length / V; r++) {
    const row = want.subarray(r * V, (r + 1) * V);
    let mean = 0;
    for (const x of row) mean += x;
    mean /= V;
    let s2 = 0;
    for (const x of row) s2 += (x - mean) ** 2;
    const std = Math.sqrt(s2 / V);
    for (let i = 0; i < V; i++) worst = Math.max(worst, Math.abs((got[r * V + i] as number) - (row[i] as number)) / std);
  }
  return worst;
}

const storyPrompts = [
  "Once upon a time", "The cat", "Lily and Tom went to the park", "One day, a little bird", "The sun was hot",
  "Tim had a red ball", "There was a big tree", "Sue liked to sing", "A dog ran", "Mom said",
  "The boat was blue and", "In the forest", "Ben found a box", "She saw a", "The little girl was sad because", "Bob",
];
const ids200 = [1, ...Array.from({ length: 199 }, (_, i) => 3 + ((i * 7919) % 400))];

for (const backend of backends) {
  test(`[${backend}] stories260K: 16 concurrent greedy requests give the same tokens with the f16 cache as with f32`, async () => {
    const m = await loadModel(stories("stories260K.gguf"), { backend, contextLength: 512 });
    const prompts = storyPrompts.map((p) => m.tokenizer.encode(p));
    const f32 = await engineGreedy(m, "f32", prompts, 48);
    const f16 = await engineGreedy(m, "f16", prompts, 48);
    f16.forEach((ids, i) => assert.deepEqual(ids, f32[i], `prompt ${i}: ${JSON.stringify(storyPrompts[i])}`));
  });

  test(`[${backend}] stories260K: teacher-forced logits over 200 positions, f16 cache vs f32, within 1e-2 of each row's std`, async () => {
    const m = await loadModel(stories("stories260K.gguf"), { backend, contextLength: 512 });
    const err = worstOverStd(logitsAll(m, "f16", ids200), logitsAll(m, "f32", ids200), m.config.vocabSize);
    assert.ok(err > 0 && err <= 1e-2, `f16: max |diff| ${err} std`);
  });
}

test("tiny (headDim 64): greedy tokens equal with f16 and f32 caches; q8_0 runs every request to max_tokens; logits within bounds", async () => {
  const m = await loadModel(tinyFile, { contextLength: 512 });
  const prompts = [[1, 403, 407, 261, 378], [1, 20], [1, 900, 901, 902, 903, 904, 905, 906, 907], [1, 3000, 17], [1, 55, 66, 77], [1, 2]];
  const f32 = await engineGreedy(m, "f32", prompts, 32);
  const f16 = await engineGreedy(m, "f16", prompts, 32);
  f16.forEach((ids, i) => assert.deepEqual(ids, f32[i], `prompt ${i}`));
  const q8 = await engineGreedy(m, "q8_0", prompts, 32);
  q8.forEach((ids) => assert.equal(ids.length, 32));

  const want = logitsAll(m, "f32", ids200);
  const e16 = worstOverStd(logitsAll(m, "f16", ids200), want, m.config.vocabSize);
  const e8 = worstOverStd(logitsAll(m, "q8_0", ids200), want, m.config.vocabSize);
  assert.ok(e16 > 0 && e16 <= 1e-2, `f16: max |diff| ${e16} std`);
  assert.ok(e8 > e16 && e8 <= 0.1, `q8_0: max |diff| ${e8} std`);
});

test("tiny: q8_0 through loadModel(...).generate and createEngine (the dtype the model was loaded with is the engine's default)", async () => {
  const m = await loadModel(tinyFile, { kvCacheDtype: "q8_0", contextLength: 256 });
  assert.equal(m.kvCacheDtype, "q8_0");
  let n = 0;
  let finish: string | undefined;
  for await (const c of m.generate([1, 403, 407], { maxTokens: 20, temperature: 0, ignoreEos: true })) {
    if (c.tokenId !== undefined) n++;
    finish = c.finishReason ?? finish;
  }
  assert.equal(n, 20);
  assert.equal(finish, "length");

  const budget = 1 << 20;
  const loop = createEngine(m, { kvCacheBytes: budget });
  const s = loop.engine.stats();
  assert.equal(s.kvCacheDtype, "q8_0");
  // tiny: 4 layers x K and V x 2 kv heads x 64 values as Q8_0 = 4 * 2 * 4 * 34 = 1088 bytes per token.
  assert.equal(s.kvCacheTokens, Math.floor(budget / (16 * 1088)) * 16);
  const r = await collect(loop.generate([1, 5, 6, 7], { temperature: 0, maxTokens: 8, ignoreEos: true }).events);
  assert.equal(r.ids.length, 8);
  assert.equal(createEngine(m, { kvCacheBytes: budget, kvCacheDtype: "f32" }).engine.stats().kvCacheTokens, Math.floor(budget / (16 * 4096)) * 16);
});
