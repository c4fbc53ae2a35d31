/**
 * The OpenAI-compatible server, black-box on 127.0.0.1 with the official `openai` client, serving
 * stories260K (context 128, no chat template of its own: a ChatML-like one is passed in).
 */
import { after, before, test } from "node:test";
import * as assert from "node:assert/strict";
import { Template } from "@huggingface/jinja";
import OpenAI from "openai";
import { startServer, type RunningServer } from "../../src/server/app.js";
import { METRIC_NAMES } from "../../src/server/metrics.js";
import type { RequestRecord } from "../../src/server/openai/serving.js";
import { loadTokenizer } from "../../src/tokenizer/index.js";
import { stories } from "../helpers/paths.js";
import { CHATML_TEMPLATE, chatTemplateFile, isErrorShape, metric, post, raw } from "../helpers/server.js";

const MODEL = "stories260K";
const KEY = "test-key";
const modelPath = stories("stories260K.gguf");
const tokenizer = loadTokenizer(modelPath);
const logLines: string[] = [];
const records: RequestRecord[] = [];
let server: RunningServer;
let client: OpenAI;
let healthWhileLoading = 0;
const auth = { Authorization: `Bearer ${KEY}` };

before(async () => {
  server = await startServer({
    model: modelPath, port: 0, apiKey: KEY, chatTemplate: chatTemplateFile(),
    logIntervalMs: 200, log: (l) => logLines.push(l), onRequest: (r) => records.push(r),
  });
  healthWhileLoading = (await raw(`${server.url}/health`)).status;
  await server.ready;
  client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: KEY, maxRetries: 0 });
});

after(async () => {
  await server.close();
});

/** vLLM-style extras the typed client does not know (sent as-is). */
const extras = (x: Record<string, unknown>): Record<string, never> => x as Record<string, never>;

async function completion(prompt: string, opts: Record<string, unknown>): Promise<OpenAI.Completion> {
  return client.completions.create({ model: MODEL, prompt, stream: false, ...extras(opts) });
}

async function streamedCompletion(prompt: string, opts: Record<string, unknown>): Promise<{ text: string; chunks: OpenAI.Completion[] }> {
  const stream = await client.completions.create({ model: MODEL, prompt, stream: true, ...extras(opts) });
  const chunks: OpenAI.Completion[] = [];
  for await (const c of stream) chunks.push(c);
  return { text: chunks.flatMap((c) => c.choices.map((x) => x.text)).join(""), chunks };
}

const messages: OpenAI.ChatCompletionMessageParam[] = [
  { role: "system", content: "You tell short stories." },
  { role: "user", content: "Once upon a time" },
];

