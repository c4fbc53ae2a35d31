/**
 * End-to-end model speed, as llama-bench's pp512 / tg128: prompt processing (one 512-token batch
 * from an empty cache) and generation (128 tokens one at a time, greedy) in tokens/s, for Fennec
 * (native backend) and for llama.cpp (node-llama-cpp's prebuilt CPU build) on the same file and
 * thread count; and the decode roofline: weight bytes read per generated token / measured memory
 * bandwidth.
 *
 *   npm run bench:decode -- <model.gguf> [--threads N] [--pp 512] [--tg 128] [--reps 3] [--no-llama] [--kv-dtype f16|q8_0|f32]
 *   npm run bench:decode -- --presets [--all | --models a,b] [--types q8_0,q4_k_m] [--threads N] [--reps 3] [--cache-dir DIR]
 *   --hugepages-ab instead compares Fennec's decode with 4 KiB and huge-page weight memory, in one process;
 *   --pack-ab its decode (1 and 16 sequences) with weights in the file's layout and packed at load
 *
 * --presets synthesizes qwen2.5-0.5b and llama-3.2-1b (--all: also smollm2-135m, tinyllama-1.1b) at
 * each type into a cache directory (reused on the next run) and prints a markdown table.
 * Each engine runs in a child process of its own; each figure is the best of --reps runs.
 * Fennec's numbers are forward passes driven directly (no scheduler); llama.cpp's go through
 * node-llama-cpp (a JS call per generated token, ~0.1 ms), flash attention off. Both KV caches are
 * F16 by default (each engine's default); --kv-dtype f32 makes both F32, --kv-dtype q8_0 makes
 * Fennec's Q8_0 while llama.cpp keeps F16 (its quantized V cache needs flash attention).
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parseArgs } from "node:util";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { getLlama, type Llama } from "node-llama-cpp";
import { loadModel } from "../src/index.js";
import { loadNativeAddon, nativeCtx } from "../src/backend/native/index.js";
import { readGguf } from "../src/weights/gguf.js";
import { openModelFiles } from "../src/weights/load.js";
import { parameterCount } from "../src/models/presets.js";
import { synthesize } from "../src/models/synth.js";
import { XorShift128 } from "../src/quant/random-blocks.js";
import { checkKvDtype, parseKvDtype, type KvDtype } from "../src/backend/kv-dtype.js";

const { values: flags, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    threads: { type: "string" },
    pp: { type: "string" },
    tg: { type: "string" },
    "no-llama": { type: "boolean" },
    presets: { type: "boolean" },
    all: { type: "boolean" },
    types: { type: "string" },
    models: { type: "string" },
    "cache-dir": { type: "string" },
    reps: { type: "string" },
    child: { type: "string" },
    "kv-dtype": { type: "string" },
    "hugepages-ab": { type: "boolean" },
    "pack-ab": { type: "boolean" },
  },
});
const threads = flags.threads !== undefined ? Number(flags.threads) : os.availableParallelism();
const PP = flags.pp !== undefined ? Number(flags.pp) : 512;
const TG = flags.tg !== undefined ? Number(flags.tg) : 128;
const REPS = flags.reps !== undefined ? Number(flags.reps) : 3;
const KV_DTYPE: KvDtype = parseKvDtype("--kv-dtype", flags["kv-dtype"] ?? "f16");
/** llama.cpp's K / V cache type for the same run. */
const LLAMA_KV = KV_DTYPE === "f32" ? "F32" : "F16";

function cpuModel(): string {
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(fs.readFileSync("/proc/cpuinfo", "utf8"));
    if (m?.[1]) return m[1].trim();
  } catch {
    // not Linux
  }
  return os.cpus()[0]?.model ?? "unknown CPU";
}

/** Read bandwidth (GB/s): the native addon's parallel streaming read if built, else a JS typed-array loop. */
function measureBandwidth(): { gbps: number; how: string } {
  const buf = new Uint8Array(512 * 2 ** 20);
  for (let i = 0; i < buf.length; i += 4096) buf[i] = i & 255;
  const load = loadNativeAddon();
  if (load.ok) {
    let best = 0;
    for (let r = 0; r < 8; r++) {
      const { seconds, bytes } = load.addon.streamRead(nativeCtx(threads, load.info.best), buf);
      best = Math.max(best, bytes / seconds / 1e9);
    }
    return { gbps: best, how: `native streamRead, ${threads} threads, 512 MiB` };
  }
  const f = new Float64Array(buf.buffer);
  let best = 0;
  for (let r = 0; r < 4; r++) {
    const t0 = performance.now();
    let s = 0;
    for (let i = 0; i < f.length; i++) s += f[i] as number;
    const dt = (performance.now() - t0) / 1000;
    if (s === 42) console.log(""); // keep the loop
    best = Math.max(best, buf.length / dt / 1e9);
  }
  return { gbps: best, how: "JS Float64Array sum, 1 thread, 512 MiB (native addon not built)" };
}

