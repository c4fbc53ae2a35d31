/**
 * `fennec bench serve` against a fake OpenAI-compatible server with known timings
 * (test/helpers/fake-openai.ts), the HTML report rendered by headless Chromium, and a real Fennec
 * server on stories260K when src/server/app.ts exports startServer.
 */
import { after, test } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { Xoshiro128StarStar } from "../../src/sampling/rng.js";
import { buildDataset, readJsonl } from "../../src/bench/serve/dataset.js";
import { sseData } from "../../src/bench/serve/client.js";
import { arrivalTimes } from "../../src/bench/serve/runner.js";
import { mean, peakConcurrency, percentile, std } from "../../src/bench/serve/metrics.js";
import { histogram, niceStep } from "../../src/bench/serve/charts.js";
import { formatSummary, type BenchResult } from "../../src/bench/serve/report.js";
import { renderHtml } from "../../src/bench/serve/html.js";
import { benchServe, benchServeCommand, type BenchServeOptions } from "../../src/cli/bench-serve.js";
import { startFakeOpenAi, type FakeOpenAi } from "../helpers/fake-openai.js";
import { dumpDom, findChromium } from "../helpers/chromium.js";
import { repoRoot, stories } from "../helpers/paths.js";
import { runCli } from "../helpers/run-cli.js";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "fennec-bench-"));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));
const silent = { write: (): boolean => true, isTTY: false };

async function withServer<T>(opts: { ttftMs: number; itlMs: number }, fn: (s: FakeOpenAi) => Promise<T>): Promise<T> {
  const s = await startFakeOpenAi(opts);
  try {
    return await fn(s);
  } finally {
    await s.close();
  }
}

function jsonl(name: string, lines: readonly unknown[]): string {
  const file = path.join(tmp, name);
  fs.writeFileSync(file, lines.map((l) => JSON.stringify(l)).join("\n") + "\n");
  return file;
}

const within = (v: number, lo: number, hi: number, what: string): void => assert.ok(v >= lo && v <= hi, `${what} = ${v}, expected in [${lo}, ${hi}]`);

// ---- pieces ----

test("percentile, mean and std agree with numpy", () => {
  const a = [1, 2, 3, 4];
  assert.equal(percentile(a, 50), 2.5);
  assert.ok(Math.abs(percentile(a, 99) - 3.97) < 1e-12);
  assert.equal(percentile([5], 99), 5);
  assert.equal(percentile([], 99), 0);
  assert.equal(mean(a), 2.5);
  assert.ok(Math.abs(std(a) - Math.sqrt(1.25)) < 1e-12);
});

test("Poisson arrivals: seeded, exponential gaps at the rate, the last at n / rate; inf = all at once", () => {
  const a = arrivalTimes(2000, 10, new Xoshiro128StarStar(1));
  const b = arrivalTimes(2000, 10, new Xoshiro128StarStar(1));
  assert.deepEqual(a, b);
  assert.ok(Math.abs((a[1999] ?? 0) - 200) < 1e-9);
  const gaps = a.map((t, i) => t - (i === 0 ? 0 : a[i - 1] ?? 0));
  assert.ok(gaps.every((g) => g >= 0));
  within(mean(gaps), 0.099, 0.101, "mean gap");
  within(std(gaps), 0.09, 0.11, "std of the gaps (exponential: std = mean)");
  assert.deepEqual(arrivalTimes(3, Infinity, new Xoshiro128StarStar(1)), [0, 0, 0]);
});

test("peak concurrency over half-open intervals", () => {
  assert.equal(peakConcurrency([{ start: 0, end: 1 }, { start: 1, end: 2 }]), 1);
  assert.equal(peakConcurrency([{ start: 0, end: 2 }, { start: 1, end: 3 }, { start: 1.5, end: 1.6 }]), 3);
  assert.equal(peakConcurrency([]), 0);
});

test("SSE parsing: CRLF, events split across chunks, comments, multi-line data", async () => {
  const enc = new TextEncoder();
  async function* chunks(): AsyncGenerator<Uint8Array> {
    for (const s of [": keep-alive\r\n\r\ndata: {\"a\"", ":1}\r\n\r\nda", "ta: x\ndata: y\n\n", "data: [DONE]"]) yield enc.encode(s);
  }
  const got: string[] = [];
  for await (const d of sseData(chunks())) got.push(d);
  assert.deepEqual(got, ['{"a":1}', "x\ny", "[DONE]"]);
});

