/**
 * Golden outputs of a real model: stories260K against karpathy's run.c and an independent fp64
 * NumPy forward pass (../shared/models/golden). Runs on the reference backend (the oracle) and on
 * the native backend when it is built.
 */
import { test } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import { loadModel, type LoadedModel } from "../../src/index.js";
import type { BackendKind } from "../../src/backend/registry.js";
import { loadNativeAddon } from "../../src/backend/native/index.js";
import { golden, stories } from "../helpers/paths.js";

interface GoldenLogits {
  token_ids: number[];
  steps: { pos: number; input_token: number; argmax: number; logits: number[] }[];
}
const goldenLogits = JSON.parse(fs.readFileSync(golden("stories260K_greedy_from_BOS_tokens_and_logits.json"), "utf8")) as GoldenLogits;
// run.c ends its output with a newline of its own.
const goldenPrompt = fs.readFileSync(golden("stories260K_t0_n64_prompt_once_upon_a_time.txt"), "utf8").replace(/\n$/, "");
const golden200 = fs.readFileSync(golden("stories260K_t0_n200_from_BOS.txt"), "utf8").replace(/\n$/, "");

const backends: BackendKind[] = loadNativeAddon().ok ? ["reference", "native"] : ["reference"];

async function complete(m: LoadedModel, prompt: string | number[], maxTokens: number): Promise<{ text: string; ids: number[] }> {
  let text = "";
  const ids: number[] = [];
  for await (const c of m.generate(prompt, { maxTokens, temperature: 0 })) {
    text += c.text;
    if (c.tokenId !== undefined) ids.push(c.tokenId);
  }
  return { text, ids };
}

for (const backend of backends) {
  test(`[${backend}] logits at positions 0..7 from BOS match the fp64 golden within 1e-4 of the logit range`, async () => {
    const m = await loadModel(stories("stories260K.gguf"), { backend });
    const ids = goldenLogits.token_ids.slice(0, 8);
    // An f32 cache: 1e-4 is a bound on fp32 arithmetic; the default f16 cache rounds K and V (2^-11).
    const kv = m.model.createKvCache(1, 16, "f32");
    const positions = Int32Array.from(ids, (_, i) => i);
    // All 8 positions in one batch, logits for every row: exercises causal masking inside a prefill.
    const logits = m.model.forward({
      tokenIds: Int32Array.from(ids), positions, slotMapping: positions,
      seqs: [{ queryStart: 0, queryLen: 8, contextLen: 8, blockTable: Int32Array.of(0) }],
      logitIndices: positions,
    }, kv);
    const V = m.config.vocabSize;
    for (const step of goldenLogits.steps) {
      const want = step.logits;
      const range = Math.max(...want) - Math.min(...want);
      let maxDiff = 0;
      let argmax = 0;
      for (let i = 0; i < V; i++) {
        const got = logits[step.pos * V + i] as number;
        maxDiff = Math.max(maxDiff, Math.abs(got - (want[i] as number)));
        if (got > (logits[step.pos * V + argmax] as number)) argmax = i;
      }
      assert.ok(maxDiff / range < 1e-4, `pos ${step.pos}: max |diff| ${maxDiff} / range ${range} = ${maxDiff / range}`);
      assert.equal(argmax, step.argmax, `pos ${step.pos} argmax`);
    }
  });

  // run.c's "64 steps" count positions from BOS: 5 prompt tokens (BOS + 4), so 64 - 4 = 60 are generated.
  test(`[${backend}] GGUF: greedy continuation of "Once upon a time" equals run.c's 64 steps`, async () => {
    const m = await loadModel(stories("stories260K.gguf"), { backend });
    assert.equal(m.tokenizer.encode("Once upon a time").length, 5);
    const { text } = await complete(m, "Once upon a time", 60);
    assert.equal("Once upon a time" + text, goldenPrompt);
  });

  test(`[${backend}] llama2.c .bin + tok512.bin: same continuation`, async () => {
    const m = await loadModel(stories("stories260K.bin"), { backend, tokenizer: stories("tok512.bin") });
    const { text } = await complete(m, "Once upon a time", 60);
    assert.equal("Once upon a time" + text, goldenPrompt);
  });

  test(`[${backend}] 200 greedy steps from BOS equal run.c's text and the golden token ids (.bin and GGUF)`, async () => {
    // The .bin's header says seq_len 512; the GGUF's metadata says 128, too short for 201 positions,
    // so it runs with the context widened (the model was trained at 512).
    for (const m of [
      await loadModel(stories("stories260K.bin"), { backend, tokenizer: stories("tok512.bin") }),
      await loadModel(stories("stories260K.gguf"), { backend, contextLength: 512 }),
    ]) {
      assert.equal(m.tokenizer.bosId, 1);
      const { text, ids } = await complete(m, [1], 200);
      assert.deepEqual([1, ...ids], goldenLogits.token_ids);
      assert.equal(text, golden200);
    }
  });

  test(`[${backend}] generation stops at the context length with finish reason "length"`, async () => {
    const m = await loadModel(stories("stories260K.gguf"), { backend });
    let n = 0;
    let finish: string | undefined;
    for await (const c of m.generate([1], { maxTokens: 1000, temperature: 0, ignoreEos: true })) {
      if (c.tokenId !== undefined) n++;
      finish = c.finishReason ?? finish;
    }
    assert.equal(n, 127); // 1 prompt token + 127 generated = the GGUF's 128 positions
    assert.equal(finish, "length");
  });
}