/** Bytes of weights one decode step reads: every tensor, except that an untied token_embd is only looked up (one row). */
function bytesPerToken(file: string): { bytes: number; size: number; fileType: number | undefined } {
  const g = readGguf(file);
  const tied = !g.tensors.some((t) => t.name === "output.weight");
  let bytes = 0;
  let size = 0;
  for (const t of g.tensors) {
    size += t.byteLength;
    if (t.name === "token_embd.weight" && !tied) bytes += t.byteLength / (t.dims[1] ?? 1);
    else bytes += t.byteLength;
  }
  const ft = g.metadata.get("general.file_type");
  return { bytes, size, fileType: typeof ft === "number" ? ft : undefined };
}

function randomTokens(n: number, vocab: number, seed: number): number[] {
  const r = new XorShift128(seed);
  // Avoid the first ids (control tokens in most vocabularies); any id is fine for speed.
  return Array.from({ length: n }, () => 100 + (r.u32() % (vocab - 100)));
}

interface Speeds { pp: number; tg: number; backend: string }

type Loaded = Awaited<ReturnType<typeof loadModel>>;
type Kv = ReturnType<Loaded["model"]["createKvCache"]>;

/** One sequence's forward pass of `ids` at positions start.. (identity block table). */
function forwardOne(m: Loaded, kv: Kv, ids: readonly number[], start: number): Float32Array {
  const table = Int32Array.from({ length: kv.numBlocks }, (_, i) => i);
  const positions = Int32Array.from(ids, (_, i) => start + i);
  return m.model.forward({
    tokenIds: Int32Array.from(ids), positions, slotMapping: positions,
    seqs: [{ queryStart: 0, queryLen: ids.length, contextLen: start + ids.length, blockTable: table }],
    logitIndices: Int32Array.of(ids.length - 1),
  }, kv);
}

function argmax(logits: Float32Array, vocab: number): number {
  let best = 0;
  for (let j = 1; j < vocab; j++) if ((logits[j] as number) > (logits[best] as number)) best = j;
  return best;
}

async function benchFennec(file: string): Promise<Speeds> {
  const m = await loadModel(file, { backend: "auto", threads });
  const vocab = m.config.vocabSize;
  const blockSize = 16;
  const run = (kv: Kv, ids: readonly number[], start: number): Float32Array => forwardOne(m, kv, ids, start);
  // Warm up (weights paged in, scratch grown).
  run(m.model.createKvCache(Math.ceil(PP / blockSize), blockSize, KV_DTYPE), randomTokens(Math.min(PP, 64), vocab, 1), 0);
  const prompt = randomTokens(PP, vocab, 2);
  let pp = 0;
  let tg = 0;
  for (let rep = 0; rep < REPS; rep++) {
    const t0 = performance.now();
    run(m.model.createKvCache(Math.ceil(PP / blockSize), blockSize, KV_DTYPE), prompt, 0);
    pp = Math.max(pp, PP / ((performance.now() - t0) / 1000));
    const kv = m.model.createKvCache(Math.ceil((TG + 1) / blockSize), blockSize, KV_DTYPE);
    let token = prompt[0] as number;
    const t1 = performance.now();
    for (let i = 0; i < TG; i++) token = argmax(run(kv, [token], i), vocab);
    tg = Math.max(tg, TG / ((performance.now() - t1) / 1000));
  }
  return { pp, tg, backend: m.backend.name };
}

interface AB { off: number; on: number; fasterRounds: number; rounds: number }

/**
 * --hugepages-ab, --pack-ab: the same file loaded twice in one process, with the setting off (env
 * var "0") and on ("1"), `seqs` sequences decoding alternately in rounds of 10 steps, so both see the
 * same machine (this VM's bandwidth moves too much between runs to compare two separate runs).
 * Medians over the rounds, in generated tokens/s (seqs per step).
 */
