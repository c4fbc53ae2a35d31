/**
 * Long generations against one running slot: a client that disconnects mid-stream frees its KV
 * blocks at once; a full queue answers 429 with Retry-After; a model without a chat template
 * answers chat requests with a clear 400. stories260K with --ctx-size 2048 and ignore_eos makes
 * generations long enough (~2000 tokens) to act on them while they run.
 */
import { after, before, test } from "node:test";
import * as assert from "node:assert/strict";
import OpenAI from "openai";
import { startServer, type RunningServer } from "../../src/server/app.js";
import { stories } from "../helpers/paths.js";
import { isErrorShape, metric, post, raw, waitFor } from "../helpers/server.js";

const MODEL = "tiny";
let server: RunningServer;
let client: OpenAI;

before(async () => {
  server = await startServer({
    model: stories("stories260K.gguf"), port: 0, servedModelName: MODEL, contextLength: 2048,
    maxNumSeqs: 1, maxQueue: 1, logIntervalMs: 0, log: () => undefined,
  });
  await server.ready;
  client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: "unused", maxRetries: 0 });
});

after(async () => {
  await server.close();
});

const longRequest = { model: MODEL, prompt: "Once upon a time", max_tokens: 2000, temperature: 0, stream: true as const, ...({ ignore_eos: true } as unknown as Record<string, never>) };

async function metrics(): Promise<string> {
  return (await raw(`${server.url}/metrics`)).text;
}

test("a client that disconnects mid-stream aborts its request: KV blocks freed, running back to 0", async () => {
  const stream = await client.completions.create(longRequest);
  let n = 0;
  for await (const chunk of stream) {
    if (chunk.choices[0]?.text && ++n === 5) break; // breaking out of the stream aborts the HTTP request
  }
  await waitFor(async () => {
    const m = await metrics();
    return metric(m, "fennec:num_requests_running") === 0 && metric(m, "fennec:kv_cache_usage_perc") === 0
      && metric(m, "fennec:request_success_total", 'finished_reason="abort"') === 1;
  }, 3000, "the aborted request to free its blocks");
  const m = await metrics();
  assert.ok(metric(m, "fennec:generation_tokens_total") < 1500, "stopped long before max_tokens");
  // The server still serves.
  const ok = await client.completions.create({ model: MODEL, prompt: "Once upon a time", max_tokens: 5, temperature: 0 });
  assert.equal(ok.choices[0]?.text, ", there was a little");
});

test("queue full: 429 with Retry-After and an OpenAI error; accepted again once the queue drains", async () => {
  const running = await client.completions.create(longRequest);
  const it = running[Symbol.asyncIterator]();
  await it.next(); // running
  const waiting = await client.completions.create(longRequest); // headers received: queued behind it
  const r = await post(`${server.url}/v1/completions`, { model: MODEL, prompt: "hi", max_tokens: 5 });
  assert.equal(r.status, 429, r.text);
  assert.equal(r.headers.get("retry-after"), "1");
  assert.ok(isErrorShape(r.json));
  assert.equal(r.json.error.type, "rate_limit_error");
  assert.equal(r.json.error.code, "rate_limit_exceeded");
  await assert.rejects(client.completions.create({ model: MODEL, prompt: "hi", max_tokens: 5 }), (e: unknown) => e instanceof OpenAI.RateLimitError);
  running.controller.abort();
  waiting.controller.abort();
  await waitFor(async () => {
    const m = await metrics();
    return metric(m, "fennec:num_requests_running") === 0 && metric(m, "fennec:num_requests_waiting") === 0 && metric(m, "fennec:kv_cache_usage_perc") === 0;
  }, 3000, "both requests to end");
  const ok = await client.completions.create({ model: MODEL, prompt: "Once upon a time", max_tokens: 5, temperature: 0 });
  assert.equal(ok.choices[0]?.finish_reason, "length");
});

test("no chat template: chat requests get a 400 that says how to fix it", async () => {
  const r = await post(`${server.url}/v1/chat/completions`, { model: MODEL, messages: [{ role: "user", content: "hi" }] });
  assert.equal(r.status, 400);
  assert.ok(isErrorShape(r.json));
  assert.match(r.json.error.message, /no chat template.*--chat-template/);
});

test("close() lets an in-flight request finish, then refuses new connections", async () => {
  const s = await startServer({ model: stories("stories260K.gguf"), port: 0, contextLength: 1024, log: () => undefined, logIntervalMs: 0 });
  await s.ready;
  const c = new OpenAI({ baseURL: `${s.url}/v1`, apiKey: "unused", maxRetries: 0 });
  const stream = await c.completions.create({ ...longRequest, model: "stories260K", max_tokens: 800 });
  const it = stream[Symbol.asyncIterator]();
  const first = await it.next();
  assert.equal(first.done, false);
  const closed = s.close();
  let text = "";
  let finish: string | null | undefined;
  for (let r = await it.next(); !r.done; r = await it.next()) {
    text += r.value.choices[0]?.text ?? "";
    finish = r.value.choices[0]?.finish_reason ?? finish;
  }
  assert.equal(finish, "length");
  assert.ok(text.length > 500);
  await closed;
  await assert.rejects(fetch(`${s.url}/health`));
});
