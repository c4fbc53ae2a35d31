/**
 * The numbers behind the HTML report's charts, computed here (typed, tested) so the page's script
 * only draws: histograms with "nice" bins, output throughput per time bucket, requests in flight.
 */
import { maxOf, mean, minOf, percentileSorted } from "./metrics.js";
import type { BenchResult } from "./report.js";

export interface Histogram {
  /** Bin edges (numBins + 1), ascending. */
  readonly edges: number[];
  readonly counts: number[];
  readonly numValues: number;
  /** Values above the last edge (far outliers kept out of the bins so they do not squash the plot). */
  readonly numOverflow: number;
  readonly mean: number;
  readonly median: number;
  readonly p99: number;
  readonly max: number;
}

export interface Series {
  readonly t: number[];
  readonly y: number[];
}

/** 1, 2, 2.5 or 5 times a power of ten, at least `x`. */
export function niceStep(x: number): number {
  if (!(x > 0) || !Number.isFinite(x)) return 1;
  const p = 10 ** Math.floor(Math.log10(x));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= x * (1 - 1e-9)) return m * p;
  return 10 * p;
}

export function histogram(values: readonly number[], targetBins = 30): Histogram {
  const n = values.length;
  const sorted = Float64Array.from(values).sort();
  const med = percentileSorted(sorted, 50);
  const p99 = percentileSorted(sorted, 99);
  const max = maxOf(values);
  if (n === 0) return { edges: [0, 1], counts: [0], numValues: 0, numOverflow: 0, mean: 0, median: 0, p99: 0, max: 0 };
  const min = minOf(values);
  // Keep far outliers (beyond twice the p99's distance from the minimum) out of the bins.
  const hiCut = max > min + 2 * (p99 - min) && p99 > min ? min + 2 * (p99 - min) : max;
  const bins = Math.max(5, Math.min(targetBins, Math.ceil(2 * Math.cbrt(n)) + 4));
  const step = niceStep((hiCut - min) / bins || Math.max(Math.abs(min) * 0.1, 1e-3));
  const lo = Math.floor(min / step) * step;
  const numBins = Math.max(1, Math.ceil((hiCut - lo) / step + 1e-9) + (hiCut === lo ? 1 : 0));
  const edges = Array.from({ length: numBins + 1 }, (_, i) => lo + i * step);
  const counts = new Array<number>(numBins).fill(0);
  let numOverflow = 0;
  const top = edges[numBins] ?? lo;
  for (const v of values) {
    if (v > top) {
      numOverflow++;
      continue;
    }
    const i = Math.min(numBins - 1, Math.floor((v - lo) / step));
    counts[i] = (counts[i] ?? 0) + 1;
  }
  return { edges, counts, numValues: n, numOverflow, mean: mean(values), median: med, p99, max };
}

/** Output tokens/s per bucket of ~duration/40 s, from each request's chunk arrival times. */
export function throughputSeries(r: BenchResult): Series & { bucketS: number } {
  const bucketS = niceStep(Math.max(r.duration, 1e-3) / 40);
  const numBuckets = Math.max(1, Math.ceil(r.duration / bucketS));
  const tokens = new Array<number>(numBuckets).fill(0);
  r.latencies.forEach((_, i) => {
    const itl = r.itls[i] ?? [];
    const outLen = r.output_lens[i] ?? 0;
    if ((r.errors[i] ?? "") !== "" || outLen === 0) return;
    const perChunk = outLen / (itl.length + 1);
    let t = (r.start_times[i] ?? 0) + (r.ttfts[i] ?? 0);
    for (let k = 0; k <= itl.length; k++) {
      if (k > 0) t += itl[k - 1] ?? 0;
      const b = Math.min(numBuckets - 1, Math.max(0, Math.floor(t / bucketS)));
      tokens[b] = (tokens[b] ?? 0) + perChunk;
    }
  });
  return { bucketS, t: tokens.map((_, b) => (b + 0.5) * bucketS), y: tokens.map((v) => v / bucketS) };
}

/** Requests in flight over time, as a step function: one point per change (send or response end). */
export function concurrencySeries(r: BenchResult): Series {
  const events: [number, number][] = [];
  r.start_times.forEach((s, i) => events.push([s, 1], [s + (r.latencies[i] ?? 0), -1]));
  events.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const t = [0];
  const y = [0];
  let cur = 0;
  for (const [time, d] of events) {
    cur += d;
    if (t[t.length - 1] === time) y[y.length - 1] = cur;
    else {
      t.push(time);
      y.push(cur);
    }
  }
  t.push(Math.max(r.duration, t[t.length - 1] ?? 0));
  y.push(cur);
  return { t, y };
}

/** TPOT per successful request with more than one output token, s. */
export function tpotsOf(r: BenchResult): number[] {
  const out: number[] = [];
  r.latencies.forEach((lat, i) => {
    const n = r.output_lens[i] ?? 0;
    if ((r.errors[i] ?? "") === "" && n > 1) out.push((lat - (r.ttfts[i] ?? 0)) / (n - 1));
  });
  return out;
}
