/**
 * `fennec bench serve`: load-test any OpenAI-compatible server the way `vllm bench serve` does and
 * print vLLM's summary (stdout); progress and notes go to stderr. `--save-result` writes the JSON,
 * `--html` a self-contained report page.
 */
import * as fs from "node:fs";
import { InvalidArgumentError } from "../errors.js";
import { Xoshiro128StarStar } from "../sampling/rng.js";
import { buildDataset, type DatasetSpec } from "../bench/serve/dataset.js";
import { sendRequest } from "../bench/serve/client.js";
import { runBenchmark, type RunProgress } from "../bench/serve/runner.js";
import { computeMetrics } from "../bench/serve/metrics.js";
import { buildResult, errorDigest, formatSummary, type BenchResult, type RunDescription } from "../bench/serve/report.js";
import { renderHtml } from "../bench/serve/html.js";
import { bar, ProgressLine, type ProgressStream } from "../util/progress.js";
import { numberFlag, parse, stringFlag } from "./args.js";

export const BENCH_SERVE_USAGE = `fennec bench serve --base-url URL [--model NAME] [--dataset random|prefix-repetition|FILE.jsonl]
    [--num-prompts N] [--request-rate R|inf] [--max-concurrency C] [--random-input-len I] [--random-output-len O]
    [--random-range-ratio F] [--prefix-len P] [--seed S] [--endpoint /v1/completions|/v1/chat/completions]
    [--api-key K] [--save-result FILE.json] [--html FILE.html] [--ready-timeout S]`;

export interface BenchServeOptions {
  readonly baseUrl: string;
  readonly endpoint: string;
  /** Undefined: the first model the server lists at /v1/models. */
  readonly model?: string;
  readonly apiKey?: string;
  readonly dataset: DatasetSpec;
  /** Undefined: 1000, or every line of a JSONL file. */
  readonly numPrompts?: number;
  readonly requestRate: number;
  readonly maxConcurrency?: number;
  readonly seed: number;
  readonly ignoreEos?: boolean;
  /** Progress and notes (default process.stderr). */
  readonly log?: ProgressStream;
  readonly signal?: AbortSignal;
  /** How long to wait for a server that is still starting (connection refused, HTTP 503); default 60 s. */
  readonly readyTimeoutS?: number;
}

const note = (log: ProgressStream, s: string): void => {
  log.write(`${s}\n`);
};

type Attempt<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: string };

/** A server that is still starting refuses connections or answers 503 (model loading). */
const isNotReady = (error: string): boolean => /^HTTP 503\b|ECONNREFUSED|ECONNRESET/.test(error);

