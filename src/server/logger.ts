/**
 * The periodic stats line (every 5 s while the server is busy) on stderr:
 *   fennec: prompt 812.4 tok/s, generation 1530.2 tok/s, running 3, waiting 0, kv cache 4.7%, prefix cache hit rate 33.3%
 * Rates are over the interval; the hit rate is over the prefix-cache lookups made in it.
 */
import type { EngineStats } from "../engine/client.js";
import type { Totals } from "./metrics.js";

export type LogSink = (line: string) => void;

export const stderrSink: LogSink = (line) => process.stderr.write(`fennec: ${line}\n`);

export class StatsLogger {
  private timer: NodeJS.Timeout | undefined;
  private last: { at: number; promptTokens: number; generationTokens: number; queries: number; hits: number };
  private readonly totals: Totals;
  private readonly stats: () => EngineStats | undefined;
  private readonly sink: LogSink;

  constructor(totals: Totals, stats: () => EngineStats | undefined, sink: LogSink) {
    this.totals = totals;
    this.stats = stats;
    this.sink = sink;
    this.last = this.snapshot();
  }

  start(intervalMs: number): void {
    this.stop();
    this.last = this.snapshot();
    this.timer = setInterval(() => this.tick(), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Logs one line if anything happened since the last one (tokens, or requests in the engine). */
  tick(): void {
    const now = this.snapshot();
    const s = this.stats();
    const dt = (now.at - this.last.at) / 1000;
    const prompt = now.promptTokens - this.last.promptTokens;
    const gen = now.generationTokens - this.last.generationTokens;
    const queries = now.queries - this.last.queries;
    const hits = now.hits - this.last.hits;
    this.last = now;
    const isBusy = prompt > 0 || gen > 0 || (s !== undefined && s.numRunning + s.numWaiting > 0);
    if (!isBusy || dt <= 0) return;
    const rate = (n: number): string => (n / dt).toFixed(1);
    const pct = (x: number): string => `${(x * 100).toFixed(1)}%`;
    this.sink(
      `prompt ${rate(prompt)} tok/s, generation ${rate(gen)} tok/s, running ${s?.numRunning ?? 0}, waiting ${s?.numWaiting ?? 0}, ` +
      `kv cache ${pct(s?.kvCacheUsage ?? 0)}, prefix cache hit rate ${queries > 0 ? pct(hits / queries) : "-"}`,
    );
  }

  private snapshot(): { at: number; promptTokens: number; generationTokens: number; queries: number; hits: number } {
    const s = this.stats();
    return {
      at: performance.now(),
      promptTokens: this.totals.promptTokens,
      generationTokens: this.totals.generationTokens,
      queries: s?.prefixCacheQueries ?? 0,
      hits: s?.prefixCacheHits ?? 0,
    };
  }
}