test("datasets: random lengths within the range ratio, a shared prefix, JSONL with line-numbered errors", () => {
  const r = buildDataset({ kind: "random", inputLen: 100, outputLen: 20, rangeRatio: 0.5 }, 200, new Xoshiro128StarStar(3));
  assert.equal(r.length, 200);
  for (const q of r) {
    within(q.approxInputLen, 50, 150, "input words");
    assert.equal(q.prompt.split(" ").length, q.approxInputLen);
    within(q.outputLen, 10, 30, "output len");
  }
  assert.deepEqual(r, buildDataset({ kind: "random", inputLen: 100, outputLen: 20, rangeRatio: 0.5 }, 200, new Xoshiro128StarStar(3)));
  const p = buildDataset({ kind: "prefix-repetition", prefixLen: 30, inputLen: 10, outputLen: 5, rangeRatio: 0 }, 5, new Xoshiro128StarStar(3));
  const prefix = p[0]?.prompt.split(" ").slice(0, 30).join(" ");
  assert.ok(p.every((q) => q.prompt.startsWith(`${prefix} `) && q.prompt.split(" ").length === 40 && q.outputLen === 5));
  assert.notEqual(p[0]?.prompt, p[1]?.prompt);
  const file = jsonl("ok.jsonl", [{ prompt: "a b c" }, { prompt: "d", output_len: 7 }]);
  assert.deepEqual(readJsonl(file, 3).map((q) => q.outputLen), [3, 7]);
  assert.equal(buildDataset({ kind: "jsonl", file, outputLen: 3 }, 5, new Xoshiro128StarStar(0)).length, 5);
  const bad = path.join(tmp, "bad.jsonl");
  fs.writeFileSync(bad, '{"prompt": "ok"}\n{"prompt": 3}\n');
  assert.throws(() => readJsonl(bad, 3), /bad\.jsonl:2: expected \{"prompt"/);
});

test("histogram bins: nice edges, every value counted, far outliers kept apart", () => {
  assert.equal(niceStep(0.7), 1);
  assert.equal(niceStep(0.023), 0.025);
  assert.equal(niceStep(3), 5);
  const values = [...Array.from({ length: 1000 }, (_, i) => 10 + (i % 100) / 10), 5000];
  const h = histogram(values);
  assert.equal(h.counts.reduce((s, c) => s + c, 0) + h.numOverflow, values.length);
  assert.equal(h.numOverflow, 1);
  assert.equal(h.max, 5000);
  assert.ok((h.edges[0] ?? Infinity) <= 10 && (h.edges[h.edges.length - 1] ?? 0) >= 19.9);
});

// ---- against the fake server ----

const TTFT = 60;
const ITL = 12;

function options(s: FakeOpenAi, extra: Partial<BenchServeOptions> = {}): BenchServeOptions {
  return {
    baseUrl: s.url, endpoint: "/v1/completions", dataset: { kind: "random", inputLen: 40, outputLen: 10, rangeRatio: 0 },
    numPrompts: 12, requestRate: Infinity, maxConcurrency: 4, seed: 0, log: silent, ...extra,
  };
}

test("metrics match the server's known timings (TTFT, TPOT, ITL, E2EL, throughput, concurrency)", async () => {
  await withServer({ ttftMs: TTFT, itlMs: ITL }, async (s) => {
    const r = await benchServe(options(s));
    assert.equal(r.completed, 12);
    assert.equal(r.failed, 0);
    assert.equal(r.model_id, "fake-model", "the model comes from /v1/models when not given");
    assert.equal(r.total_output_tokens, 120);
    assert.equal(r.total_input_tokens, 12 * 40, "input tokens come from the server's usage");
    assert.equal(r.input_tokens_estimated, false);
    assert.deepEqual(r.output_lens, new Array(12).fill(10));
    // Ground truth: what the server actually did (its timers may fire late on a busy machine), on the
    // same clock as the client. The client sends before the server receives and reads after it writes.
    const t = s.timings.slice(1); // [0] is the initial test request
    assert.equal(t.length, 12);
    const serverTtfts = t.map((x) => (x.chunkAt[0] ?? 0) - x.receivedAt);
    const serverGaps = t.flatMap((x) => x.chunkAt.slice(1).map((c, i) => c - (x.chunkAt[i] ?? 0)));
    const serverE2e = t.map((x) => x.endAt - x.receivedAt);
    assert.ok(serverTtfts.every((v) => v >= TTFT - 2) && serverGaps.every((v) => v >= ITL - 2), "the server's own delays");
    // TTFT adds the client's own overhead (connection, event loop) to the server's: never less; bounded
    // generously, since this machine may be shared with other CPU-heavy jobs.
    within(r.mean_ttft_ms, mean(serverTtfts), mean(serverTtfts) + 250, "mean TTFT vs the server's");
    within(r.median_ttft_ms, TTFT - 1, Infinity, "median TTFT");
    // Differences within one stream cancel that overhead: these match the server's tightly.
    within(r.mean_itl_ms, mean(serverGaps) - 3, mean(serverGaps) + 3, "mean ITL vs the server's gaps");
    within(r.median_itl_ms, ITL - 2, Infinity, "median ITL");
    // TPOT spreads the whole tail (last chunk + usage + [DONE]) over the 9 gaps.
    within(r.mean_tpot_ms, mean(serverGaps) - 3, mean(serverGaps) + 4, "mean TPOT vs the server's gaps");
    const clientDecode = mean(r.latencies.map((l, i) => (l - (r.ttfts[i] ?? 0)) * 1000));
    const serverDecode = mean(t.map((x) => x.endAt - (x.chunkAt[0] ?? 0)));
    within(clientDecode, serverDecode - 5, serverDecode + 20, "mean E2EL - TTFT vs the server's first chunk -> end");
    within(r.mean_e2el_ms, mean(serverE2e), mean(serverE2e) + 250, "mean E2EL vs the server's");
    within(r.median_e2el_ms, TTFT + 9 * ITL - 2, Infinity, "median E2EL");
    assert.ok(r.p99_e2el_ms >= r.median_e2el_ms && r.p99_ttft_ms >= r.median_ttft_ms && r.p99_itl_ms >= r.median_itl_ms);
    assert.equal(r.max_concurrent_requests, 4);
    assert.equal(s.maxInFlight(), 4);
    // 12 requests, 4 at a time: 3 waves; the run ends with the last response.
    const lastEnd = Math.max(...r.start_times.map((st, i) => st + (r.latencies[i] ?? 0)));
    within(r.duration, lastEnd, lastEnd + 0.1, "duration");
    within(r.duration, (3 * (TTFT + 9 * ITL)) / 1000, Infinity, "duration");
    assert.ok(Math.abs(r.request_throughput - 12 / r.duration) < 1e-9);
    assert.ok(r.itls.every((gaps) => gaps.length === 9));
    // What was sent: streaming, usage requested, max_tokens = output length, ignore_eos.
    const body = s.bodies[s.bodies.length - 1] ?? {};
    assert.equal(body["stream"], true);
    assert.deepEqual(body["stream_options"], { include_usage: true });
    assert.equal(body["max_tokens"], 10);
    assert.equal(body["ignore_eos"], true);
    assert.equal(body["model"], "fake-model");
  });
});

test("failed requests are counted (HTTP 500, connection cut mid-stream) and their errors kept", async () => {
  await withServer({ ttftMs: 5, itlMs: 2 }, async (s) => {
    const file = jsonl("mixed.jsonl", [
      { prompt: "hello there", output_len: 6 }, { prompt: "please FAIL now" }, { prompt: "one two three" },
      { prompt: "DROP this one", output_len: 8 }, { prompt: "four five", output_len: 4 }, { prompt: "FAIL again" },
    ]);
    const r = await benchServe(options(s, { dataset: { kind: "jsonl", file, outputLen: 5 }, numPrompts: undefined }));
    assert.equal(r.num_prompts, 6);
    assert.equal(r.completed, 3);
    assert.equal(r.failed, 3);
    assert.match(r.errors[1] ?? "", /^HTTP 500: injected failure$/);
    assert.notEqual(r.errors[3], "");
    assert.equal(r.errors[5], "HTTP 500: injected failure");
    assert.deepEqual([r.errors[0], r.errors[2], r.errors[4]], ["", "", ""]);
    assert.deepEqual(r.output_lens, [6, 0, 5, 0, 4, 0]);
    assert.equal(r.total_output_tokens, 15);
    assert.equal(r.total_input_tokens, 2 + 3 + 2);
    assert.match(formatSummary(r), /^Failed requests:\s+3\s*$/m);
  });
});

test("chat endpoint, explicit model, a server without usage (input tokens estimated, output = chunks)", async () => {
  await withServer({ ttftMs: 5, itlMs: 2 }, async (s) => {
    const file = jsonl("nousage.jsonl", [{ prompt: "NOUSAGE a b c d", output_len: 5 }]);
    const r = await benchServe(options(s, { endpoint: "/v1/chat/completions", model: "m", dataset: { kind: "jsonl", file, outputLen: 5 }, numPrompts: 3 }));
    assert.equal(r.backend, "openai-chat");
    within(r.median_ttft_ms, 4, Infinity, "TTFT counts the first text, not the role-only first chunk");
    assert.equal(r.completed, 3);
    assert.equal(r.input_tokens_estimated, true);
    assert.equal(r.total_input_tokens, 15);
    assert.equal(r.total_output_tokens, 15);
    const body = s.bodies[0] ?? {};
    assert.deepEqual(body["messages"], [{ role: "user", content: "NOUSAGE a b c d" }]);
    assert.equal(body["model"], "m");
  });
});

test("a finite request rate spreads the sends over n / rate seconds", async () => {
  await withServer({ ttftMs: 2, itlMs: 1 }, async (s) => {
    const r = await benchServe(options(s, { numPrompts: 20, requestRate: 25, maxConcurrency: undefined, dataset: { kind: "random", inputLen: 5, outputLen: 3, rangeRatio: 0 } }));
    assert.equal(r.request_rate, 25);
    const last = Math.max(...r.start_times);
    within(last, 0.8 - 0.01, 0.8 + 0.15, "last send time");
    assert.ok(r.start_times.every((t, i) => i === 0 || t >= (r.start_times[i - 1] ?? 0)));
  });
});

async function closedPort(): Promise<number> {
  const srv = http.createServer();
  await new Promise<void>((resolve) => srv.listen(0, "127.0.0.1", resolve));
  const port = (srv.address() as AddressInfo).port;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

test("an unreachable server or a failing test request is one clear error", async () => {
  const port = await closedPort();
  const dead = { url: `http://127.0.0.1:${port}` } as FakeOpenAi;
  await assert.rejects(benchServe({ ...options(dead), model: "m", readyTimeoutS: 0 }), new RegExp(`initial test run failed against http://127\\.0\\.0\\.1:${port}/v1/completions: fetch failed: ECONNREFUSED`));
  await assert.rejects(benchServe({ ...options(dead), readyTimeoutS: 0.6 }), new RegExp(`--model: not given, and http://127\\.0\\.0\\.1:${port}/v1/models did not name one \\(ECONNREFUSED\\)`));
  await withServer({ ttftMs: 1, itlMs: 1 }, async (s) => {
    await assert.rejects(benchServe({ ...options(s), endpoint: "/v1/nope", readyTimeoutS: 0 }), /initial test run failed against .*\/v1\/nope: HTTP 404: not found\. Check --base-url/);
  });
  await assert.rejects(benchServeCommand(["--base-url", "http://x", "--request-rate", "0"]), /--request-rate: expected a number > 0 or "inf"/);
  await assert.rejects(benchServeCommand(["--dataset", "nope"]), /--dataset: expected random, prefix-repetition or a \.jsonl file/);
});

// ---- the CLI, the saved JSON and the HTML report ----

const VLLM_KEYS = [
  "date", "backend", "model_id", "num_prompts", "request_rate", "burstiness", "max_concurrency",
  "duration", "completed", "failed", "total_input_tokens", "total_output_tokens", "request_throughput",
  "output_throughput", "total_token_throughput", "max_output_tokens_per_s", "max_concurrent_requests",
  ...["ttft", "tpot", "itl", "e2el"].flatMap((m) => ["mean", "median", "std", "p99"].map((s) => `${s}_${m}_ms`)),
  "input_lens", "output_lens", "ttfts", "itls", "latencies", "start_times", "errors", "generated_texts", "machine",
];

async function cliRun(s: FakeOpenAi, extra: string[]): Promise<{ code: number; stdout: string; json: BenchResult; html: string }> {
  const save = path.join(tmp, `r-${Date.now()}.json`);
  const html = path.join(tmp, `r-${Date.now()}.html`);
  let stdout = "";
  const code = await benchServeCommand(["--base-url", s.url, "--save-result", save, "--html", html, ...extra], {
    stdout: { write: (t: string) => { stdout += t; return true; } },
    stderr: silent,
  });
  return { code, stdout, json: JSON.parse(fs.readFileSync(save, "utf8")) as BenchResult, html };
}

test("CLI: vLLM's boxed summary on stdout, every JSON field saved, a self-contained HTML page", async () => {
  await withServer({ ttftMs: 20, itlMs: 4 }, async (s) => {
    const r = await cliRun(s, ["--num-prompts", "16", "--max-concurrency", "4", "--random-input-len", "30", "--random-output-len", "8", "--request-rate", "100", "--seed", "7"]);
    assert.equal(r.code, 0);
    const lines = r.stdout.split("\n");
    assert.equal(lines[0], "============ Serving Benchmark Result ============");
    for (const label of ["Successful requests:", "Failed requests:", "Maximum request concurrency:", "Request rate configured (RPS):", "Benchmark duration (s):",
      "Total input tokens:", "Total generated tokens:", "Request throughput (req/s):", "Output token throughput (tok/s):",
      "Peak concurrent requests:", "Total Token throughput (tok/s):", "Mean TTFT (ms):", "Median TTFT (ms):", "P99 TTFT (ms):",
      "Mean TPOT (ms):", "Median TPOT (ms):", "P99 TPOT (ms):", "Mean ITL (ms):", "Median ITL (ms):", "P99 ITL (ms):",
      "Mean E2EL (ms):", "Median E2EL (ms):", "P99 E2EL (ms):"]) {
      const line = lines.find((l) => l.startsWith(label));
      assert.ok(line, `missing ${label}`);
      assert.match(line, /^.{40} \d+(\.\d\d)? *$/, line);
    }
    assert.ok(lines.includes("---------------Time to First Token----------------"));
    assert.ok(lines.includes("-----Time per Output Token (excl. 1st token)------"));
    assert.ok(lines.includes("=".repeat(50)));
    assert.match(r.stdout, /^Successful requests: {21}16 {8}$/m);
    for (const k of VLLM_KEYS) assert.ok(k in r.json, `result JSON lacks ${k}`);
    assert.equal(r.json.completed, 16);
    assert.equal(r.json.ttfts.length, 16);
    assert.equal(r.json.machine.cpu_cores, os.cpus().length);
    assert.equal(r.json.request_rate, 100);

    const page = fs.readFileSync(r.html, "utf8");
    assert.doesNotMatch(page, /<(script|link|img|iframe)[^>]+(src|href)=/i, "no external resources");
    assert.doesNotMatch(page, /url\(|@import|https?:\/\/(?!127\.0\.0\.1)(?!www\.w3\.org\/2000\/svg)/, "no URLs but the benchmarked server's and the SVG namespace");
    assert.match(page, /Serving benchmark: fake-model/);
  });
});

test("fennec bench serve through the real command line: summary on stdout, progress on stderr; bad use is one line", async () => {
  await withServer({ ttftMs: 2, itlMs: 1 }, async (s) => {
    const r = await runCli(["bench", "serve", "--base-url", `${s.url}/v1`, "--num-prompts", "20", "--random-input-len", "5", "--random-output-len", "3"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^=+ Serving Benchmark Result =+\nSuccessful requests: +20 +\n/);
    assert.match(r.stderr, /Starting initial single prompt test run\.\.\.\n/);
    assert.match(r.stderr, /bench serve \[#{30}\] 20\/20 {2}failed 0/);
  });
  const none = await runCli(["bench"]);
  assert.equal(none.code, 1);
  assert.equal(none.stderr, "fennec: bench: missing subcommand; expected one of: serve\n");
  const bad = await runCli(["bench", "serve", "--max-concurrency", "0"]);
  assert.equal(bad.code, 1);
  assert.equal(bad.stderr, "fennec: --max-concurrency: expected an integer >= 1, got \"0\"\n");
});

const chromium = findChromium();
const skipChromium = chromium === undefined && !process.env["CI"] ? "chromium is not installed (apt-get install chromium); CI must have it" : false;

test("HTML report renders in headless Chromium: six SVG charts, no script errors", { skip: skipChromium }, async () => {
  assert.ok(chromium, "CI is set but chromium is not installed");
  await withServer({ ttftMs: 15, itlMs: 3 }, async (s) => {
    const file = jsonl("html.jsonl", [{ prompt: "a b c d e", output_len: 12 }, { prompt: "FAIL <script>alert(1)</script>" }, { prompt: "f g h", output_len: 9 }]);
    const r = await cliRun(s, ["--dataset", file, "--num-prompts", "30", "--max-concurrency", "5"]);
    assert.equal(r.json.failed, 10);
    const { dom, stderr } = await dumpDom(chromium, r.html);
    const errors = stderr.split("\n").filter((l) => /Uncaught|CONSOLE\(\d+\).*(Error|error)/.test(l));
    assert.deepEqual(errors, [], stderr);
    assert.match(dom, /<body[^>]* data-charts="6"/, "all six charts drawn");
    assert.equal((dom.match(/<svg [^>]*class="chart"[^>]*data-rendered="1"/g) ?? []).length, 6);
    assert.ok((dom.match(/<rect [^>]*class="bar"/g) ?? []).length >= 4, "histogram bars");
    assert.equal((dom.match(/<path [^>]*class="line"/g) ?? []).length, 2, "throughput and concurrency lines");
    assert.match(dom, /median [\d.]+ ms/);
    assert.match(dom, /HTTP 500: injected failure \(x10\)/);
    assert.doesNotMatch(dom, /<script>alert/, "prompt text is never injected as HTML");
  });
});

test("renderHtml copes with a run where everything failed (empty charts)", { skip: skipChromium }, async () => {
  assert.ok(chromium);
  await withServer({ ttftMs: 1, itlMs: 1 }, async (s) => {
    const file = jsonl("allfail.jsonl", [{ prompt: "ok" }, { prompt: "FAIL" }]);
    const r = await benchServe(options(s, { dataset: { kind: "jsonl", file, outputLen: 2 }, numPrompts: 2 }));
    const all = { ...r, completed: 0, failed: 2, errors: ["x", "y"], ttfts: [0, 0], itls: [[], []], latencies: [0, 0], output_lens: [0, 0] } as BenchResult;
    const html = path.join(tmp, "allfail.html");
    fs.writeFileSync(html, renderHtml(all));
    const { dom, stderr } = await dumpDom(chromium, html);
    assert.deepEqual(stderr.split("\n").filter((l) => /Uncaught/.test(l)), []);
    assert.match(dom, /data-charts="6"/);
    assert.match(dom, /no TTFT values/);
  });
});

// ---- a real Fennec server ----

interface StartedServer { url?: string; baseUrl?: string; port?: number; ready?: Promise<void>; close(): Promise<void> | void }

type StartServer = (opts: Record<string, unknown>) => Promise<StartedServer>;

/** startServer, or why the test is skipped (not written yet), or the error importing it (a failure, not a skip). */
async function loadStartServer(): Promise<StartServer | string | Error> {
  const file = path.join(repoRoot, "src/server/app.ts");
  if (!fs.existsSync(file)) return "src/server/app.ts does not exist yet";
  try {
    const mod = await import("../../src/server/app.js" as string) as Record<string, unknown>;
    const start = mod["startServer"];
    return typeof start === "function" ? start as StartServer : "src/server/app.ts does not export startServer";
  } catch (e) {
    return e instanceof Error ? e : new Error(String(e));
  }
}

const startServer = await loadStartServer();

test("against a real Fennec server on stories260K", { skip: typeof startServer === "string" ? startServer : false }, async () => {
  if (typeof startServer === "string") return;
  if (startServer instanceof Error) throw startServer;
  const server = await startServer({ model: stories("stories260K.gguf"), host: "127.0.0.1", port: 0, logIntervalMs: 0, log: () => {} });
  try {
    await server.ready;
    const base = server.url ?? server.baseUrl ?? `http://127.0.0.1:${server.port ?? 0}`;
    const r = await benchServe({
      baseUrl: base, endpoint: "/v1/completions", dataset: { kind: "random", inputLen: 20, outputLen: 16, rangeRatio: 0 },
      numPrompts: 8, requestRate: Infinity, maxConcurrency: 4, seed: 0, log: silent,
    });
    assert.equal(r.failed, 0, r.errors.join("; "));
    assert.equal(r.completed, 8);
    assert.equal(r.total_output_tokens, 8 * 16, "ignore_eos + max_tokens give exactly the requested length");
    assert.equal(r.input_tokens_estimated, false);
    assert.ok(r.total_input_tokens > 8 * 20 * 0.5);
    assert.ok(r.mean_ttft_ms > 0 && r.mean_tpot_ms > 0 && r.median_e2el_ms > r.median_ttft_ms);
  } finally {
    await server.close();
  }
});
