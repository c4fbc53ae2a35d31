/**
 * A/B timing of two (or more) builds of the native addon on one matmul, in one process: on a shared
 * VM whose speed moves by 10-30% from minute to minute, two separate runs cannot tell a 5% change
 * from noise, so the builds are timed alternately (order flipped every round) on the same weights
 * and activations, and the median of the per-round ratios is printed. This is how the README's
 * "A/B-timed" kernel figures were measured.
 *
 *   npm run bench:ab -- <build0.node> <build1.node> [...] [--type Q8_0] [--shape 896x4864] [--tokens 16]
 *       [--threads 2] [--rounds 30] [--inner 10] [--no-pack]
 *
 *   npm run bench:ab -- <build0.node> <build1.node> [...] --model <file.gguf> [--tokens 16] [--context 96]
 *       [--rounds 20] [--inner 4]
 *
 * --model times whole decode steps instead: the model is loaded once (its weights packed by the
 * addon in build/Release, whose layouts the builds must share) and each round swaps every addon
 * function for the build's before timing `inner` forward passes of `tokens` sequences, one token
 * each at `context` positions of an f16 paged cache (a continuous-batching decode step, without
 * the scheduler and sampler).
 *
 * Build a variant with e.g. `CXXFLAGS=-DFENNEC_X16_PF_MIN_T=1 npm run build:native` and copy
 * build/Release/fennec_native.node aside between builds. Weights: 256 random rows quantized once and
 * tiled (one allocation advised for huge pages, as the engine's), packed at load as the engine does
 * unless --no-pack; a matrix larger than the L3 streams from DRAM on every call. Each build's
 * outputs are compared with build 0's (max |diff|: 0 when a change keeps the arithmetic).
 */
import { createRequire } from "node:module";
import { parseArgs } from "node:util";
import type { NativeAddon } from "../src/backend/native/index.js";
import { loadNativeAddon, nativeCtx } from "../src/backend/native/index.js";
import { GgmlType, rowBytes } from "../src/quant/formats.js";
import { quantizeRows } from "../src/quant/quantize.js";
import { allocWeightMemory } from "../src/weights/file-io.js";
import { machineLine } from "./machine.js";
import { loadModel } from "../src/index.js";

const { values: flags, positionals: builds } = parseArgs({
  allowPositionals: true,
  options: {
    type: { type: "string" },
    shape: { type: "string" },
    tokens: { type: "string" },
    threads: { type: "string" },
    rounds: { type: "string" },
    inner: { type: "string" },
    "no-pack": { type: "boolean" },
    model: { type: "string" },
    context: { type: "string" },
  },
});
if (builds.length < 2) {
  console.error("usage: npm run bench:ab -- <build0.node> <build1.node> [...] [--type Q8_0] [--shape COLSxROWS] [--tokens N] [--threads N] [--rounds N] [--inner N] [--no-pack] [--model FILE.gguf --context N]");
  process.exit(1);
}
const rounds = Number(flags.rounds ?? (flags.model ? 20 : 30));
const inner = Number(flags.inner ?? (flags.model ? 4 : 10));
const tokens = Number(flags.tokens ?? 16);
const threads = Number(flags.threads ?? 2);
const require = createRequire(import.meta.url);
const median = (v: number[]): number => [...v].sort((a, b) => a - b)[v.length >> 1]!;

/** Times each build `rounds` times, alternately (order flipped every round); prints medians and paired ratios. */
function abRounds(count: number, time: (i: number) => number, label: (ms: number) => string): void {
  const ms: number[][] = Array.from({ length: count }, () => []);
  const ratios: number[][] = Array.from({ length: count }, () => []);
  for (let r = 0; r < rounds; r++) {
    const order = Array.from({ length: count }, (_, i) => i);
    if (r % 2) order.reverse();
    const t: number[] = [];
    for (const i of order) t[i] = time(i);
    for (let i = 0; i < count; i++) {
      ms[i]!.push(t[i]!);
      ratios[i]!.push(t[0]! / t[i]!);
    }
  }
  for (let i = 0; i < count; i++) {
    const m = median(ms[i]!);
    console.log(`${builds[i]}: ${label(m)}, speedup vs build 0 (median of ${rounds} paired rounds) ${median(ratios[i]!).toFixed(3)}`);
  }
}

if (flags.model) await modelSteps(flags.model);
else matmuls();
process.exit(0);

