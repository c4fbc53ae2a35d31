/**
 * Kernel benchmark for the native backend: measures this machine's rooflines (streaming read
 * bandwidth, FP32 FMA peak, int8 dot-product peak) and each matmul weight type against them:
 *   batch 1 (decode, matrix-vector): weight bytes streamed per second vs read bandwidth;
 *   batch N (prefill, default 64): GFLOP/s (2 * rows * cols * n per call) vs the FP32 FMA peak for
 *   float weights, vs the int8 dot peak for quantized weights (their inner loop is int8 dots on
 *   8-bit activations), and vs the FMA peak for both in the last column.
 *
 *   node --import tsx bench/kernels.ts [--threads N] [--isa scalar|avx2|avx512vnni] [--batch N] [--types Q4_0,Q4_K]
 *                                      [--shape COLSxROWS[,COLSxROWS...]] [--quick]
 *
 * --attention benchmarks decode attention instead (16 sequences x 1 token over an f16 paged cache,
 * contexts 128 / 1024 / 4096, qwen2.5-0.5b's and llama-3.2-1b's head layouts): us per call,
 * GFLOP/s (4 * heads * headDim * context per sequence) against the FP32 FMA peak, and the cache's
 * K and V bytes read per second against the read bandwidth. Each sequence's blocks are consecutive
 * in the pool; --scatter shuffles them (a cache after churn). The cache memory is advised for huge
 * pages as the engine's is (FENNEC_HUGEPAGES=0: not, in both).
 *
 * --shape benchmarks real model shapes instead of 4096x4096 (cols = the input dim, rows = the
 * output dim), e.g. qwen2.5-0.5b's 896x4864 (ffn gate/up), 4864x896 (ffn down), 896x151936 (output);
 * a type whose block size does not divide cols is skipped for that shape.
 *
 * A type name ending in "x16" (Q8_0x16, Q5_0x16, Q4_Kx16, Q6_Kx16) is that type packed at load as
 * Fennec does on AVX-512 VNNI (rows interleaved by 16, native/x86_packed.inc).
 *
 * Weights are random but valid (quantized with src/quant/quantize.ts), 256 rows quantized once and
 * tiled to the full matrix; the decode set cycles through enough matrices (> 4x the L3) that every
 * call streams its weights from DRAM, as a real decode step does. The set is one allocation advised
 * for huge pages, as the engine's weights are (FENNEC_HUGEPAGES=0: not, in both).
 */
import * as fs from "node:fs";
import * as os from "node:os";
import { parseArgs } from "node:util";
import { loadNativeAddon, nativeCtx, type NativeIsa } from "../src/backend/native/index.js";
import { FORMATS, GgmlType, rowBytes } from "../src/quant/formats.js";
import { quantizeRows } from "../src/quant/quantize.js";
import { allocWeightMemory } from "../src/weights/file-io.js";

const { values: flags } = parseArgs({
  options: {
    threads: { type: "string" },
    isa: { type: "string" },
    batch: { type: "string" },
    types: { type: "string" },
    quick: { type: "boolean" },
    shape: { type: "string" },
    attention: { type: "boolean" },
    scatter: { type: "boolean" },
  },
});

const load = loadNativeAddon();
if (!load.ok) {
  console.error(`bench:kernels: native addon unavailable: ${load.reason}`);
  process.exit(1);
}
const { addon, info } = load;
const threads = flags.threads !== undefined ? Number(flags.threads) : info.hwThreads;
const isa = (flags.isa ?? info.best) as NativeIsa;
if (!info.isas.includes(isa)) {
  console.error(`bench:kernels: ISA ${isa} not available (have ${info.isas.join(", ")})`);
  process.exit(1);
}
const batch = flags.batch !== undefined ? Number(flags.batch) : 64;
const quick = flags.quick === true;
const ctx = nativeCtx(threads, isa);

function cpuModel(): string {
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(fs.readFileSync("/proc/cpuinfo", "utf8"));
    const fam = /^cpu family\s*:\s*(\d+)$/m.exec(fs.readFileSync("/proc/cpuinfo", "utf8"));
    const model = /^model\s*:\s*(\d+)$/m.exec(fs.readFileSync("/proc/cpuinfo", "utf8"));
    if (m?.[1]) return `${m[1].trim()} (family ${fam?.[1] ?? "?"}, model ${model?.[1] ?? "?"})`;
  } catch {
    // not Linux
  }
  return os.cpus()[0]?.model ?? "unknown CPU";
}

