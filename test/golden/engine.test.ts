/**
 * The batched engine on a real model (stories260K): continuous batching must not change any
 * request's tokens, prefix caching must skip work without changing output, and a soak with
 * random aborts and a tiny KV cache must end with every block free.
 */
import { test } from "node:test";
import * as assert from "node:assert/strict";
import { loadModel, type LoadedModel } from "../../src/index.js";
import { DEFAULT_ENGINE_CONFIG, LLMEngine, kvBytesPerBlock, type EngineConfig, type RequestParams } from "../../src/engine/llm-engine.js";
import { EngineLoop } from "../../src/engine/engine-loop.js";
import { createRng } from "../../src/sampling/rng.js";
import { loadNativeAddon } from "../../src/backend/native/index.js";
import { collect } from "../helpers/engine.js";
import { stories } from "../helpers/paths.js";

const loaded: LoadedModel = await loadModel(stories("stories260K.gguf"), { backend: "reference", contextLength: 512 });
// The native backend too when it is built (CI requires it): its batched kernels must keep rows independent.
const loadedNative: LoadedModel | undefined = loadNativeAddon().ok
  ? await loadModel(stories("stories260K.gguf"), { backend: "native", contextLength: 512 })
  : undefined;

function engine(over: Partial<EngineConfig> & { numBlocks?: number } = {}, m: LoadedModel = loaded): LLMEngine {
  const blockSize = over.blockSize ?? 16;
  const numBlocks = over.numBlocks ?? 256;
  return new LLMEngine(m.model, { ...DEFAULT_ENGINE_CONFIG, ...over, kvCacheBytes: numBlocks * kvBytesPerBlock(m.config, blockSize, over.kvCacheDtype ?? DEFAULT_ENGINE_CONFIG.kvCacheDtype) }, m.tokenizer.stopIds);
}

const prompts = [
  "Once upon a time", "The cat", "Lily and Tom went to the park", "One day, a little bird", "The sun was hot",
  "Tim had a red ball", "There was a big tree", "Sue liked to sing", "A dog ran", "Mom said",
  "The boat was blue and", "In the forest", "Ben found a box", "She saw a", "The little girl was sad because", "Bob",
].map((p) => loaded.tokenizer.encode(p));

for (const [name, m] of [["reference", loaded], ["native", loadedNative]] as const) {
  if (!m) continue;
  test(`[${name}] batch invariance: 16 prompts run concurrently give the same greedy tokens as each run alone`, async () => {
    const alone: number[][] = [];
    for (const p of prompts) {
      const loop = new EngineLoop(engine({}, m));
      alone.push((await collect(loop.generate(p, { temperature: 0, maxTokens: 24 }).events)).ids);
    }
    // Small budget: prompts are prefilled in chunks while others decode, in mixed batches.
    const loop = new EngineLoop(engine({ maxNumBatchedTokens: 24 }, m));
    let maxBatch = 0;
    loop.onStep((st) => { maxBatch = Math.max(maxBatch, st.numSeqsInBatch); });
    const together = await Promise.all(prompts.map((p) => collect(loop.generate(p, { temperature: 0, maxTokens: 24 }).events)));
    assert.equal(maxBatch, 16);
    together.forEach((r, i) => assert.deepEqual(r.ids, alone[i], `prompt ${i}`));
  });
}

test("seeded sampling: same seed, same tokens alone or among other requests", async () => {
  const params: RequestParams = { temperature: 1, seed: 42, maxTokens: 20 };
  const aloneRun = await collect(new EngineLoop(engine()).generate(prompts[0] ?? [], params).events);
  const loop = new EngineLoop(engine());
  const others = prompts.slice(1, 8).map((p, i) => collect(loop.generate(p, { temperature: 1, seed: i, maxTokens: 20 }).events));
  const mixed = collect(loop.generate(prompts[0] ?? [], params).events);
  await Promise.all(others);
  assert.deepEqual((await mixed).ids, aloneRun.ids);
});

test("prefix caching: a second request with the same 200-token prefix computes only the new tokens", async () => {
  const e = engine();
  const loop = new EngineLoop(e);
  const rng = createRng(1);
  const prefix = [1, ...Array.from({ length: 199 }, () => 3 + Math.floor(rng.next() * 500))];
  const first = await collect(loop.generate([...prefix, 400, 401], { temperature: 0, maxTokens: 8 }).events);
  const computedBefore = e.scheduler.counters.numComputedPromptTokens;
  const second = await collect(loop.generate([...prefix, 400, 401], { temperature: 0, maxTokens: 8 }).events);
  const computed = e.scheduler.counters.numComputedPromptTokens - computedBefore;
  // 202 prompt tokens: 12 full blocks (192 tokens) come from the cache, 10 are computed.
  assert.equal(computed, 10);
  assert.equal(second.finish?.type === "finished" ? second.finish.numCachedTokens : -1, 192);
  assert.deepEqual(second.ids, first.ids);
  // And the result equals a cold engine's.
  const cold = await collect(new EngineLoop(engine({ enablePrefixCaching: false })).generate([...prefix, 400, 401], { temperature: 0, maxTokens: 8 }).events);
  assert.deepEqual(second.ids, cold.ids);
});

test("soak: 500 requests, random lengths and aborts, KV budget small enough to preempt; ends with zero blocks in use", async () => {
  const e = engine({ numBlocks: 24, maxNumBatchedTokens: 64, maxNumSeqs: 16 });
  const loop = new EngineLoop(e);
  const rng = createRng(123);
  const rand = (n: number): number => Math.floor(rng.next() * n);
  const runs: Promise<string>[] = [];
  for (let i = 0; i < 500; i++) {
    const prompt = [1, ...Array.from({ length: 1 + rand(60) }, () => 3 + rand(500))];
    const { id, events } = loop.generate(prompt, { temperature: 1, seed: i, maxTokens: 1 + rand(40), ignoreEos: rand(2) === 0 });
    const abortAfter = rand(4) === 0 ? rand(10) : -1;
    runs.push((async () => {
      let n = 0;
      for await (const ev of events) {
        if (ev.type === "finished") return ev.reason;
        if (++n === abortAfter) loop.abort(id);
      }
      return "none";
    })());
  }
  const reasons = await Promise.all(runs);
  const count = (r: string): number => reasons.filter((x) => x === r).length;
  assert.equal(count("none"), 0, "every request ends with a finish event");
  assert.equal(count("stop") + count("length") + count("abort"), 500);
  assert.ok(count("abort") > 50, `aborts happened (${count("abort")})`);
  assert.ok(e.scheduler.counters.numPreemptions > 0, "the small cache forced preemptions");
  assert.equal(e.hasWork(), false);
  const st = e.scheduler.blocks.stats();
  assert.equal(st.numUsedBlocks, 0);
  assert.equal(st.numFreeBlocks, 24);
});
