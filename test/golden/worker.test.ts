/**
 * The engine in a worker thread: same tokens as in-process, bad requests refused synchronously,
 * aborts free blocks, and the main thread's event loop stays free while the model computes.
 */
import { test } from "node:test";
import * as assert from "node:assert/strict";
import { loadModel } from "../../src/index.js";
import { createEngine } from "../../src/engine/create.js";
import { WorkerEngineClient } from "../../src/engine/worker-client.js";
import type { RequestEvent } from "../../src/engine/engine-loop.js";
import { InvalidArgumentError } from "../../src/errors.js";
import { stories } from "../helpers/paths.js";

const modelPath = stories("stories260K.gguf");
const loaded = await loadModel(modelPath, { backend: "reference" });
const prompts = ["Once upon a time", "The cat sat", "Lily went", "A big dog"].map((p) => loaded.tokenizer.encode(p));

async function ids(events: AsyncIterable<RequestEvent>): Promise<number[]> {
  const out: number[] = [];
  for await (const e of events) if (e.type === "token") out.push(e.tokenId);
  return out;
}

test("worker engine: same greedy tokens as in-process, concurrently; validation is synchronous", async () => {
  const local = createEngine(loaded, { maxNumSeqs: 8 });
  const want = await Promise.all(prompts.map((p) => ids(local.generate(p, { temperature: 0, maxTokens: 30 }).events)));
  const client = await WorkerEngineClient.start({ modelPath, load: { backend: "reference" }, engine: { maxNumSeqs: 8 } });
  try {
    assert.equal(client.config.vocabSize, 512);
    const got = await Promise.all(prompts.map((p) => ids(client.generate(p, { temperature: 0, maxTokens: 30 }).events)));
    assert.deepEqual(got, want);
    assert.throws(() => client.generate([1, 99999], {}), InvalidArgumentError);
    assert.throws(() => client.generate([1], { temperature: -1 }), InvalidArgumentError);
    assert.throws(() => client.generate([1], { maxTokens: 500 }), /exceed the context length of 128/);
  } finally {
    await client.close();
  }
});

test("worker engine: breaking out of a stream aborts the request and frees its blocks; the main thread stays responsive", async () => {
  const client = await WorkerEngineClient.start({ modelPath, load: { backend: "reference" }, engine: {} });
  try {
    // A timer on the main thread keeps firing on time while the worker computes.
    let ticks = 0;
    let maxGap = 0;
    let last = performance.now();
    const timer = setInterval(() => {
      const now = performance.now();
      maxGap = Math.max(maxGap, now - last);
      last = now;
      ticks++;
    }, 2);
    let n = 0;
    for await (const e of client.generate([1], { temperature: 0, maxTokens: 120, ignoreEos: true }).events) {
      if (e.type === "token" && ++n === 60) break;
    }
    clearInterval(timer);
    assert.equal(n, 60);
    assert.ok(ticks > 0);
    assert.ok(maxGap < 100, `main-thread timer gap ${maxGap.toFixed(1)} ms`);
    // The abort reaches the worker; the next step message reports the blocks free.
    for (let i = 0; i < 50 && client.stats().kvCacheUsage > 0; i++) await new Promise((r) => setTimeout(r, 10));
    const more = await ids(client.generate([1], { temperature: 0, maxTokens: 2 }).events);
    assert.equal(more.length, 2);
    assert.equal(client.stats().kvCacheUsage, 0);
    assert.equal(client.stats().numRunning, 0);
  } finally {
    await client.close();
  }
});

test("worker engine: a load failure rejects start() with the file's error", async () => {
  await assert.rejects(WorkerEngineClient.start({ modelPath: "/nonexistent/model.gguf", load: {}, engine: {} }), /\/nonexistent\/model.gguf: file: no such file or directory/);
});
