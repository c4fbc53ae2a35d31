/**
 * `--html FILE`: one self-contained page (no external URL: inline CSS, inline SVG drawn by an inline
 * script) with the headline numbers, throughput and requests in flight over time, the TTFT / TPOT /
 * ITL / E2EL distributions, vLLM's summary table and the failed requests.
 *
 * The header, cards and table are static HTML (readable without script); the charts are drawn by
 * HTML_SCRIPT from the JSON embedded in <script type="application/json" id="bench-data">.
 */
import { concurrencySeries, histogram, throughputSeries, tpotsOf, type Histogram, type Series } from "./charts.js";
import { errorDigest, formatSummary, type BenchResult } from "./report.js";
import { maxOf } from "./metrics.js";
import { HTML_SCRIPT, HTML_STYLE } from "./html-assets.js";

export interface ChartData {
  readonly throughput: Series & { bucketS: number };
  readonly concurrency: Series;
  readonly hist: Readonly<Record<"ttft" | "tpot" | "itl" | "e2el", Histogram>>;
}

const esc = (s: string): string => s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] ?? c);

function num(v: number, digits = 2): string {
  return v.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function okOnly(r: BenchResult, values: readonly number[]): number[] {
  return values.filter((_, i) => (r.errors[i] ?? "") === "");
}

export function chartData(r: BenchResult): ChartData {
  const ms = (v: readonly number[]): number[] => v.map((x) => x * 1000);
  return {
    throughput: throughputSeries(r),
    concurrency: concurrencySeries(r),
    hist: {
      ttft: histogram(ms(okOnly(r, r.ttfts))),
      tpot: histogram(ms(tpotsOf(r))),
      itl: histogram(ms(r.itls.filter((_, i) => (r.errors[i] ?? "") === "").flat())),
      e2el: histogram(ms(okOnly(r, r.latencies))),
    },
  };
}

function card(label: string, value: string, unit: string, note = ""): string {
  return `<div class="card"><div class="label">${esc(label)}</div><div class="value">${esc(value)}<span class="unit">${esc(unit)}</span></div>${note ? `<div class="note">${esc(note)}</div>` : ""}</div>`;
}

function summaryTable(r: BenchResult): string {
  const rows = formatSummary(r).split("\n").filter((l) => l !== "" && !/^=+$/.test(l));
  const body = rows.map((l) => {
    if (/^[-=]/.test(l)) return `<tr class="section"><th colspan="2">${esc(l.replace(/^[-=]+|[-=]+$/g, "").trim())}</th></tr>`;
    const label = l.slice(0, 40).trim();
    const value = l.slice(41).trim();
    return `<tr><td>${esc(label.replace(/:$/, ""))}</td><td class="num">${esc(value)}</td></tr>`;
  });
  return `<table class="summary">${body.join("")}</table>`;
}

function datasetRows(r: BenchResult): string {
  const rows: [string, string][] = [];
  if (r.random_input_len !== undefined) rows.push(["Input length (words)", `${r.random_input_len}${r.random_range_ratio ? ` \u00b1${Math.round(r.random_range_ratio * 100)}%` : ""}`]);
  if (r.prefix_len !== undefined) rows.push(["Shared prefix (words)", String(r.prefix_len)]);
  if (r.random_output_len !== undefined) rows.push(["Output length (max_tokens)", `${r.random_output_len}${r.random_range_ratio ? ` \u00b1${Math.round(r.random_range_ratio * 100)}%` : ""}`]);
  return rows.map(([k, v]) => `<tr><td>${esc(k)}</td><td class="num">${esc(v)}</td></tr>`).join("");
}

function chartBox(id: string, title: string, caption: string): string {
  return `<figure class="chart-box"><figcaption><span class="title">${esc(title)}</span><span class="caption">${esc(caption)}</span></figcaption><div class="chart-host" id="${id}"></div></figure>`;
}

export function renderHtml(r: BenchResult): string {
  const data = chartData(r);
  const rate = r.request_rate === "inf" ? "all at once" : `${r.request_rate} req/s (Poisson)`;
  const conc = r.max_concurrency === null ? "unbounded" : String(r.max_concurrency);
  const total = r.completed + r.failed;
  const errs = errorDigest(r.errors, 20);
  const json = JSON.stringify(data).replace(/</g, "\\u003c");
  const m = r.machine;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Serving benchmark: ${esc(r.model_id)}</title>
<style>${HTML_STYLE}</style>
</head>
<body>
<header>
  <div class="brand">fennec bench serve</div>
  <h1>${esc(r.model_id)}</h1>
  <div class="meta">
    <span>${esc(r.base_url)}${esc(r.endpoint)}</span>
    <span>${esc(new Date(r.date).toUTCString())}</span>
    <span>dataset ${esc(r.dataset)}</span>
    <span>${r.num_prompts} prompts</span>
    <span>rate ${esc(rate)}</span>
    <span>max concurrency ${esc(conc)}</span>
    ${r.interrupted ? `<span class="warn">interrupted</span>` : ""}
  </div>
</header>
<main>
<section class="cards">
  ${card("Successful requests", `${r.completed}`, ` / ${total}`, r.failed > 0 ? `${r.failed} failed` : "none failed")}
  ${card("Request throughput", num(r.request_throughput), " req/s", `${num(r.duration)} s in total`)}
  ${card("Output throughput", num(r.output_throughput, 1), " tok/s", `peak ${num(r.max_output_tokens_per_s, 0)} tok/s`)}
  ${card("Median TTFT", num(r.median_ttft_ms, 1), " ms", `p99 ${num(r.p99_ttft_ms, 1)} ms`)}
  ${card("Median TPOT", num(r.median_tpot_ms, 1), " ms", `p99 ${num(r.p99_tpot_ms, 1)} ms`)}
  ${card("Median E2E latency", num(r.median_e2el_ms / 1000, 2), " s", `p99 ${num(r.p99_e2el_ms / 1000, 2)} s`)}
</section>
<section class="grid">
  ${chartBox("chart-throughput", "Output throughput over time", `tokens/s per ${data.throughput.bucketS} s bucket`)}
  ${chartBox("chart-concurrency", "Requests in flight over time", `peak ${maxOf(data.concurrency.y)}`)}
  ${chartBox("chart-ttft", "Time to first token", `${data.hist.ttft.numValues} requests`)}
  ${chartBox("chart-tpot", "Time per output token (excl. 1st)", `${data.hist.tpot.numValues} requests`)}
  ${chartBox("chart-itl", "Inter-token latency", `${data.hist.itl.numValues} gaps`)}
  ${chartBox("chart-e2el", "End-to-end latency", `${data.hist.e2el.numValues} requests`)}
</section>
<section class="lower">
  <div class="panel"><h2>Summary</h2>${summaryTable(r)}</div>
  <div class="panel">
    <h2>Run</h2>
    <table class="kv">
      <tr><td>Total input tokens</td><td class="num">${r.total_input_tokens}${r.input_tokens_estimated ? " (estimated: no usage from the server)" : ""}</td></tr>
      <tr><td>Total generated tokens</td><td class="num">${r.total_output_tokens}</td></tr>
      ${datasetRows(r)}
      <tr><td>Backend</td><td class="num">${esc(r.backend)}</td></tr>
      <tr><td>Seed</td><td class="num">${r.seed}</td></tr>
      <tr><td>CPU</td><td class="num">${esc(m.cpu_model)} &times; ${m.cpu_cores}</td></tr>
      <tr><td>Memory</td><td class="num">${m.total_memory_gb} GiB</td></tr>
      <tr><td>OS</td><td class="num">${esc(`${m.platform} ${m.arch}`)}</td></tr>
      <tr><td>Node</td><td class="num">${esc(m.node)}</td></tr>
    </table>
    <h2>Errors</h2>
    ${errs.length === 0 ? `<p class="ok">No failed requests.</p>` : `<ul class="errors">${errs.map((e) => `<li>${esc(e)}</li>`).join("")}</ul>`}
  </div>
</section>
</main>
<div id="tip" class="tip" hidden></div>
<script type="application/json" id="bench-data">${json}</script>
<script>${HTML_SCRIPT}</script>
</body>
</html>
`;
}
