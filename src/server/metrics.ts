/**
 * Prometheus metrics, named as vLLM's with a `fennec:` prefix and a `model_name` label. Gauges and
 * the engine's cumulative counters (preemptions, prefix cache) read `engine.stats()` at scrape
 * time; per-request counters and histograms are fed by the generation driver (GenerationObserver)
 * and per-step ones by EngineClient.onStep. One Registry per server, so tests can run several.
 *
 * Queue vs prefill time: the engine reports no scheduling timestamps, so a request's prefill time
 * is taken as the duration of the step that produced its first token (exact unless the prompt
 * was chunked over several steps), and its queue time as the rest of its time to first token.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { EngineStats, StepInfo } from "../engine/client.js";
import { DEFAULT_KV_DTYPE } from "../backend/kv-dtype.js";
import type { ChoiceRecord, GenerationObserver } from "./generation.js";

const LATENCY_BUCKETS = [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80, 160, 640];
const TOKEN_LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1, 2.5, 5, 10, 20, 40, 80];
const REQUEST_BUCKETS = [0.01, 0.05, 0.1, 0.3, 0.5, 0.8, 1, 1.5, 2, 2.5, 5, 10, 15, 20, 30, 40, 50, 60, 120, 240, 480, 960, 1920, 7680];
const ITERATION_TOKEN_BUCKETS = [1, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384];
const BATCH_SIZE_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512];

export const METRIC_NAMES = [
  "fennec:num_requests_running", "fennec:num_requests_waiting", "fennec:kv_cache_usage_perc",
  "fennec:prompt_tokens_total", "fennec:generation_tokens_total", "fennec:request_success_total",
  "fennec:num_preemptions_total", "fennec:prefix_cache_queries_total", "fennec:prefix_cache_hits_total",
  "fennec:time_to_first_token_seconds", "fennec:inter_token_latency_seconds",
  "fennec:request_time_per_output_token_seconds", "fennec:e2e_request_latency_seconds",
  "fennec:request_queue_time_seconds", "fennec:request_prefill_time_seconds",
  "fennec:request_decode_time_seconds", "fennec:iteration_tokens_total", "fennec:iteration_batch_size",
  "fennec:process_cpu_usage_ratio",
] as const;

/** Plain running totals, for the periodic log line. */
export interface Totals {
  promptTokens: number;
  generationTokens: number;
}

export class ServerMetrics implements GenerationObserver {
  readonly registry = new Registry();
  readonly totals: Totals = { promptTokens: 0, generationTokens: 0 };
  private readonly labels: { model_name: string };
  private lastStepMs = 0;
  private readonly promptTokens: Counter<"model_name">;
  private readonly generationTokens: Counter<"model_name">;
  private readonly success: Counter<"model_name" | "finished_reason">;
  private readonly ttft: Histogram<"model_name">;
  private readonly itl: Histogram<"model_name">;
  private readonly tpot: Histogram<"model_name">;
  private readonly e2e: Histogram<"model_name">;
  private readonly queue: Histogram<"model_name">;
  private readonly prefill: Histogram<"model_name">;
  private readonly decode: Histogram<"model_name">;
  private readonly iterationTokens: Histogram<"model_name">;
  private readonly batchSize: Histogram<"model_name">;

