/**
 * Drives the benchmark: requests arrive as a Poisson process at `requestRate` (exponential gaps from
 * a seeded generator; Infinity = all at once), like vLLM's get_request, and at most `maxConcurrency`
 * are in flight (the rest wait on the client side, as behind a gateway).
 */
import { Xoshiro128StarStar, type Rng } from "../../sampling/rng.js";
import type { BenchRequest } from "./dataset.js";
import { sendRequest, type RequestInput, type RequestOutput } from "./client.js";

export interface RunConfig {
  readonly url: string;
  readonly chat: boolean;
  readonly model: string;
  readonly apiKey?: string;
  readonly ignoreEos: boolean;
  readonly requests: readonly BenchRequest[];
  /** Requests per second; Infinity sends everything at t = 0. */
  readonly requestRate: number;
  readonly maxConcurrency?: number;
  readonly seed: number;
  /** Stops sending new requests and aborts those in flight (they count as failed, "aborted"). */
  readonly signal?: AbortSignal;
  readonly onUpdate?: (p: RunProgress) => void;
}

export interface RunProgress {
  readonly numDone: number;
  readonly numFailed: number;
  readonly numInFlight: number;
  readonly numTotal: number;
  readonly elapsedS: number;
}

/** A finished request: what was asked, when it was sent and what came back. */
export interface TimedOutput extends RequestOutput {
  readonly request: BenchRequest;
  /** Send time, s after the benchmark start. */
  readonly startTime: number;
  /** Time spent waiting for a concurrency slot, s. */
  readonly queueTime: number;
}

export interface RunResult {
  readonly outputs: TimedOutput[];
  readonly durationS: number;
  readonly startedAt: Date;
  /** Requests never sent because the run was interrupted. */
  readonly numNotSent: number;
}

/** Cumulative send times, s: exponential gaps, rescaled so the last lands at n / rate (as vLLM does). */
export function arrivalTimes(n: number, rate: number, rng: Rng): number[] {
  if (!(rate > 0)) throw new RangeError(`request rate must be > 0, got ${rate}`);
  if (rate === Infinity) return new Array<number>(n).fill(0);
  const t: number[] = [];
  let acc = 0;
  for (let i = 0; i < n; i++) {
    acc += -Math.log(1 - rng.next()) / rate;
    t.push(acc);
  }
  const last = t[n - 1];
  if (last !== undefined && last > 0) {
    const scale = n / rate / last;
    for (let i = 0; i < n; i++) t[i] = (t[i] ?? 0) * scale;
  }
  return t;
}

class Semaphore {
  private free: number;
  private readonly waiters: (() => void)[] = [];
  constructor(n: number) {
    this.free = n;
  }
  async acquire(): Promise<void> {
    if (this.free > 0) {
      this.free--;
      return;
    }
    await new Promise<void>((resolve) => this.waiters.push(resolve));
  }
  release(): void {
    const next = this.waiters.shift();
    if (next) next();
    else this.free++;
  }
}

const sleep = (ms: number, signal?: AbortSignal): Promise<void> => new Promise((resolve) => {
  if (ms <= 0 || signal?.aborted) return resolve();
  const timer = setTimeout(done, ms);
  function done(): void {
    clearTimeout(timer);
    signal?.removeEventListener("abort", done);
    resolve();
  }
  signal?.addEventListener("abort", done, { once: true });
});

export async function runBenchmark(cfg: RunConfig): Promise<RunResult> {
  const rng = new Xoshiro128StarStar(cfg.seed + 0x5eed); // a stream of its own, apart from the dataset's
  const arrivals = arrivalTimes(cfg.requests.length, cfg.requestRate, rng);
  const sem = cfg.maxConcurrency !== undefined ? new Semaphore(cfg.maxConcurrency) : undefined;
  const startedAt = new Date();
  const t0 = performance.now();
  const elapsed = (): number => (performance.now() - t0) / 1000;
  let numDone = 0;
  let numFailed = 0;
  let numInFlight = 0;
  const report = (): void => cfg.onUpdate?.({ numDone, numFailed, numInFlight, numTotal: cfg.requests.length, elapsedS: elapsed() });

  const one = async (request: BenchRequest): Promise<TimedOutput> => {
    const arrived = elapsed();
    if (sem) await sem.acquire();
    const startTime = elapsed();
    numInFlight++;
    report();
    const input: RequestInput = {
      url: cfg.url, chat: cfg.chat, model: cfg.model, prompt: request.prompt, maxTokens: request.outputLen,
      ignoreEos: cfg.ignoreEos,
      ...(cfg.apiKey !== undefined ? { apiKey: cfg.apiKey } : {}),
      ...(cfg.signal !== undefined ? { signal: cfg.signal } : {}),
    };
    const out = await sendRequest(input);
    numInFlight--;
    numDone++;
    if (!out.success) numFailed++;
    sem?.release();
    report();
    return { ...out, request, startTime, queueTime: startTime - arrived };
  };

  const pending: Promise<TimedOutput>[] = [];
  for (let i = 0; i < cfg.requests.length; i++) {
    await sleep((arrivals[i] ?? 0) * 1000 - (performance.now() - t0), cfg.signal);
    if (cfg.signal?.aborted) break;
    pending.push(one(cfg.requests[i] as BenchRequest));
  }
  const outputs = await Promise.all(pending);
  const durationS = elapsed();
  report();
  return { outputs, durationS, startedAt, numNotSent: cfg.requests.length - pending.length };
}
