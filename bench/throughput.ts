/**
 * Offline throughput, like `vllm bench throughput`: N requests with seeded random input/output
 * lengths, at most C in flight, for C in 1, 4, 16, 64; Fennec's batched engine and node-llama-cpp
 * (one context with C sequences, its own batching) on the same GGUF file and thread count.
 *
 *   npm run bench:throughput -- <model.gguf> [--threads N] [--concurrency 1,4,16,64] [--num-prompts N]
 *       [--input-len 128] [--output-len 64] [--seed 0] [--repeat R] [--skip-llamacpp]
 *
 * Prints output tokens/s, total tokens/s, mean and p99 inter-token latency per concurrency, the share
 * of step time at a full batch and the median step of C decode tokens alone (the steady state, no
 * prompt chunk mixed in), and the ratio Fennec / node-llama-cpp. Output lengths are forced (ignore
 * EOS) so both engines do the same work.
 *
 * --repeat R runs Fennec's sweep over the concurrencies R times in turn (C=1, C=16, C=1, C=16, ...),
 * so that each concurrency is measured at R moments of a shared VM whose speed drifts by 10-30%
 * within minutes; the table gives each concurrency's median run and the range, and "vs c=1" is the
 * median over the repetitions of each sweep's own ratio (runs minutes apart, not one run of each
 * at different moments). node-llama-cpp runs in the first sweep only (its runs are the long ones).
 */
import * as os from "node:os";
import { parseArgs } from "node:util";
import { loadModel } from "../src/index.js";
import { createEngine } from "../src/engine/create.js";
import { createRng } from "../src/sampling/rng.js";
import { machineLine } from "./machine.js";
import type { Token } from "node-llama-cpp";

const { values: flags, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    threads: { type: "string" },
    concurrency: { type: "string" },
    "num-prompts": { type: "string" },
    "input-len": { type: "string" },
    "output-len": { type: "string" },
    seed: { type: "string" },
    repeat: { type: "string" },
    "skip-llamacpp": { type: "boolean" },
  },
});
const modelPath = positionals[0];
if (!modelPath) {
  console.error("usage: npm run bench:throughput -- <model.gguf> [--threads N] [--concurrency 1,4,16,64] [--num-prompts N] [--input-len I] [--output-len O]");
  process.exit(1);
}
const threads = Number(flags.threads ?? os.availableParallelism());
const concurrencies = (flags.concurrency ?? "1,4,16,64").split(",").map(Number);
const inputLen = Number(flags["input-len"] ?? 128);
const outputLen = Number(flags["output-len"] ?? 64);
const seed = Number(flags.seed ?? 0);
const repeat = Math.max(1, Number(flags.repeat ?? 1));

interface Workload {
  readonly prompts: number[][];
  readonly outputLens: number[];
}

/** Seeded lengths uniform in [0.5, 1.5] x the mean; token ids drawn from the lower vocabulary. */
function makeWorkload(n: number, vocabSize: number, bos: number | undefined): Workload {
  const rng = createRng(seed);
  const len = (mean: number): number => Math.max(1, Math.round(mean * (0.5 + rng.next())));
  const prompts: number[][] = [];
  const outputLens: number[] = [];
  for (let i = 0; i < n; i++) {
    const ids = Array.from({ length: len(inputLen) }, () => 100 + Math.floor(rng.next() * Math.min(20000, vocabSize - 100)));
    prompts.push(bos !== undefined ? [bos, ...ids] : ids);
    outputLens.push(len(outputLen));
  }
  return { prompts, outputLens };
}

interface RunResult {
  readonly seconds: number;
  readonly inputTokens: number;
  readonly outputTokens: number;
  /** Gaps between consecutive tokens of the same request, ms. */
  readonly itls: number[];
}