  /** `stats` returns undefined while the model loads (gauges then read 0). */
  constructor(modelName: string, stats: () => EngineStats | undefined) {
    this.labels = { model_name: modelName };
    const registers = [this.registry];
    const labelNames = ["model_name"] as const;
    const labels = this.labels;
    const gauge = (name: string, help: string, read: (s: EngineStats) => number): void => {
      new Gauge({ name, help, labelNames, registers, collect() { this.set(labels, read(stats() ?? ZERO_STATS)); } });
    };
    gauge("fennec:num_requests_running", "Requests in the running batch.", (s) => s.numRunning);
    gauge("fennec:num_requests_waiting", "Requests waiting to be scheduled.", (s) => s.numWaiting);
    gauge("fennec:kv_cache_usage_perc", "Fraction of KV-cache blocks in use (0..1).", (s) => s.kvCacheUsage);
    // Cumulative engine counters: add the increase since the last scrape.
    const engineCounter = (name: string, help: string, read: (s: EngineStats) => number): void => {
      let seen = 0;
      new Counter({ name, help, labelNames, registers, collect() {
        const now = read(stats() ?? ZERO_STATS);
        if (now > seen) this.inc(labels, now - seen);
        seen = Math.max(seen, now);
      } });
    };
    engineCounter("fennec:num_preemptions_total", "Preemptions (sequences evicted and recomputed).", (s) => s.numPreemptions);
    engineCounter("fennec:prefix_cache_queries_total", "Prompt tokens looked up in the prefix cache.", (s) => s.prefixCacheQueries);
    engineCounter("fennec:prefix_cache_hits_total", "Prompt tokens found in the prefix cache.", (s) => s.prefixCacheHits);

    const counter = (name: string, help: string): Counter<"model_name"> => new Counter({ name, help, labelNames, registers });
    this.promptTokens = counter("fennec:prompt_tokens_total", "Prompt tokens processed.");
    this.generationTokens = counter("fennec:generation_tokens_total", "Tokens generated.");
    this.success = new Counter({ name: "fennec:request_success_total", help: "Finished engine requests, by finish reason.", labelNames: ["model_name", "finished_reason"] as const, registers });
    const histogram = (name: string, help: string, buckets: number[]): Histogram<"model_name"> => new Histogram({ name, help, labelNames, registers, buckets });
    this.ttft = histogram("fennec:time_to_first_token_seconds", "Time from request arrival to its first token.", LATENCY_BUCKETS);
    this.itl = histogram("fennec:inter_token_latency_seconds", "Time between consecutive tokens of a request.", TOKEN_LATENCY_BUCKETS);
    this.tpot = histogram("fennec:request_time_per_output_token_seconds", "Decode time per output token after the first.", TOKEN_LATENCY_BUCKETS);
    this.e2e = histogram("fennec:e2e_request_latency_seconds", "Time from arrival to the last token.", REQUEST_BUCKETS);
    this.queue = histogram("fennec:request_queue_time_seconds", "Time waiting before the prefill step (estimated).", REQUEST_BUCKETS);
    this.prefill = histogram("fennec:request_prefill_time_seconds", "Duration of the step that produced the first token.", REQUEST_BUCKETS);
    this.decode = histogram("fennec:request_decode_time_seconds", "Time from the first token to the last.", REQUEST_BUCKETS);
    this.iterationTokens = histogram("fennec:iteration_tokens_total", "Tokens computed per engine step.", ITERATION_TOKEN_BUCKETS);
    this.batchSize = histogram("fennec:iteration_batch_size", "Sequences per engine step.", BATCH_SIZE_BUCKETS);

    let last = { cpu: process.cpuUsage(), wall: performance.now() };
    new Gauge({ name: "fennec:process_cpu_usage_ratio", help: "CPU seconds per wall second since the last scrape, all threads (1 = one core busy).", registers, collect() {
      const cpu = process.cpuUsage();
      const wall = performance.now();
      const usedUs = cpu.user - last.cpu.user + cpu.system - last.cpu.system;
      const ms = wall - last.wall;
      if (ms > 0) this.set(usedUs / 1000 / ms);
      last = { cpu, wall };
    } });
    collectDefaultMetrics({ register: this.registry });
  }

  onStep(s: StepInfo): void {
    this.lastStepMs = s.stepMs;
    this.iterationTokens.observe(this.labels, s.numBatchedTokens);
    this.batchSize.observe(this.labels, s.numSeqsInBatch);
  }

  onFirstToken(arrival: number, now: number, numPromptTokens: number): void {
    const ttftMs = now - arrival;
    const prefillMs = Math.min(this.lastStepMs, ttftMs);
    this.ttft.observe(this.labels, ttftMs / 1000);
    this.prefill.observe(this.labels, prefillMs / 1000);
    this.queue.observe(this.labels, (ttftMs - prefillMs) / 1000);
    this.promptTokens.inc(this.labels, numPromptTokens);
    this.totals.promptTokens += numPromptTokens;
    this.countToken();
  }

  onToken(gapMs: number): void {
    this.itl.observe(this.labels, gapMs / 1000);
    this.countToken();
  }

  onFinish(r: ChoiceRecord): void {
    this.success.inc({ ...this.labels, finished_reason: r.reason });
    if (r.firstToken === undefined || r.lastToken === undefined) return;
    this.e2e.observe(this.labels, (r.finished - r.arrival) / 1000);
    const decodeMs = r.lastToken - r.firstToken;
    this.decode.observe(this.labels, decodeMs / 1000);
    if (r.numOutputTokens > 1) this.tpot.observe(this.labels, decodeMs / 1000 / (r.numOutputTokens - 1));
  }

  async text(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }

  private countToken(): void {
    this.generationTokens.inc(this.labels, 1);
    this.totals.generationTokens++;
  }
}

export const ZERO_STATS: EngineStats = {
  numRunning: 0, numWaiting: 0, kvCacheUsage: 0, kvCacheTokens: 0, kvCacheDtype: DEFAULT_KV_DTYPE, numPreemptions: 0, prefixCacheQueries: 0, prefixCacheHits: 0,
};