/** Whole decode steps of `tokens` sequences on one loaded model, the addon's functions swapped per build. */
async function modelSteps(file: string): Promise<void> {
  const context = Number(flags.context ?? 96);
  const { model, backend } = await loadModel(file, { threads });
  const native = loadNativeAddon();
  if (!native.ok || !backend.name.startsWith("native")) throw new Error(`bench:ab --model needs the native backend (${native.ok ? backend.name : native.reason})`);
  const live = native.addon as unknown as Record<string, unknown>;
  const variants = builds.map((b) => ({ ...(require(b) as Record<string, unknown>) }));
  const blockSize = 16;
  const blocksPer = Math.ceil((context + 1) / blockSize);
  const kv = model.createKvCache(tokens * blocksPer + 1, blockSize);
  const seqs = Array.from({ length: tokens }, (_, i) => ({
    queryStart: i, queryLen: 1, contextLen: context,
    blockTable: Int32Array.from({ length: blocksPer }, (_, j) => 1 + i * blocksPer + j),
  }));
  const last = context - 1;
  const batch = {
    tokenIds: Int32Array.from({ length: tokens }, (_, i) => 100 + i),
    positions: Int32Array.from({ length: tokens }, () => last),
    slotMapping: Int32Array.from(seqs, (q) => q.blockTable[Math.floor(last / blockSize)]! * blockSize + (last % blockSize)),
    seqs,
    logitIndices: Int32Array.from({ length: tokens }, (_, i) => i),
  };
  console.log(`bench:ab --model ${file}: decode steps of ${tokens} sequences at context ${context}, ${inner} steps per sample`);
  console.log(machineLine(threads));
  // Each build's functions in place of the live addon's; then one untimed step (its threads wake).
  const use = (i: number): Float32Array => {
    for (const [k, f] of Object.entries(variants[i]!)) live[k] = f;
    return model.forward(batch, kv);
  };
  const time = (i: number): number => {
    use(i);
    const t0 = performance.now();
    for (let k = 0; k < inner; k++) model.forward(batch, kv);
    return (performance.now() - t0) / inner;
  };
  const logits = variants.map((_, i) => use(i).slice());
  for (let i = 0; i < variants.length; i++) time(i);
  for (let i = 1; i < variants.length; i++) {
    let maxDiff = 0;
    for (let j = 0; j < logits[0]!.length; j++) maxDiff = Math.max(maxDiff, Math.abs(logits[0]![j]! - logits[i]![j]!));
    console.log(`build ${i}: max |logit diff| from build 0 ${maxDiff.toExponential(2)}`);
  }
  abRounds(variants.length, time, (m) => `step median ${m.toFixed(2)} ms, ${((tokens * 1000) / m).toFixed(1)} tok/s`);
}

/** One matmul, each build on its own copy of the weights (packed by that build). */
function matmuls(): void {
  const typeName = flags.type ?? "Q8_0";
  const type = (GgmlType as Record<string, GgmlType>)[typeName];
  if (type === undefined) throw new Error(`bench:ab: unknown type ${typeName}`);
  const [cols, rows] = (flags.shape ?? "896x4864").split("x").map(Number) as [number, number];
  const addons = builds.map((b) => require(b) as NativeAddon);
  // AVX-512 VNNI when the CPU has it (the packed kernels need it), else AVX2.
  const ctx = nativeCtx(threads, addons[0]?.info().isas.includes("avx512vnni") ? "avx512vnni" : "avx2");

  const tile = quantizeRows(type, new Float32Array(256 * cols).map(() => (Math.random() - 0.5) * 0.1), 256, cols);
  const rb = rowBytes(type, cols);
  const setups = addons.map((addon) => {
    const w = allocWeightMemory(rb * rows);
    for (let r = 0; r < rows; r += 256) w.set(tile.subarray(0, Math.min(256, rows - r) * rb), r * rb);
    const wType = flags["no-pack"] ? type : addon.packWeight(ctx, w, type, cols, rows);
    return { addon, w, wType, out: new Float32Array(tokens * rows) };
  });
  const x = new Float32Array(tokens * cols).map(() => Math.random() - 0.5);

  const time = (i: number): number => {
    const s = setups[i]!;
    const t0 = performance.now();
    for (let k = 0; k < inner; k++) s.addon.matmul(ctx, s.w, s.wType, cols, rows, x, tokens, s.out);
    return (performance.now() - t0) / inner;
  };

  console.log(`bench:ab ${typeName} ${cols}x${rows} (cols x rows), ${tokens} tokens, ${flags["no-pack"] ? "file layout" : "packed at load"}`);
  console.log(machineLine(threads));
  for (let i = 0; i < setups.length; i++) time(i);
  for (let i = 1; i < setups.length; i++) {
    let maxDiff = 0;
    const a = setups[0]!.out;
    const b = setups[i]!.out;
    for (let j = 0; j < a.length; j++) maxDiff = Math.max(maxDiff, Math.abs((a[j] as number) - (b[j] as number)));
    console.log(`build ${i}: max |diff| from build 0 ${maxDiff.toExponential(2)}`);
  }
  const ops = 2 * cols * rows * tokens;
  abRounds(setups.length, time, (m) => `median ${m.toFixed(4)} ms, ${(ops / m / 1e6).toFixed(0)} GOP/s`);
}