/** Run all requests with at most `c` in flight; `one` streams a request and reports token times. */
async function drive(w: Workload, c: number, one: (i: number, onToken: () => void) => Promise<void>): Promise<RunResult> {
  const itls: number[] = [];
  let next = 0;
  let outputTokens = 0;
  const t0 = performance.now();
  const worker = async (): Promise<void> => {
    while (next < w.prompts.length) {
      const i = next++;
      let last = -1;
      await one(i, () => {
        const now = performance.now();
        if (last >= 0) itls.push(now - last);
        last = now;
        outputTokens++;
      });
    }
  };
  await Promise.all(Array.from({ length: c }, worker));
  return {
    seconds: (performance.now() - t0) / 1000,
    inputTokens: w.prompts.reduce((a, p) => a + p.length, 0),
    outputTokens,
    itls,
  };
}

function stats(r: RunResult): { out: number; total: number; meanItl: number; p99Itl: number } {
  const sorted = [...r.itls].sort((a, b) => a - b);
  const mean = sorted.reduce((a, b) => a + b, 0) / Math.max(1, sorted.length);
  const p99 = sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.99))] ?? 0;
  return { out: r.outputTokens / r.seconds, total: (r.inputTokens + r.outputTokens) / r.seconds, meanItl: mean, p99Itl: p99 };
}

console.log(`bench:throughput ${modelPath}`);
console.log(machineLine(threads));
const loaded = await loadModel(modelPath, { threads });
console.log(`fennec backend: ${loaded.backend.name}, KV cache ${loaded.kvCacheDtype} (llama.cpp: F16, its default); input ~${inputLen} tokens, output ~${outputLen} tokens (uniform 0.5x..1.5x, seed ${seed})`);

type Stats = ReturnType<typeof stats>;
/** One Fennec run of a concurrency (and node-llama-cpp's, in the first sweep). */
type Run = { c: number; n: number; fennec: Stats; fullBatch: number; decodeStepMs: number; llama?: Stats };
const runs: Run[] = [];

// node-llama-cpp, loaded once (its own weights in memory) unless skipped.
type LlamaMod = typeof import("node-llama-cpp");
let llamaModel: Awaited<ReturnType<Awaited<ReturnType<LlamaMod["getLlama"]>>["loadModel"]>> | undefined;
if (!flags["skip-llamacpp"]) {
  const { getLlama } = await import("node-llama-cpp");
  const llama = await getLlama({ gpu: false, build: "never", logLevel: "error" as never });
  llamaModel = await llama.loadModel({ modelPath });
}

for (let rep = 0; rep < repeat; rep++) for (const c of concurrencies) {
  // 4C requests by default: with random output lengths the last requests finish one by one with a
  // shrinking batch: at 2C, over half of a C=16 run's steps (38% of its time) ran fewer than C (step log);
  // `vllm bench throughput` uses 1000 prompts for the same reason.
  const n = Number(flags["num-prompts"] ?? Math.max(32, 4 * c));
  const w = makeWorkload(n, loaded.config.vocabSize, loaded.tokenizer.bosId);
  const maxLen = Math.max(...w.prompts.map((p, i) => p.length + (w.outputLens[i] as number)));

  const engine = createEngine(loaded, { maxNumSeqs: c });
  // Time spent in steps that ran all C sequences (the steady state) vs the ramp-up and the tail.
  let fullBatchMs = 0;
  let stepMs = 0;
  // Steps of exactly C decode tokens (no prompt chunk mixed in): the steady state's cost per token.
  const decodeSteps: number[] = [];
  engine.onStep((s) => {
    stepMs += s.stepMs;
    if (s.numSeqsInBatch >= c) fullBatchMs += s.stepMs;
    if (s.numSeqsInBatch === c && s.numBatchedTokens === c) decodeSteps.push(s.stepMs);
  });
  const fennec = await drive(w, c, async (i, onToken) => {
    const { events } = engine.generate(w.prompts[i] as number[], { temperature: 0, maxTokens: w.outputLens[i] as number, ignoreEos: true });
    for await (const e of events) if (e.type === "token") onToken();
  });
  await engine.close();
  decodeSteps.sort((a, b) => a - b);
  const row: Run = { c, n, fennec: stats(fennec), fullBatch: stepMs > 0 ? fullBatchMs / stepMs : 0, decodeStepMs: decodeSteps[decodeSteps.length >> 1] ?? 0 };

  if (llamaModel && rep === 0) {
    const ctx = await llamaModel.createContext({ contextSize: maxLen * c, sequences: c, threads, batchSize: 512 });
    const free = Array.from({ length: c }, () => ctx.getSequence());
    const llamaRun = await drive(w, c, async (i, onToken) => {
      const seq = free.pop();
      if (!seq) throw new Error("no free sequence");
      try {
        let k = 0;
        for await (const _t of seq.evaluate(w.prompts[i] as number[] as Token[], { temperature: 0 })) {
          onToken();
          if (++k >= (w.outputLens[i] as number)) break;
        }
        await seq.clearHistory();
      } finally {
        free.push(seq);
      }
    });
    await ctx.dispose();
    row.llama = stats(llamaRun);
  }
  runs.push(row);
  const f = row.fennec;
  const l = row.llama;
  console.log(`${repeat > 1 ? `sweep ${rep + 1}/${repeat} ` : ""}c=${c} n=${n}: fennec ${f.out.toFixed(1)} out tok/s, ${f.total.toFixed(1)} total tok/s, ITL mean ${f.meanItl.toFixed(1)} p99 ${f.p99Itl.toFixed(1)} ms, ` +
    `${(100 * row.fullBatch).toFixed(0)}% of step time at a full batch, a step of ${c} decode tokens ${row.decodeStepMs.toFixed(1)} ms (median)` +
    (l ? ` | llama.cpp ${l.out.toFixed(1)} out tok/s, ITL mean ${l.meanItl.toFixed(1)} p99 ${l.p99Itl.toFixed(1)} ms | ratio ${(f.out / l.out).toFixed(2)}x` : ""));
}