/** Best of `reps` timings of fn, in seconds; each timing repeats fn until it takes >= minTime. */
function timeIt(fn: () => void, reps: number, minTime: number): number {
  let best = Infinity;
  for (let r = 0; r < reps; r++) {
    let iters = 0;
    const t0 = process.hrtime.bigint();
    let dt = 0;
    do {
      fn();
      iters++;
      dt = Number(process.hrtime.bigint() - t0) / 1e9;
    } while (dt < minTime);
    best = Math.min(best, dt / iters);
  }
  return best;
}

let seed = 0x12345678;
function rand(): number {
  // xorshift32, uniform in [-1, 1)
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return (seed >>> 0) / 2 ** 31 - 1;
}

// ---- rooflines
console.log(`CPU: ${cpuModel()}`);
console.log(`threads: ${threads} (hardware: ${info.hwThreads}), kernels: ${isa} (available: ${info.isas.join(", ")}), addon: ${info.compiler.trim()}`);
console.log(`node ${process.version}, ${os.totalmem() / 2 ** 30 | 0} GiB RAM`);

const bwBuf = new Uint8Array(512 * 2 ** 20);
for (let i = 0; i < bwBuf.length; i += 4096) bwBuf[i] = i & 255; // fault the pages in
let bwBest = 0;
for (let r = 0; r < (quick ? 3 : 8); r++) {
  const { seconds, bytes } = addon.streamRead(ctx, bwBuf);
  bwBest = Math.max(bwBest, bytes / seconds / 1e9);
}
let bw1 = 0;
for (let r = 0; r < 3; r++) {
  const { seconds, bytes } = addon.streamRead(nativeCtx(1, isa), bwBuf);
  bw1 = Math.max(bw1, bytes / seconds / 1e9);
}
let fmaBest = 0;
let int8Best = 0;
for (let r = 0; r < 5; r++) {
  // The better of 256- and 512-bit vectors (the kernels use 256-bit; some CPUs split 512-bit ops).
  const iters = quick ? 2e6 : 1e7;
  fmaBest = Math.max(fmaBest, addon.peak(ctx, 0, iters) / 1e9, addon.peak(ctx, 2, iters) / 1e9);
  int8Best = Math.max(int8Best, addon.peak(ctx, 1, iters) / 1e9, addon.peak(ctx, 3, iters) / 1e9);
}
console.log(`roofline: read bandwidth ${bwBest.toFixed(1)} GB/s (${threads} threads; 1 thread: ${bw1.toFixed(1)} GB/s)`);
console.log(`          FP32 FMA peak ${fmaBest.toFixed(0)} GFLOP/s, int8 dot peak ${int8Best.toFixed(0)} GOP/s (${threads} threads)`);
if (info.isas.includes("avx512vnni")) {
  // What a quantized kernel's per-block float work costs its dots: 12 vpdpbusd + 3 other ops per
  // iteration, dot ops/s against the dot peak. Ops that share the dot's pipes lower it by 3/15.
  const zctx = nativeCtx(threads, "avx512vnni");
  const mix = ([4, 5, 6] as const).map((kind) => {
    let best = 0;
    for (let r = 0; r < 3; r++) best = Math.max(best, addon.peak(zctx, kind, quick ? 2e6 : 1e7) / 1e9);
    return best;
  });
  const pct = (x: number): string => `${(100 * x / int8Best).toFixed(0)}%`;
  console.log(`          int8 dots with 1 op per 4 vpdpbusd interleaved, of the dot peak: FMA ${pct(mix[0] as number)}, ` +
    `vaddps ${pct(mix[1] as number)}, vpmulld ${pct(mix[2] as number)} (80%: the op takes a dot's pipe slot; 100%: another pipe)`);
}