async function benchAB(file: string, env: string, seqs: number): Promise<AB> {
  const ROUNDS = 12;
  const STEPS = 10;
  const models: Loaded[] = [];
  for (const setting of ["0", "1"]) {
    process.env[env] = setting;  // read while the model loads
    models.push(await loadModel(file, { backend: "native", threads }));
  }
  const blocksPerSeq = Math.ceil((ROUNDS * STEPS + 1) / 16);
  const tables = Array.from({ length: seqs }, (_, s) => Int32Array.from({ length: blocksPerSeq }, (_, i) => s * blocksPerSeq + i));
  const kvs = models.map((m) => m.model.createKvCache(seqs * blocksPerSeq, 16, KV_DTYPE));
  const tokens = models.map(() => Array.from({ length: seqs }, (_, s) => 100 + s));
  const step = (k: number, pos: number): void => {
    const m = models[k] as Loaded;
    const logits = m.model.forward({
      tokenIds: Int32Array.from(tokens[k] as number[]), positions: new Int32Array(seqs).fill(pos),
      slotMapping: Int32Array.from(tables, (t) => (t[pos >> 4] as number) * 16 + (pos & 15)),
      seqs: tables.map((t, s) => ({ queryStart: s, queryLen: 1, contextLen: pos + 1, blockTable: t })),
      logitIndices: Int32Array.from(tables, (_, s) => s),
    }, kvs[k] as Kv);
    const vocab = m.config.vocabSize;
    tokens[k] = (tokens[k] as number[]).map((_, s) => argmax(logits.subarray(s * vocab, (s + 1) * vocab), vocab));
  };
  const perRound: number[][] = [[], []];
  for (let r = 0; r < ROUNDS; r++) {
    for (let k = 0; k < 2; k++) {
      const t0 = performance.now();
      for (let i = 0; i < STEPS; i++) step(k, r * STEPS + i);
      (perRound[k] as number[]).push(seqs * STEPS / ((performance.now() - t0) / 1000));
    }
  }
  const [off, on] = perRound as [number[], number[]];
  const median = (a: number[]): number => [...a].sort((x, y) => x - y)[a.length >> 1] as number;
  return { off: median(off), on: median(on), fasterRounds: on.filter((v, i) => v > (off[i] as number)).length, rounds: ROUNDS };
}

function nodeLlamaCppVersion(): string {
  try {
    const pkg = JSON.parse(fs.readFileSync(path.join(process.cwd(), "node_modules", "node-llama-cpp", "package.json"), "utf8")) as { version?: string };
    return pkg.version ?? "?";
  } catch {
    return "?";
  }
}

let llamaInstance: Llama | undefined;
async function benchLlama(file: string, nVocab: number): Promise<Speeds> {
  llamaInstance ??= await getLlama({ gpu: false, build: "never", logLevel: "error" as never, progressLogs: false });
  const model = await llamaInstance.loadModel({ modelPath: file, gpuLayers: 0 });
  const ctx = await model.createContext({ contextSize: PP + TG + 64, threads, batchSize: PP, sequences: 1, flashAttention: false,
    experimentalKvCacheKeyType: LLAMA_KV, experimentalKvCacheValueType: LLAMA_KV });
  try {
    const seq = ctx.getSequence();
    await seq.evaluateWithoutGeneratingNewTokens(randomTokens(Math.min(PP, 64), nVocab, 1) as never);
    await seq.clearHistory();
    const prompt = randomTokens(PP, nVocab, 2);
    let pp = 0;
    let tg = 0;
    for (let rep = 0; rep < REPS; rep++) {
      const t0 = performance.now();
      await seq.evaluateWithoutGeneratingNewTokens(prompt as never);
      pp = Math.max(pp, PP / ((performance.now() - t0) / 1000));
      await seq.clearHistory();
      let n = 0;
      const t1 = performance.now();
      for await (const _ of seq.evaluate([prompt[0]] as never, { temperature: 0 })) {
        if (++n >= TG) break;
      }
      tg = Math.max(tg, TG / ((performance.now() - t1) / 1000));
      await seq.clearHistory();
    }
    return { pp, tg, backend: `llama.cpp (node-llama-cpp ${nodeLlamaCppVersion()} ${llamaInstance.buildType})` };
  } finally {
    await ctx.dispose();
    await model.dispose();
  }
}

interface Row {
  readonly name: string;
  readonly sizeGB: number;
  readonly fennec: Speeds;
  readonly llama: Speeds | undefined;
  /** Weight bytes read per generated token. */
  readonly bytes: number;
  /** The higher of the bandwidth samples taken just before and just after Fennec's run (GB/s). */
  readonly bwAround: number;
}

/**
 * The machine's bandwidth moves between runs on a shared VM (28-56 GB/s seen here), so it is
 * measured again before every model and right after Fennec's run of it. The table's roofline uses
 * the best of all measurements: the highest bandwidth, hence the most demanding roofline, of the
 * whole run; a second ratio uses the higher of the two samples that bracket Fennec's own run (the
 * machine as it was then: one fast sample elsewhere in the run no longer sets every model's bar).
 */
