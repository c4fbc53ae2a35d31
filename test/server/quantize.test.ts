/**
 * `fennec serve --quantize TYPE` (startServer's `quantize`): the weights are converted at load in
 * the engine's worker, so the server's greedy text is the library's with the same quantization.
 * stories260K's q4_0 continuation differs from the f32 one within 40 tokens, so a server that
 * ignored the option would fail here.
 */
import { test } from "node:test";
import * as assert from "node:assert/strict";
import OpenAI from "openai";
import { loadModel } from "../../src/index.js";
import { startServer } from "../../src/server/app.js";
import { stories } from "../helpers/paths.js";

const PROMPT = "Once upon a time";

async function libraryText(quantize?: string): Promise<string> {
  const m = await loadModel(stories("stories260K.gguf"), { backend: "reference", ...(quantize ? { quantize } : {}) });
  let text = "";
  for await (const c of m.generate(PROMPT, { maxTokens: 40, temperature: 0 })) text += c.text;
  return text;
}

test("serve with quantize q4_0: same greedy text as loadModel(..., { quantize: 'q4_0' }), not the f32 text", async () => {
  const lines: string[] = [];
  const server = await startServer({ model: stories("stories260K.gguf"), port: 0, quantize: "q4_0", backend: "reference", logIntervalMs: 0, log: (l) => lines.push(l) });
  try {
    await server.ready;
    const client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: "unused", maxRetries: 0 });
    const r = await client.completions.create({ model: "stories260K", prompt: PROMPT, max_tokens: 40, temperature: 0 });
    const served = r.choices[0]?.text;
    assert.equal(served, await libraryText("q4_0"));
    assert.notEqual(served, await libraryText());
    assert.ok(lines.some((l) => l.includes("weights quantized at load to q4_0")), lines.join("\n"));
  } finally {
    await server.close();
  }
});