// ---- decode attention (--attention)
if (flags.attention) {
  const SEQS = 16;
  const BLOCK = 16;
  const layouts = [["qwen2.5-0.5b", 14, 2, 64], ["llama-3.2-1b", 32, 8, 64]] as const;
  console.log("");
  console.log(`decode attention: ${SEQS} sequences x 1 token, f16 paged cache (block ${BLOCK}), threads ${threads}`);
  console.log("heads (q/kv x dim)          | context | us/call | GFLOP/s | %fma | KV read GB/s | %bw");
  for (const [name, H, KV, D] of layouts) {
    for (const L of [128, 1024, 4096]) {
      const blocks = Math.ceil(L / BLOCK);
      const slots = SEQS * blocks * BLOCK;
      const f16 = (): Uint8Array => {
        // Fresh memory advised for huge pages before it is written, as the engine's KV cache is
        // (unless FENNEC_HUGEPAGES=0, as there): the engine's allocator for such memory.
        const buf = allocWeightMemory(slots * KV * D * 2);
        // Values in +-[0.125, 0.25): finite, varied scores.
        const u = new Uint16Array(buf.buffer, buf.byteOffset, slots * KV * D);
        for (let i = 0; i < u.length; i++) u[i] = 0x3000 + (Math.floor(rand() * 0x800) & 0x7ff) | (rand() < 0.5 ? 0x8000 : 0);
        return new Uint8Array(u.buffer, u.byteOffset, u.byteLength);
      };
      const k = f16();
      const v = f16();
      const q = new Float32Array(SEQS * H * D).map(() => rand());
      const out = new Float32Array(q.length);
      const meta = new Int32Array(5 * SEQS);
      const tables = new Int32Array(SEQS * blocks);
      for (let sq = 0; sq < SEQS; sq++) {
        meta.set([sq, 1, L, sq * blocks, blocks], 5 * sq);
        for (let b = 0; b < blocks; b++) tables[sq * blocks + b] = sq * blocks + b;
      }
      if (flags.scatter) {
        // A cache after churn: every sequence's blocks anywhere in the pool (Fisher-Yates).
        for (let i = tables.length - 1; i > 0; i--) {
          const j = Math.floor(rand() * (i + 1));
          [tables[i], tables[j]] = [tables[j] as number, tables[i] as number];
        }
      }
      const t = timeIt(() => addon.attention(ctx, q, GgmlType.F16, k, v, H, KV, D, BLOCK, 1 / Math.sqrt(D), meta, tables, out), quick ? 2 : 4, quick ? 0.2 : 0.5);
      const gflops = (4 * H * D * L * SEQS) / t / 1e9;
      const kvGbs = (k.length + v.length) / t / 1e9;  // every sequence's K and V rows, read once
      console.log(`${`${name} ${H}/${KV} x ${D}`.padEnd(27)} | ${String(L).padStart(7)} | ${(t * 1e6).toFixed(0).padStart(7)} | ${gflops.toFixed(1).padStart(7)} | ${(100 * gflops / fmaBest).toFixed(0).padStart(3)}% | ` +
        `${kvGbs.toFixed(1).padStart(12)} | ${(100 * kvGbs / bwBest).toFixed(0).padStart(3)}%`);
    }
  }
  process.exit(0);
}

// ---- matmul
const TYPES: readonly string[] = flags.types?.split(",") ??
  ["F32", "F16", "BF16", "Q8_0", "Q8_0x16", "Q4_0", "Q4_1", "Q5_0", "Q5_0x16", "Q5_1", "Q4_K", "Q4_Kx16", "Q5_K", "Q6_K", "Q6_Kx16",
    "Q3_K", "Q2_K"];
const SHAPES: readonly { cols: number; rows: number }[] = (flags.shape ?? "4096x4096").split(",").map((s) => {
  const m = /^(\d+)x(\d+)$/.exec(s.trim());
  if (!m) {
    console.error(`bench:kernels: --shape wants COLSxROWS (e.g. 896x4864), got "${s}"`);
    process.exit(1);
  }
  return { cols: Number(m[1]), rows: Number(m[2]) };
});
const SET_BYTES = (quick ? 128 : 256) * 2 ** 20; // decode weight set, > 4x a 32 MiB L3

function makeWeights(type: GgmlType, cols: number, rows: number, count: number): Uint8Array[] {
  const tileRows = Math.min(256, rows);
  const src = new Float32Array(tileRows * cols);
  for (let i = 0; i < src.length; i++) src[i] = rand() * 0.05;
  const tile = quantizeRows(type, src, tileRows, cols);
  const rb = rowBytes(type, cols);
  // One allocation advised for huge pages before it is written, as the engine's weight heap is
  // (src/weights/file-io.ts): with a 4 KiB-paged allocation per matrix, a 16-token product from
  // "DRAM" ran 10-15% slower than in cache, from TLB walks the engine does not have (1 thread,
  // 896x4864 Q8_0: 283 vs 333 GOP/s; advised, equal).
  const stride = Math.ceil((rb * rows) / 4096) * 4096;
  const set = allocWeightMemory(stride * count);
  const out: Uint8Array[] = [];
  for (let m = 0; m < count; m++) {
    const data = set.subarray(m * stride, m * stride + rb * rows);
    for (let r = 0; r < rows; r += tileRows) data.set(tile.subarray(0, Math.min(tileRows, rows - r) * rb), r * rb);
    out.push(data);
  }
  return out;
}