const bandwidthSamples: number[] = [];
function sampleBandwidth(): { gbps: number; how: string } {
  const bw = measureBandwidth();
  bandwidthSamples.push(bw.gbps);
  return bw;
}
const bestBandwidth = (): number => Math.max(...bandwidthSamples);
const rooflineTg = (r: Row): number => (bestBandwidth() * 1e9) / r.bytes;

const f1 = (x: number): string => (x >= 100 ? x.toFixed(0) : x.toFixed(1));
const ratio = (a: number, b: number | undefined): string => (b === undefined ? "-" : `${(a / b).toFixed(2)}x`);

/** --hugepages-ab / --pack-ab: prints the comparisons instead of the pp / tg table row. */
function printAB(file: string, name: string): void {
  const runs: readonly (readonly [flag: "hugepages-ab" | "pack-ab", env: string, off: string, on: string, seqs: readonly number[]])[] = [
    ["hugepages-ab", "FENNEC_HUGEPAGES", "with 4 KiB pages", "with huge pages", [1]],
    ["pack-ab", "FENNEC_PACK", "in the file's layout", "packed at load", [1, 16]],
  ];
  for (const [flag, env, offName, onName, seqsList] of runs) {
    if (!flags[flag]) continue;
    for (const seqs of seqsList) {
      const ab = JSON.parse(childOutput(`ab:${env}:${seqs}`, file)) as AB;
      console.log(`${name}, ${seqs} sequence${seqs > 1 ? "s" : ""}: Fennec decode ${offName} ${f1(ab.off)} tok/s, ${onName} ${f1(ab.on)} tok/s ` +
        `(${ratio(ab.on, ab.off)}); faster in ${ab.fasterRounds} of ${ab.rounds} alternating rounds of 10 steps`);
    }
  }
}

async function benchFile(file: string, name: string): Promise<Row | undefined> {
  if (flags["hugepages-ab"] || flags["pack-ab"]) {
    printAB(file, name);
    return undefined;
  }
  const { bytes, size } = bytesPerToken(file);
  const bw = sampleBandwidth().gbps;
  const fennec = inChild("fennec", file);
  const bwAfter = sampleBandwidth().gbps;
  const llama = flags["no-llama"] ? undefined : inChild("llama", file);
  const row = { name, sizeGB: size / 1e9, fennec, llama, bytes, bwAround: Math.max(bw, bwAfter) };
  process.stderr.write(`${name}: Fennec (${fennec.backend}) pp${PP} ${f1(fennec.pp)} tok/s, tg${TG} ${f1(fennec.tg)} tok/s` +
    (llama ? `; ${llama.backend} pp${PP} ${f1(llama.pp)} tok/s, tg${TG} ${f1(llama.tg)} tok/s` : "") +
    `; bandwidth ${bw.toFixed(1)} GB/s before Fennec's run, ${bwAfter.toFixed(1)} after (${(bytes / 1e6).toFixed(0)} MB/token)\n`);
  return row;
}

function table(rows: readonly Row[]): string {
  const head = `| model | size | Fennec pp${PP} | llama.cpp pp${PP} | Fennec / llama.cpp | Fennec tg${TG} | llama.cpp tg${TG} | Fennec / llama.cpp | roofline tg | Fennec / roofline | llama.cpp / roofline | Fennec / roofline at its run |`;
  const lines = [head, "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|"];
  for (const r of rows) {
    lines.push(`| ${r.name} | ${r.sizeGB.toFixed(2)} GB | ${f1(r.fennec.pp)} | ${r.llama ? f1(r.llama.pp) : "-"} | ${ratio(r.fennec.pp, r.llama?.pp)} ` +
      `| ${f1(r.fennec.tg)} | ${r.llama ? f1(r.llama.tg) : "-"} | ${ratio(r.fennec.tg, r.llama?.tg)} | ${f1(rooflineTg(r))} ` +
      `| ${(100 * r.fennec.tg / rooflineTg(r)).toFixed(0)}% | ${r.llama ? `${(100 * r.llama.tg / rooflineTg(r)).toFixed(0)}%` : "-"} ` +
      `| ${(100 * r.fennec.tg * r.bytes / (r.bwAround * 1e9)).toFixed(0)}% (${r.bwAround.toFixed(1)} GB/s) |`);
  }
  return lines.join("\n");
}

/**
 * One engine's measurement in a fresh process, so neither engine's thread pool, memory or GC
 * state can slow the other down.
 */
function inChild(engine: "fennec" | "llama", file: string): Speeds {
  return JSON.parse(childOutput(engine, file)) as Speeds;
}

