/**
 * From timed outputs to vLLM's serving metrics, under vLLM's names (the JSON keys of
 * `vllm bench serve --save-result`): completed, failed, duration, throughputs, and the mean / median /
 * std / p99 of TTFT, TPOT, ITL and E2EL in ms. Per-request arrays (ttfts, itls, latencies, ...) are
 * in seconds, as vLLM stores them.
 *
 *   TPOT = (E2EL - TTFT) / (output tokens - 1), over requests with more than one output token
 *   ITL  = every gap between content chunks of every successful request
 */
import type { RunResult, TimedOutput } from "./runner.js";

export type MetricName = "ttft" | "tpot" | "itl" | "e2el";
export type MetricStats = { [K in `${"mean" | "median" | "std" | "p99"}_${MetricName}_ms`]: number };

export interface BenchMetrics extends MetricStats {
  readonly completed: number;
  readonly failed: number;
  /** s, from the first send to the last response. */
  readonly duration: number;
  readonly total_input_tokens: number;
  readonly total_output_tokens: number;
  readonly request_throughput: number;
  readonly output_throughput: number;
  readonly total_token_throughput: number;
  /** Highest output tokens in any 1-second bucket. */
  readonly max_output_tokens_per_s: number;
  readonly max_concurrent_requests: number;
  /** True when some server sent no usage and input lengths are the prompts' word counts. */
  readonly input_tokens_estimated: boolean;
  readonly input_lens: number[];
  readonly output_lens: number[];
  readonly ttfts: number[];
  readonly itls: number[][];
  readonly latencies: number[];
  readonly start_times: number[];
  readonly queue_times: number[];
  readonly errors: string[];
  readonly generated_texts: string[];
}

/** Largest value (0 for none); a loop, as spreading a million ITLs into Math.max overflows the stack. */
export function maxOf(values: readonly number[]): number {
  let m = values.length > 0 ? -Infinity : 0;
  for (const v of values) if (v > m) m = v;
  return m;
}

export function minOf(values: readonly number[]): number {
  let m = values.length > 0 ? Infinity : 0;
  for (const v of values) if (v < m) m = v;
  return m;
}

/** numpy.percentile's default (linear interpolation between closest ranks); 0 for no values, as vLLM. */
export function percentile(values: readonly number[], p: number): number {
  return percentileSorted(Float64Array.from(values).sort(), p);
}

/** percentile() of values already sorted ascending. */
export function percentileSorted(a: ArrayLike<number>, p: number): number {
  if (a.length === 0) return 0;
  const pos = ((a.length - 1) * p) / 100;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  const vlo = a[lo] ?? 0;
  return vlo + ((a[hi] ?? vlo) - vlo) * (pos - lo);
}

export function mean(values: readonly number[]): number {
  return values.length === 0 ? 0 : values.reduce((s, v) => s + v, 0) / values.length;
}

/** Population standard deviation (numpy.std). */
export function std(values: readonly number[]): number {
  if (values.length === 0) return 0;
  const m = mean(values);
  return Math.sqrt(values.reduce((s, v) => s + (v - m) ** 2, 0) / values.length);
}

/** Output tokens of a request: the server's count, else one per content chunk. */
export function outputTokens(o: TimedOutput): number {
  return o.success ? o.completionTokens ?? o.numContentChunks : 0;
}

/** Arrival time (s since start) of each content chunk, with its share of the request's tokens. */
export function chunkTimes(o: TimedOutput): { time: number; tokens: number }[] {
  if (!o.success) return [];
  const n = o.itl.length + 1;
  const perChunk = outputTokens(o) / n;
  const out = [{ time: o.startTime + o.ttft, tokens: perChunk }];
  let t = o.startTime + o.ttft;
  for (const gap of o.itl) {
    t += gap;
    out.push({ time: t, tokens: perChunk });
  }
  return out;
}

/** Most requests in flight at once (half-open intervals [start, end): an end before a start at the same instant). */
export function peakConcurrency(intervals: readonly { start: number; end: number }[]): number {
  const events: [number, number][] = [];
  for (const { start, end } of intervals) events.push([start, 1], [end, -1]);
  events.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let cur = 0;
  let peak = 0;
  for (const [, d] of events) {
    cur += d;
    peak = Math.max(peak, cur);
  }
  return peak;
}

function stats(name: MetricName, secondsValues: readonly number[]): Partial<MetricStats> {
  const ms = secondsValues.map((v) => v * 1000);
  const sorted = Float64Array.from(ms).sort();
  return {
    [`mean_${name}_ms`]: mean(ms),
    [`median_${name}_ms`]: percentileSorted(sorted, 50),
    [`std_${name}_ms`]: std(ms),
    [`p99_${name}_ms`]: percentileSorted(sorted, 99),
  };
}

export function computeMetrics(run: RunResult): BenchMetrics {
  const ok = run.outputs.filter((o) => o.success);
  const inputLen = (o: TimedOutput): number => o.promptTokens ?? o.request.approxInputLen;
  const totalInput = ok.reduce((s, o) => s + inputLen(o), 0);
  const outputLens = run.outputs.map(outputTokens);
  const totalOutput = outputLens.reduce((s, v) => s + v, 0);
  const tpots = ok.filter((o) => outputTokens(o) > 1).map((o) => (o.latency - o.ttft) / (outputTokens(o) - 1));
  const dur = run.durationS > 0 ? run.durationS : 1e-9;

  const buckets: number[] = [];
  for (const o of ok) {
    for (const c of chunkTimes(o)) {
      const b = Math.floor(c.time);
      buckets[b] = (buckets[b] ?? 0) + c.tokens;
    }
  }
  const metrics: Omit<BenchMetrics, keyof MetricStats> = {
    completed: ok.length,
    failed: run.outputs.length - ok.length,
    duration: run.durationS,
    total_input_tokens: totalInput,
    total_output_tokens: totalOutput,
    request_throughput: ok.length / dur,
    output_throughput: totalOutput / dur,
    total_token_throughput: (totalInput + totalOutput) / dur,
    max_output_tokens_per_s: Math.round(maxOf(buckets.map((v) => v ?? 0))),
    max_concurrent_requests: peakConcurrency(ok.map((o) => ({ start: o.startTime, end: o.startTime + o.latency }))),
    input_tokens_estimated: ok.some((o) => o.promptTokens === undefined),
    input_lens: run.outputs.map(inputLen),
    output_lens: outputLens,
    ttfts: run.outputs.map((o) => o.ttft),
    itls: run.outputs.map((o) => o.itl),
    latencies: run.outputs.map((o) => o.latency),
    start_times: run.outputs.map((o) => o.startTime),
    queue_times: run.outputs.map((o) => o.queueTime),
    errors: run.outputs.map((o) => o.error),
    generated_texts: run.outputs.map((o) => o.generatedText),
  };
  return {
    ...metrics,
    ...stats("ttft", ok.map((o) => o.ttft)),
    ...stats("tpot", tpots),
    ...stats("itl", ok.flatMap((o) => o.itl)),
    ...stats("e2el", ok.map((o) => o.latency)),
  } as BenchMetrics;
}