/** Run `attempt` until it succeeds, retrying while the server is not ready yet, for up to `timeoutS`. */
async function whenReady<T>(timeoutS: number, log: ProgressStream, signal: AbortSignal | undefined, attempt: () => Promise<Attempt<T>>): Promise<Attempt<T>> {
  const deadline = Date.now() + timeoutS * 1000;
  let noted = false;
  for (;;) {
    const r = await attempt();
    if (r.ok || !isNotReady(r.error) || Date.now() >= deadline || signal?.aborted) return r;
    if (!noted) note(log, `Waiting up to ${timeoutS} s for the server to be ready (${r.error})...`);
    noted = true;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

async function listModels(baseUrl: string, apiKey: string | undefined): Promise<Attempt<string>> {
  try {
    const res = await fetch(`${baseUrl}/v1/models`, { headers: apiKey !== undefined ? { authorization: `Bearer ${apiKey}` } : {} });
    if (!res.ok) {
      await res.body?.cancel();
      return { ok: false, error: `HTTP ${res.status}` };
    }
    const body = await res.json() as { data?: { id?: string }[] };
    const id = body.data?.[0]?.id;
    return id !== undefined ? { ok: true, value: id } : { ok: false, error: "it lists no model" };
  } catch (e) {
    const err = e as Error & { cause?: { code?: string } };
    return { ok: false, error: err.cause?.code ?? err.message };
  }
}

function datasetName(d: DatasetSpec): string {
  return d.kind === "jsonl" ? d.file : d.kind;
}

/** A bar redrawn on a terminal (kept at the end, as tqdm does); a line per 10% otherwise. */
function progressReporter(log: ProgressStream): { update: (p: RunProgress) => void; end: () => void } {
  const line = new ProgressLine(log, 100);
  let lastDecile = 0;
  let lastText: string | undefined;
  return {
    update: (p) => {
      const text = `bench serve ${bar(p.numDone / p.numTotal, 30)} ${p.numDone}/${p.numTotal}  failed ${p.numFailed}  in flight ${p.numInFlight}  ${p.elapsedS.toFixed(1)} s`;
      lastText = text;
      if (line.isTTY) {
        line.draw(text, p.numDone === p.numTotal);
        return;
      }
      const decile = Math.floor((10 * p.numDone) / p.numTotal);
      if (p.numTotal >= 10 && decile > lastDecile) {
        lastDecile = decile;
        note(log, text);
      }
    },
    end: () => line.end(line.isTTY ? lastText : undefined),
  };
}

function describeRun(o: BenchServeOptions, r: { baseUrl: string; model: string; chat: boolean; numPrompts: number }): RunDescription {
  return {
    backend: r.chat ? "openai-chat" : "openai",
    base_url: r.baseUrl,
    endpoint: o.endpoint,
    model_id: r.model,
    dataset: datasetName(o.dataset),
    num_prompts: r.numPrompts,
    request_rate: o.requestRate === Infinity ? "inf" : o.requestRate,
    burstiness: 1,
    max_concurrency: o.maxConcurrency ?? null,
    seed: o.seed,
    ...(o.dataset.kind !== "jsonl" ? { random_input_len: o.dataset.inputLen, random_range_ratio: o.dataset.rangeRatio } : {}),
    random_output_len: o.dataset.outputLen,
    ...(o.dataset.kind === "prefix-repetition" ? { prefix_len: o.dataset.prefixLen } : {}),
  };
}

/** Run the whole benchmark (test request, timed run, metrics); the CLI prints and saves the result. */
export async function benchServe(o: BenchServeOptions): Promise<BenchResult> {
  const log = o.log ?? process.stderr;
  const baseUrl = o.baseUrl.replace(/\/+$/, "").replace(/\/v1$/, o.endpoint.startsWith("/v1/") ? "" : "/v1");
  const url = `${baseUrl}${o.endpoint}`;
  const chat = o.endpoint.includes("chat/completions");
  const readyTimeoutS = o.readyTimeoutS ?? 60;
  let model = o.model;
  if (model === undefined) {
    const listed = await whenReady(readyTimeoutS, log, o.signal, () => listModels(baseUrl, o.apiKey));
    if (!listed.ok) throw new InvalidArgumentError("--model", `not given, and ${baseUrl}/v1/models did not name one (${listed.error}); is the server running?`);
    model = listed.value;
  }
  const requests = buildDataset(o.dataset, o.numPrompts, new Xoshiro128StarStar(o.seed));
  const first = requests[0];
  if (first === undefined) throw new InvalidArgumentError("--num-prompts", "no requests to send");
  const ignoreEos = o.ignoreEos ?? true;
  const common = { url, chat, model, ignoreEos, ...(o.apiKey !== undefined ? { apiKey: o.apiKey } : {}) };

  note(log, `fennec: bench serve: ${url}, model ${model}, ${requests.length} prompts from ${datasetName(o.dataset)}`);
  note(log, "Starting initial single prompt test run...");
  const test = await whenReady(readyTimeoutS, log, o.signal, async () => {
    const out = await sendRequest({ ...common, prompt: first.prompt, maxTokens: first.outputLen, ...(o.signal ? { signal: o.signal } : {}) });
    return out.success ? { ok: true, value: out } : { ok: false, error: out.error };
  });
  if (o.signal?.aborted) throw new InvalidArgumentError("bench serve", "interrupted during the initial test run");
  if (!test.ok) {
    throw new InvalidArgumentError("bench serve", `initial test run failed against ${url}: ${test.error}. Check --base-url, --endpoint and --model`);
  }
  note(log, "Initial test run completed. Starting main benchmark run...");
  note(log, `Traffic request rate: ${o.requestRate === Infinity ? "inf" : o.requestRate}`);
  note(log, "Burstiness factor: 1.0 (Poisson process)");
  note(log, `Maximum request concurrency: ${o.maxConcurrency ?? "None"}`);

  const progress = progressReporter(log);
  const run = await runBenchmark({
    ...common, requests, requestRate: o.requestRate, seed: o.seed, onUpdate: progress.update,
    ...(o.maxConcurrency !== undefined ? { maxConcurrency: o.maxConcurrency } : {}),
    ...(o.signal !== undefined ? { signal: o.signal } : {}),
  });
  progress.end();
  const interrupted = o.signal?.aborted === true;
  const metrics = computeMetrics(run);
  const desc = describeRun(o, { baseUrl, model, chat, numPrompts: requests.length });
  if (interrupted) note(log, `fennec: interrupted: ${run.numNotSent} requests not sent, those in flight counted as failed`);
  if (metrics.failed > 0) {
    note(log, `Failed requests during benchmark run detected (showing up to 5 distinct errors):`);
    for (const e of errorDigest(metrics.errors)) note(log, `  ${e}`);
  }
  if (metrics.input_tokens_estimated) note(log, "fennec: warning: the server sent no usage; input tokens are estimated from word counts");
  return buildResult(desc, metrics, run.startedAt, interrupted);
}

function parseRate(raw: string | undefined): number {
  if (raw === undefined || raw === "inf" || raw === "Infinity") return Infinity;
  const v = Number(raw);
  if (raw.trim() === "" || !Number.isFinite(v) || v <= 0) throw new InvalidArgumentError("--request-rate", `expected a number > 0 or "inf", got ${JSON.stringify(raw)}`);
  return v;
}

/** Where the command writes: the summary to `stdout`, progress and notes to `stderr`. */
export interface CommandIo {
  readonly stdout: ProgressStream;
  readonly stderr: ProgressStream;
}

export async function benchServeCommand(argv: string[], io: CommandIo = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  const p = parse(argv, {
    "base-url": { type: "string" }, host: { type: "string" }, port: { type: "string" },
    endpoint: { type: "string" }, model: { type: "string" }, "api-key": { type: "string" },
    dataset: { type: "string" }, "num-prompts": { type: "string" }, "request-rate": { type: "string" },
    "max-concurrency": { type: "string" }, "random-input-len": { type: "string" }, "random-output-len": { type: "string" },
    "random-range-ratio": { type: "string" }, "prefix-len": { type: "string" }, seed: { type: "string" },
    "save-result": { type: "string" }, html: { type: "string" }, "ready-timeout": { type: "string" },
  });
  if (p.positionals.length > 0) throw new InvalidArgumentError("arguments", `unexpected ${JSON.stringify(p.positionals[0])}`);
  const port = numberFlag(p, "port", { integer: true, min: 1, max: 65535 }) ?? 8000;
  const baseUrl = stringFlag(p, "base-url") ?? `http://${stringFlag(p, "host") ?? "127.0.0.1"}:${port}`;
  if (!/^https?:\/\/[^/]/.test(baseUrl)) throw new InvalidArgumentError("--base-url", `expected http(s)://host[:port], got ${JSON.stringify(baseUrl)}`);
  const endpoint = stringFlag(p, "endpoint") ?? "/v1/completions";
  if (!endpoint.startsWith("/")) throw new InvalidArgumentError("--endpoint", `expected a path such as /v1/completions, got ${JSON.stringify(endpoint)}`);
  const inputLen = numberFlag(p, "random-input-len", { integer: true, min: 1 }) ?? 1024;
  const outputLen = numberFlag(p, "random-output-len", { integer: true, min: 1 }) ?? 128;
  const rangeRatio = numberFlag(p, "random-range-ratio", { min: 0, max: 0.999 }) ?? 0;
  const which = stringFlag(p, "dataset") ?? "random";
  const dataset: DatasetSpec = which === "random" ? { kind: "random", inputLen, outputLen, rangeRatio }
    : which === "prefix-repetition" ? { kind: "prefix-repetition", prefixLen: numberFlag(p, "prefix-len", { integer: true, min: 0 }) ?? 256, inputLen, outputLen, rangeRatio }
    : which.endsWith(".jsonl") ? { kind: "jsonl", file: which, outputLen }
    : (() => { throw new InvalidArgumentError("--dataset", `expected random, prefix-repetition or a .jsonl file, got ${JSON.stringify(which)}`); })();
  const numPrompts = numberFlag(p, "num-prompts", { integer: true, min: 1 });
  const maxConcurrency = numberFlag(p, "max-concurrency", { integer: true, min: 1 });
  const model = stringFlag(p, "model");
  const apiKey = stringFlag(p, "api-key") ?? (process.env["OPENAI_API_KEY"] || undefined);
  const savePath = stringFlag(p, "save-result");
  const htmlPath = stringFlag(p, "html");
  const readyTimeoutS = numberFlag(p, "ready-timeout", { min: 0 });

  const abort = new AbortController();
  const onSigint = (): void => abort.abort();
  process.once("SIGINT", onSigint);
  let result: BenchResult;
  try {
    result = await benchServe({
      baseUrl, endpoint, dataset, requestRate: parseRate(stringFlag(p, "request-rate")), seed: numberFlag(p, "seed", { integer: true }) ?? 0,
      signal: abort.signal, log: io.stderr,
      ...(model !== undefined ? { model } : {}),
      ...(apiKey !== undefined ? { apiKey } : {}),
      ...(numPrompts !== undefined ? { numPrompts } : {}),
      ...(maxConcurrency !== undefined ? { maxConcurrency } : {}),
      ...(readyTimeoutS !== undefined ? { readyTimeoutS } : {}),
    });
  } finally {
    process.removeListener("SIGINT", onSigint);
  }
  io.stdout.write(formatSummary(result));
  if (savePath !== undefined) {
    fs.writeFileSync(savePath, JSON.stringify(result) + "\n");
    io.stderr.write(`fennec: saved the result to ${savePath}\n`);
  }
  if (htmlPath !== undefined) {
    fs.writeFileSync(htmlPath, renderHtml(result));
    io.stderr.write(`fennec: wrote the report to ${htmlPath}\n`);
  }
  return result.completed > 0 ? 0 : 1;
}
