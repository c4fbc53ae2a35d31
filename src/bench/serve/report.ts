/**
 * The benchmark's outputs: vLLM's boxed summary (same labels, same "{:<40} {:<10}" layout), and the
 * saved result (vLLM's keys plus the run's configuration and the machine it ran on).
 */
import * as os from "node:os";
import type { BenchMetrics, MetricName } from "./metrics.js";

export interface RunDescription {
  readonly backend: "openai" | "openai-chat";
  readonly base_url: string;
  readonly endpoint: string;
  readonly model_id: string;
  readonly dataset: string;
  readonly num_prompts: number;
  /** "inf" as vLLM writes it, else requests/s. */
  readonly request_rate: number | "inf";
  readonly burstiness: number;
  readonly max_concurrency: number | null;
  readonly seed: number;
  readonly random_input_len?: number;
  readonly random_output_len?: number;
  readonly random_range_ratio?: number;
  readonly prefix_len?: number;
}

export interface Machine {
  readonly cpu_model: string;
  readonly cpu_cores: number;
  readonly total_memory_gb: number;
  readonly platform: string;
  readonly arch: string;
  readonly node: string;
  readonly hostname: string;
}

export type BenchResult = RunDescription & BenchMetrics & { readonly date: string; readonly machine: Machine; readonly interrupted: boolean };

export function machineInfo(): Machine {
  const cpus = os.cpus();
  return {
    cpu_model: cpus[0]?.model.trim() ?? "unknown",
    cpu_cores: cpus.length,
    total_memory_gb: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    platform: `${os.type()} ${os.release()}`,
    arch: os.arch(),
    node: process.version,
    hostname: os.hostname(),
  };
}

/** The saved result: when, what was run against what, on which machine, and every metric. */
export function buildResult(desc: RunDescription, metrics: BenchMetrics, startedAt: Date, interrupted: boolean): BenchResult {
  return { date: startedAt.toISOString(), ...desc, machine: machineInfo(), interrupted, ...metrics };
}

const row = (label: string, value: number | string, digits?: number): string => {
  const v = typeof value === "number" && digits !== undefined ? value.toFixed(digits) : String(value);
  return `${label.padEnd(40)} ${v.padEnd(10)}`;
};

/** Python's "{s:{c}^{n}}": centered, the odd pad character on the right. */
function center(s: string, width: number, fill: string): string {
  const pad = Math.max(0, width - s.length);
  const left = Math.floor(pad / 2);
  return fill.repeat(left) + s + fill.repeat(pad - left);
}

const SECTIONS: readonly [MetricName, string, string][] = [
  ["ttft", "TTFT", "Time to First Token"],
  ["tpot", "TPOT", "Time per Output Token (excl. 1st token)"],
  ["itl", "ITL", "Inter-token Latency"],
  ["e2el", "E2EL", "End-to-end Latency"],
];

export function formatSummary(r: BenchResult): string {
  const lines = [
    center(" Serving Benchmark Result ", 50, "="),
    row("Successful requests:", r.completed),
    row("Failed requests:", r.failed),
  ];
  if (r.max_concurrency !== null) lines.push(row("Maximum request concurrency:", r.max_concurrency));
  if (r.request_rate !== "inf") lines.push(row("Request rate configured (RPS):", r.request_rate, 2));
  lines.push(
    row("Benchmark duration (s):", r.duration, 2),
    row("Total input tokens:", r.total_input_tokens),
    row("Total generated tokens:", r.total_output_tokens),
    row("Request throughput (req/s):", r.request_throughput, 2),
    row("Output token throughput (tok/s):", r.output_throughput, 2),
    row("Peak output token throughput (tok/s):", r.max_output_tokens_per_s, 2),
    row("Peak concurrent requests:", r.max_concurrent_requests, 2),
    row("Total Token throughput (tok/s):", r.total_token_throughput, 2),
  );
  for (const [key, name, header] of SECTIONS) {
    lines.push(
      center(header, 50, "-"),
      row(`Mean ${name} (ms):`, r[`mean_${key}_ms`], 2),
      row(`Median ${name} (ms):`, r[`median_${key}_ms`], 2),
      row(`P99 ${name} (ms):`, r[`p99_${key}_ms`], 2),
    );
  }
  lines.push("=".repeat(50));
  return lines.join("\n") + "\n";
}

/** The first few distinct errors, with how often each occurred. */
export function errorDigest(errors: readonly string[], limit = 5): string[] {
  const counts = new Map<string, number>();
  for (const e of errors) if (e !== "") counts.set(e, (counts.get(e) ?? 0) + 1);
  return [...counts].slice(0, limit).map(([e, n]) => (n > 1 ? `${e} (x${n})` : e));
}