for (const { cols: COLS, rows: ROWS } of SHAPES) {
  // One weight set per shape (the batch-1 set cycles through enough copies to stream from DRAM).
  const x1 = new Float32Array(COLS).map(() => rand());
  const out1 = new Float32Array(ROWS);
  const xN = new Float32Array(batch * COLS).map(() => rand());
  const outN = new Float32Array(batch * ROWS);

  console.log("");
  console.log(`matmul ${COLS} -> ${ROWS} (cols x rows): batch 1 streams a >= ${SET_BYTES / 2 ** 20} MiB weight set (then reuses ` +
    `one matrix: "cache GB/s", the kernel's speed without DRAM); batch ${batch} reuses one matrix (in cache), then streams the set (from DRAM)`);
  console.log("type    | batch 1: us/call   GB/s  %bw  cache GB/s | batch " + `${batch}`.padEnd(3) + ": ms/call  GFLOP/s  %peak  %fma | DRAM: ms/call  GFLOP/s  %peak");
  for (const name of TYPES) {
    // "<type>x16": the type packed at load as Fennec does on AVX-512 VNNI (rows interleaved by 16).
    const packed = name.endsWith("x16");
    const type = (GgmlType as Record<string, GgmlType>)[packed ? name.slice(0, -3) : name];
    const f = type !== undefined ? FORMATS.get(type) : undefined;
    if (type === undefined || !f) {
      console.log(`${name}: unknown type`);
      continue;
    }
    if (COLS % f.blockSize !== 0) {
      console.log(`${name.padEnd(7)} | (skipped: ${COLS} cols is not a multiple of the block size ${f.blockSize})`);
      continue;
    }
    const matBytes = rowBytes(type, COLS) * ROWS;
    const count = Math.max(2, Math.ceil(SET_BYTES / matBytes));
    const ws = makeWeights(type, COLS, ROWS, count);
    let mmType: number = type;
    if (packed) {
      mmType = ws.map((w) => addon.packWeight(ctx, w, type, COLS, ROWS))[0] as number;
      if (mmType < 0) {
        console.log(`${name.padEnd(7)} | (skipped: no packed layout on ${isa} for ${ROWS} rows)`);
        continue;
      }
    }
    let k = 0;
    const t1 = timeIt(() => {
      addon.matmul(ctx, ws[k % count] as Uint8Array, mmType, COLS, ROWS, x1, 1, out1);
      k++;
    }, quick ? 2 : 4, quick ? 0.2 : 0.5);
    const gbs = matBytes / t1 / 1e9;
    const w0 = ws[0] as Uint8Array;
    const t1c = timeIt(() => addon.matmul(ctx, w0, mmType, COLS, ROWS, x1, 1, out1), quick ? 2 : 4, quick ? 0.2 : 0.5);
    const tN = timeIt(() => addon.matmul(ctx, w0, mmType, COLS, ROWS, xN, batch, outN), quick ? 1 : 3, quick ? 0.2 : 0.5);
    const gflops = (2 * ROWS * COLS * batch) / tN / 1e9;
    // The same batch with weights from DRAM, cycling through the decode set, as in a real model step.
    const tD = timeIt(() => {
      addon.matmul(ctx, ws[k % count] as Uint8Array, mmType, COLS, ROWS, xN, batch, outN);
      k++;
    }, quick ? 1 : 3, quick ? 0.2 : 0.5);
    const gflopsD = (2 * ROWS * COLS * batch) / tD / 1e9;
    const peak = f.blockSize === 1 || isa === "scalar" ? fmaBest : int8Best;
    console.log(
      `${name.padEnd(7)} | ${(t1 * 1e6).toFixed(0).padStart(12)} ${gbs.toFixed(1).padStart(6)} ${(100 * gbs / bwBest).toFixed(0).padStart(3)}% ${(matBytes / t1c / 1e9).toFixed(1).padStart(11)} |` +
      ` ${(tN * 1e3).toFixed(2).padStart(12)} ${gflops.toFixed(0).padStart(8)} ${(100 * gflops / peak).toFixed(0).padStart(5)}% ${(100 * gflops / fmaBest).toFixed(0).padStart(4)}%` +
      ` | ${(tD * 1e3).toFixed(2).padStart(8)} ${gflopsD.toFixed(0).padStart(8)} ${(100 * gflopsD / peak).toFixed(0).padStart(5)}%`,
    );
  }
}