/** The JSON line a `--child <what>` process prints. */
function childOutput(what: string, file: string): string {
  const args = [...process.execArgv, fileURLToPath(import.meta.url), "--child", what, file,
    "--threads", String(threads), "--pp", String(PP), "--tg", String(TG), "--reps", String(REPS), "--kv-dtype", KV_DTYPE];
  const r = spawnSync(process.execPath, args, { encoding: "utf8", maxBuffer: 1 << 24 });
  const line = r.stdout.trim().split("\n").pop() ?? "";
  if (r.status !== 0 || !line.startsWith("{")) throw new Error(`${what} on ${file} failed (exit ${r.status}):\n${r.stderr}`);
  return line;
}

async function child(what: string, file: string): Promise<void> {
  const result = what === "fennec" ? await benchFennec(file)
    : what.startsWith("ab:") ? await benchAB(file, what.split(":")[1] as string, Number(what.split(":")[2]))
    : await benchLlama(file, openModelFiles(file).config.vocabSize);
  console.log(JSON.stringify(result));
  process.exit(0);
}

async function main(): Promise<void> {
  if (flags.child !== undefined) return child(flags.child, positionals[0] ?? "");
  const load = loadNativeAddon();
  const bw = sampleBandwidth();
  console.log(`date: ${new Date().toISOString().slice(0, 10)}`);
  console.log(`machine: ${cpuModel()}, ${os.cpus().length} cores (${os.availableParallelism()} available), ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB RAM, node ${process.version}, load average ${os.loadavg()[0]?.toFixed(2)} at start`);
  console.log(`Fennec native: ${load.ok ? `${load.info.best} kernels, ${load.info.compiler.trim()}` : `unavailable (${load.reason}): reference backend`}; threads ${threads}`);
  console.log(`memory read bandwidth: ${bw.gbps.toFixed(1)} GB/s at start (${bw.how}; measured again before each model)`);
  console.log(`KV cache: Fennec ${KV_DTYPE}, llama.cpp ${LLAMA_KV}`);
  console.log(`roofline tg = bandwidth / weight bytes read per token (all weights but the embedding rows not looked up; KV cache reads not counted)`);
  console.log(`each engine runs in its own process; best of ${REPS} runs of pp${PP} (one batch, empty cache) and tg${TG} (one token at a time, greedy)`);

  const rows: Row[] = [];
  if (flags.presets) {
    const cacheDir = flags["cache-dir"] ?? path.join(os.tmpdir(), "fennec-bench-presets");
    fs.mkdirSync(cacheDir, { recursive: true });
    const names = flags.models?.split(",") ?? (flags.all ? ["smollm2-135m", "qwen2.5-0.5b", "llama-3.2-1b", "tinyllama-1.1b"] : ["qwen2.5-0.5b", "llama-3.2-1b"]);
    const types = (flags.types ?? "q8_0,q4_k_m").split(",");
    for (const name of names) {
      for (const type of types) {
        const file = path.join(cacheDir, `${name}-${type}-seed1.gguf`);
        if (!fs.existsSync(file)) {
          process.stderr.write(`synthesizing ${file}\n`);
          await synthesize(name, file, { type, seed: 1 });
        }
        const row = await benchFile(file, `${name} ${type.toUpperCase()}`);
        if (row) rows.push(row);
      }
    }
  } else {
    const file = positionals[0];
    if (file === undefined) {
      console.error("usage: npm run bench:decode -- <model.gguf> [--threads N] [--pp 512] [--tg 128] [--reps 3] [--no-llama] [--kv-dtype f16|q8_0|f32] | --presets [--all | --models a,b] [--types q8_0,q4_k_m]");
      process.exit(1);
    }
    const c = openModelFiles(file).config;
    try {
      checkKvDtype(KV_DTYPE, c.numKvHeads, c.headDim, "--kv-dtype");
    } catch (e) {
      console.error(e instanceof Error ? e.message : String(e)); // e.g. q8_0 for a model with 8-wide heads
      process.exit(1);
    }
    const row = await benchFile(file, `${path.basename(file)} (${(parameterCount(c) / 1e6).toFixed(0)}M params)`);
    if (row) rows.push(row);
  }
  if (rows.length === 0) process.exit(0);  // --hugepages-ab, --pack-ab
  sampleBandwidth();
  console.log("");
  console.log(`memory read bandwidth samples: ${bandwidthSamples.map((b) => b.toFixed(1)).join(", ")} GB/s; roofline uses the best, ${bestBandwidth().toFixed(1)} GB/s`);
  console.log(table(rows));
  process.exit(0);
}

await main();