test("health: 503 while loading, 200 when ready; /v1/models lists the model with its context length", async () => {
  assert.equal(healthWhileLoading, 503);
  const h = await raw(`${server.url}/health`);
  assert.equal(h.status, 200);
  const models = await client.models.list();
  assert.equal(models.data.length, 1);
  const m = models.data[0] as OpenAI.Model & { max_model_len: number };
  assert.equal(m.id, MODEL);
  assert.equal(m.object, "model");
  assert.equal(m.owned_by, "fennec");
  assert.ok(Number.isInteger(m.created) && m.created > 1.6e9);
  assert.equal(m.max_model_len, 128);
  assert.equal((await client.models.retrieve(MODEL)).id, MODEL);
  assert.ok(logLines.some((l) => /^loaded stories260K \(gguf, context 128/.test(l)), logLines.join("\n"));
});

test("completions: stream text == non-stream text for the same seed; usage counts match the tokenizer", async () => {
  const prompt = "Once upon a time";
  const opts = { max_tokens: 40, temperature: 0.9, seed: 42, logprobs: 0 };
  const full = await completion(prompt, opts);
  const choice = full.choices[0];
  assert.ok(choice);
  assert.match(full.id, /^cmpl-/);
  assert.equal(full.object, "text_completion");
  assert.equal(full.model, MODEL);
  assert.ok(choice.finish_reason === "length" || choice.finish_reason === "stop");
  const u = full.usage;
  assert.ok(u);
  assert.equal(u.prompt_tokens, tokenizer.encode(prompt).length);
  assert.equal(u.completion_tokens, choice.logprobs?.tokens?.length);
  assert.equal(u.total_tokens, u.prompt_tokens + u.completion_tokens);
  assert.equal(typeof u.prompt_tokens_details?.cached_tokens, "number");
  if (choice.finish_reason === "length") assert.equal(u.completion_tokens, 40);

  const s = await streamedCompletion(prompt, { ...opts, stream_options: { include_usage: true } });
  assert.equal(s.text, choice.text);
  const last = s.chunks.at(-1);
  assert.deepEqual(last?.choices, []);
  assert.deepEqual(last?.usage, u);
  const finishes = s.chunks.flatMap((c) => c.choices.filter((x) => x.finish_reason !== null));
  assert.equal(finishes.length, 1);
  assert.equal(finishes[0]?.finish_reason, choice.finish_reason);
  assert.equal(s.chunks.at(-2)?.choices[0]?.finish_reason, choice.finish_reason, "the last content chunk carries finish_reason");
  // Greedy continuation is the model's known text.
  const greedy = await completion(prompt, { max_tokens: 12, temperature: 0 });
  assert.equal(greedy.choices[0]?.text, ", there was a little girl named Lily. She");
});

test("chat: stream == non-stream for the same seed; role first, finish_reason last, usage chunk; prompt tokens = template + tokenizer", async () => {
  const opts = { max_tokens: 30, temperature: 0.8, seed: 3 };
  const full = await client.chat.completions.create({ model: MODEL, messages, ...opts });
  assert.match(full.id, /^chatcmpl-/);
  assert.equal(full.object, "chat.completion");
  const choice = full.choices[0];
  assert.equal(choice?.message.role, "assistant");
  const rendered = new Template(CHATML_TEMPLATE).render({ messages, add_generation_prompt: true, bos_token: "<s>", eos_token: "</s>" });
  assert.equal(full.usage?.prompt_tokens, tokenizer.encode(rendered, { addSpecial: true, parseSpecial: true }).length);

  const stream = await client.chat.completions.create({ model: MODEL, messages, ...opts, stream: true, stream_options: { include_usage: true } });
  const chunks: OpenAI.ChatCompletionChunk[] = [];
  for await (const c of stream) chunks.push(c);
  assert.equal(chunks[0]?.object, "chat.completion.chunk");
  assert.equal(chunks[0]?.choices[0]?.delta.role, "assistant");
  const text = chunks.flatMap((c) => c.choices.map((x) => x.delta.content ?? "")).join("");
  assert.equal(text, choice?.message.content);
  const withFinish = chunks.filter((c) => c.choices.some((x) => x.finish_reason !== null));
  assert.equal(withFinish.length, 1);
  assert.equal(withFinish[0], chunks.at(-2));
  assert.equal(withFinish[0]?.choices[0]?.finish_reason, choice?.finish_reason);
  assert.deepEqual(chunks.at(-1)?.choices, []);
  const usage = chunks.at(-1)?.usage;
  assert.deepEqual({ ...usage, prompt_tokens_details: undefined }, { ...full.usage, prompt_tokens_details: undefined });
  // The same prompt again: its full KV blocks come from the prefix cache.
  const cached = usage?.prompt_tokens_details?.cached_tokens ?? 0;
  assert.equal(cached, Math.floor(((usage?.prompt_tokens ?? 0) - 1) / 16) * 16);
});

test("seeds: same seed, same text alone or among 8 concurrent requests; n = 3 gives choice i the text of seed + i", async () => {
  const opts = { max_tokens: 24, temperature: 1, seed: 123 };
  const alone = (await completion("The cat", opts)).choices[0]?.text;
  const others = ["A dog", "Lily went", "The sun", "Tom had", "One day", "The bird", "Mom said"];
  const together = await Promise.all([
    completion("The cat", opts),
    ...others.map((p, i) => completion(p, { ...opts, seed: i, max_tokens: 20 + i })),
  ]);
  assert.equal(together[0]?.choices[0]?.text, alone);

  const n3 = await client.chat.completions.create({ model: MODEL, messages, n: 3, max_tokens: 16, temperature: 1, seed: 10 });
  assert.deepEqual(n3.choices.map((c) => c.index), [0, 1, 2]);
  let completionTokens = 0;
  for (let i = 0; i < 3; i++) {
    const single = await client.chat.completions.create({ model: MODEL, messages, max_tokens: 16, temperature: 1, seed: 10 + i });
    assert.equal(n3.choices[i]?.message.content, single.choices[0]?.message.content, `choice ${i}`);
    assert.equal(n3.choices[i]?.finish_reason, single.choices[0]?.finish_reason);
    completionTokens += single.usage?.completion_tokens ?? NaN;
    assert.equal(n3.usage?.prompt_tokens, single.usage?.prompt_tokens, "the prompt is counted once");
  }
  assert.ok(new Set(n3.choices.map((c) => c.message.content)).size > 1, "different seeds, different texts");
  assert.equal(n3.usage?.completion_tokens, completionTokens);
});

test("n = 3 shares the prompt's full KV blocks through the prefix cache; streaming n = 3 interleaves three choices", async () => {
  const before = await raw(`${server.url}/metrics`);
  const prompt = "Zed and Quix met a very big red fox in the dark green wood near the old mill by the river";
  const numPrompt = tokenizer.encode(prompt).length;
  assert.ok(numPrompt > 33, `prompt has ${numPrompt} tokens`);
  const r = await completion(prompt, { n: 3, max_tokens: 8, temperature: 0.7, seed: 1 });
  assert.equal(r.choices.length, 3);
  assert.equal(r.usage?.prompt_tokens, numPrompt);
  const afterM = await raw(`${server.url}/metrics`);
  const hits = metric(afterM.text, "fennec:prefix_cache_hits_total") - metric(before.text, "fennec:prefix_cache_hits_total");
  const fullBlocks = Math.floor((numPrompt - 1) / 16) * 16;
  assert.ok(hits >= 2 * fullBlocks, `prefix cache hits grew by ${hits}, expected >= ${2 * fullBlocks}`);

  const s = await streamedCompletion(prompt, { n: 3, max_tokens: 8, temperature: 0.7, seed: 1 });
  for (let i = 0; i < 3; i++) {
    const text = s.chunks.flatMap((c) => c.choices.filter((x) => x.index === i).map((x) => x.text)).join("");
    assert.equal(text, r.choices[i]?.text);
  }
});

test("stop strings: never emitted, detected across token boundaries, finish_reason stop, same when streaming", async () => {
  const prompt = "Once upon a time";
  const ref = await completion(prompt, { max_tokens: 30, temperature: 0, logprobs: 0 });
  const text = ref.choices[0]?.text ?? "";
  const tokens = ref.choices[0]?.logprobs?.tokens ?? [];
  const offsets = ref.choices[0]?.logprobs?.text_offset ?? [];
  assert.equal(tokens.join(""), text);
  // A stop string made of the last character of one token and the first of the next.
  let k = 1;
  let stop = "";
  for (; k < tokens.length - 1; k++) {
    const a = tokens[k] ?? "";
    const b = tokens[k + 1] ?? "";
    if (a.trim().length === 0 || b.length === 0) continue;
    stop = a.slice(-1) + b.slice(0, 1);
    if (text.indexOf(stop) === (offsets[k + 1] ?? 0) - 1) break;
  }
  assert.ok(k < tokens.length - 1, "found a stop string spanning two tokens");
  const want = text.slice(0, text.indexOf(stop));
  const stopped = await completion(prompt, { max_tokens: 30, temperature: 0, stop: [stop, "zzzz"] });
  assert.equal(stopped.choices[0]?.text, want);
  assert.equal(stopped.choices[0]?.finish_reason, "stop");
  assert.equal(stopped.usage?.completion_tokens, k + 2, "tokens up to the one completing the stop string");
  const streamed = await streamedCompletion(prompt, { max_tokens: 30, temperature: 0, stop });
  assert.equal(streamed.text, want);
  assert.ok(!streamed.chunks.some((c) => c.choices.some((x) => x.text.includes(stop))));

  const chatRef = await client.chat.completions.create({ model: MODEL, messages, max_tokens: 20, temperature: 0 });
  const chatText = chatRef.choices[0]?.message.content ?? "";
  const word = chatText.trim().split(/\s+/)[2] ?? "";
  assert.ok(word.length > 0, chatText);
  const chatStopped = await client.chat.completions.create({ model: MODEL, messages, max_tokens: 20, temperature: 0, stop: word });
  assert.equal(chatStopped.choices[0]?.message.content, chatText.slice(0, chatText.indexOf(word)));
  assert.equal(chatStopped.choices[0]?.finish_reason, "stop");
});

test("logprobs: chat content entries with top_logprobs; completions tokens/token_logprobs/top_logprobs/text_offset; echo", async () => {
  const chat = await client.chat.completions.create({ model: MODEL, messages, max_tokens: 10, temperature: 0, logprobs: true, top_logprobs: 3 });
  const content = chat.choices[0]?.logprobs?.content ?? [];
  assert.equal(content.length, chat.usage?.completion_tokens);
  for (const e of content) {
    assert.ok(e.logprob <= 0);
    assert.deepEqual(e.bytes, [...Buffer.from(e.token, "utf8")]);
    assert.equal(e.top_logprobs.length, 3);
    assert.equal(e.top_logprobs[0]?.token, e.token, "greedy picks the most likely token");
    assert.ok(Math.abs((e.top_logprobs[0]?.logprob ?? 0) - e.logprob) < 1e-9);
  }
  assert.equal(content.map((e) => e.token).join(""), chat.choices[0]?.message.content);

  const prompt = "Lily and Tom";
  const c = await completion(prompt, { max_tokens: 8, temperature: 0, logprobs: 2, echo: true });
  const ch = c.choices[0];
  const lp = ch?.logprobs;
  assert.ok(ch?.text.startsWith(prompt));
  assert.equal(lp?.tokens?.length, 8);
  assert.equal(lp?.token_logprobs?.length, 8);
  assert.ok(lp?.top_logprobs?.every((t) => Object.keys(t).length >= 1 && Object.keys(t).length <= 2));
  assert.equal(lp?.text_offset?.[0], prompt.length);
  lp?.text_offset?.forEach((off, i) => assert.equal(ch?.text.slice(off, off + (lp.tokens?.[i]?.length ?? 0)), lp.tokens?.[i]));
});

test("errors: OpenAI shape, right status and param; the server keeps serving correctly afterwards", async () => {
  const url = `${server.url}/v1/completions`;
  const cases: { name: string; r: Promise<{ status: number; json: unknown; headers: Headers }>; status: number; param?: string | null; code?: string }[] = [
    { name: "malformed JSON", r: post(url, "{\"prompt\": ", auth), status: 400, param: null, code: "invalid_json" },
    { name: "body not an object", r: post(url, "[1, 2]", auth), status: 400, param: null },
    { name: "missing prompt", r: post(url, { model: MODEL }, auth), status: 400, param: "prompt", code: "missing_required_parameter" },
    { name: "wrong type", r: post(url, { prompt: "hi", temperature: "hot" }, auth), status: 400, param: "temperature", code: "invalid_type" },
    { name: "top_p out of range", r: post(url, { prompt: "hi", top_p: 1.5 }, auth), status: 400, param: "top_p" },
    { name: "n out of range", r: post(url, { prompt: "hi", n: 0 }, auth), status: 400, param: "n" },
    { name: "too many stops", r: post(url, { prompt: "hi", stop: ["a", "b", "c", "d", "e"] }, auth), status: 400, param: "stop" },
    { name: "logit_bias id outside vocab (engine check)", r: post(url, { prompt: "hi", logit_bias: { "99999": 5 } }, auth), status: 400, param: "logit_bias" },
    { name: "token id outside vocab", r: post(url, { prompt: [1, 4000] }, auth), status: 400, param: "prompt" },
    { name: "context exceeded", r: post(url, { prompt: "Once upon a time", max_tokens: 500 }, auth), status: 400, param: "max_tokens", code: "context_length_exceeded" },
    { name: "unknown model", r: post(url, { model: "gpt-9", prompt: "hi" }, auth), status: 404, param: "model", code: "model_not_found" },
    { name: "no API key", r: post(url, { prompt: "hi" }), status: 401, code: "invalid_api_key" },
    { name: "wrong API key", r: post(url, { prompt: "hi" }, { Authorization: "Bearer nope" }), status: 401, code: "invalid_api_key" },
    { name: "unknown route", r: raw(`${server.url}/v1/nothing`, { headers: auth }), status: 404 },
    { name: "wrong method", r: raw(url, { headers: auth }), status: 405 },
    { name: "chat: image content", r: post(`${server.url}/v1/chat/completions`, { messages: [{ role: "user", content: [{ type: "image_url", image_url: { url: "x" } }] }] }, auth), status: 400, param: "messages[0].content" },
    { name: "chat: top_logprobs without logprobs", r: post(`${server.url}/v1/chat/completions`, { messages, top_logprobs: 2 }, auth), status: 400, param: "top_logprobs" },
    { name: "chat: messages too long for max_completion_tokens", r: post(`${server.url}/v1/chat/completions`, { messages, max_completion_tokens: 120 }, auth), status: 400, param: "max_completion_tokens" },
  ];
  for (const c of cases) {
    const r = await c.r;
    assert.equal(r.status, c.status, `${c.name}: ${JSON.stringify(r.json)}`);
    assert.ok(isErrorShape(r.json), `${c.name}: ${JSON.stringify(r.json)}`);
    if (c.param !== undefined) assert.equal(r.json.error.param, c.param, c.name);
    if (c.code !== undefined) assert.equal(r.json.error.code, c.code, c.name);
  }
  const ctx = await post(url, { prompt: "Once upon a time", max_tokens: 500 }, auth);
  assert.match((ctx.json as { error: { message: string } }).error.message, /maximum context length is 128 tokens.*505 tokens \(5 in the prompt, 500 in the completion\)/);
  assert.equal((await raw(url, { headers: auth })).headers.get("allow"), "POST");
  // The typed client raises its own error classes with the status.
  await assert.rejects(client.completions.create({ model: "gpt-9", prompt: "hi" }), (e: unknown) => e instanceof OpenAI.NotFoundError);
  await assert.rejects(new OpenAI({ baseURL: `${server.url}/v1`, apiKey: "bad", maxRetries: 0 }).models.list(), (e: unknown) => e instanceof OpenAI.AuthenticationError);
  // /health and /metrics need no key; unknown fields are ignored.
  assert.equal((await raw(`${server.url}/health`)).status, 200);
  assert.equal((await raw(`${server.url}/metrics`)).status, 200);
  const ok = await completion("Once upon a time", { max_tokens: 12, temperature: 0, some_future_field: { x: 1 }, user: "alice" });
  assert.equal(ok.choices[0]?.text, ", there was a little girl named Lily. She");
  assert.ok(records.some((r) => r.user === "alice" && r.completionTokens === 12), "user recorded");
});

test("metrics: every metric name; gauges back to zero when idle; the periodic log line", async () => {
  const m = await raw(`${server.url}/metrics`);
  for (const name of METRIC_NAMES) assert.ok(m.text.includes(`# TYPE ${name} `), `missing ${name}`);
  assert.ok(m.text.includes("process_cpu_seconds_total"));
  assert.equal(metric(m.text, "fennec:num_requests_running"), 0);
  assert.equal(metric(m.text, "fennec:kv_cache_usage_perc"), 0);
  assert.ok(metric(m.text, "fennec:generation_tokens_total") > 100);
  assert.ok(metric(m.text, "fennec:request_success_total", 'finished_reason="length"') > 0);
  assert.ok(metric(m.text, "fennec:request_success_total", 'finished_reason="stop"') > 0);
  assert.ok(metric(m.text, "fennec:time_to_first_token_seconds_count") > 0);
  assert.ok(metric(m.text, "fennec:iteration_tokens_total_count") > 0);
  assert.ok(m.text.includes('model_name="stories260K"'));
  assert.ok(logLines.some((l) => /^prompt [\d.]+ tok\/s, generation [\d.]+ tok\/s, running \d+, waiting \d+, kv cache [\d.]+%, prefix cache hit rate ([\d.]+%|-)$/.test(l)),
    logLines.join("\n"));
});