/** The middle value (the mean of the two middle ones for an even count). */
function median(v: number[]): number {
  const s = [...v].sort((x, y) => x - y);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] ?? 0) : ((s[m - 1] ?? 0) + (s[m] ?? 0)) / 2;
}
const c0 = concurrencies[0] ?? 1;
const baseRuns = runs.filter((r) => r.c === c0);
console.log(`\n| concurrency | requests | Fennec out tok/s${repeat > 1 ? ` (median of ${repeat}, range)` : ""} | total tok/s | ITL mean / p99 (ms) | full batch | decode step (median) | vs c=${c0} | node-llama-cpp out tok/s | ITL mean / p99 (ms) | Fennec / llama.cpp |`);
console.log("|---|---|---|---|---|---|---|---|---|---|---|");
for (const c of concurrencies) {
  const mine = runs.filter((r) => r.c === c);
  const outs = mine.map((r) => r.fennec.out);
  // The run nearest the median output rate stands for the concurrency (its latencies, its full-batch share).
  const mOut = median(outs);
  const mid = mine.reduce((a, b) => (Math.abs(b.fennec.out - mOut) < Math.abs(a.fennec.out - mOut) ? b : a));
  // Each sweep's own ratio to its first concurrency, then the median of those.
  const ratios = mine.map((r, k) => r.fennec.out / (baseRuns[k]?.fennec.out ?? r.fennec.out));
  const l = mine[0]?.llama;
  const f = mid.fennec;
  const range = repeat > 1 ? ` (${Math.min(...outs).toFixed(1)}-${Math.max(...outs).toFixed(1)})` : "";
  const ratioRange = repeat > 1 && c !== c0 ? ` (${Math.min(...ratios).toFixed(2)}-${Math.max(...ratios).toFixed(2)})` : "";
  console.log(`| ${c} | ${mid.n} | ${mOut.toFixed(1)}${range} | ${f.total.toFixed(1)} | ${f.meanItl.toFixed(1)} / ${f.p99Itl.toFixed(1)} | ${(100 * mid.fullBatch).toFixed(0)}% | ${mid.decodeStepMs.toFixed(1)} ms | ${median(ratios).toFixed(2)}x${ratioRange} | ` +
    (l ? `${l.out.toFixed(1)} | ${l.meanItl.toFixed(1)} / ${l.p99Itl.toFixed(1)} | ${(mine[0]!.fennec.out / l.out).toFixed(2)}x |` : "- | - | - |"));
}
process.exit(0);
