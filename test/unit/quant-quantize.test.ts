/**
 * Reference quantizers. The decoders are pinned by hand-built blocks (quant-dequant.test.ts), so a
 * quantize -> dequantize round trip within tight per-type error bounds shows the quantizers write
 * the same layouts and choose good scales.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { dequantize, dequantizeRow } from "../../src/quant/dequant.js";
import { FORMATS, GgmlType, rowBytes, type GgmlType as GgmlTypeT } from "../../src/quant/formats.js";
import { f16ToF32 } from "../../src/quant/half.js";
import { QUANTIZABLE_TYPES, quantize, quantizeInto, quantizeRows } from "../../src/quant/quantize.js";
import { readGguf, readTensors } from "../../src/weights/gguf.js";
import { stories } from "../helpers/paths.js";

const STORIES = stories("stories260K.gguf");

function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function gaussian(n: number, seed: number, sigma = 1): Float32Array {
  const r = rng(seed);
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) x[i] = sigma * Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
  return x;
}

function roundTrip(type: GgmlTypeT, x: Float32Array, n = x.length): Float32Array {
  const y = new Float32Array(n);
  dequantize(type, quantize(type, x, n), n, y);
  return y;
}

/** RMS of the error relative to the RMS of the data. */
function relRmse(x: Float32Array, y: Float32Array): number {
  let se = 0;
  let sx = 0;
  for (let i = 0; i < y.length; i++) {
    se += (x[i]! - y[i]!) ** 2;
    sx += x[i]! ** 2;
  }
  return Math.sqrt(se / sx);
}

const name = (t: GgmlTypeT): string => FORMATS.get(t)!.name;
const f16At = (b: Uint8Array, o: number): number => f16ToF32(b[o]! | (b[o + 1]! << 8));

// Relative RMSE bounds on N(0, 1) data (16384 values), about 5% above the worst of 3 seeds (shown in
// comments). Deterministic data, so the margin only has to absorb float-level changes; it is tight
// enough to catch a layout bug (errors near 1) or a dropped scale search in Q2_K / Q4_K / Q5_K.
const GAUSS_BOUNDS: [GgmlTypeT, number][] = [
  [GgmlType.F16, 2.3e-4], // 0.00021
  [GgmlType.BF16, 1.8e-3], // 0.00167
  [GgmlType.Q8_0, 0.0057], // 0.00536
  [GgmlType.Q4_0, 0.090], // 0.0861
  [GgmlType.Q4_1, 0.083], // 0.0784
  [GgmlType.Q5_0, 0.045], // 0.0428
  [GgmlType.Q5_1, 0.040], // 0.0379
  [GgmlType.Q2_K, 0.31], // 0.2959
  [GgmlType.Q3_K, 0.159], // 0.1518
  [GgmlType.Q4_K, 0.0753], // 0.0717
  [GgmlType.Q5_K, 0.0378], // 0.0361
  [GgmlType.Q6_K, 0.0186], // 0.0178
];

test("round trip on Gaussian data within per-type relative RMSE bounds", () => {
  for (const seed of [1, 2, 3]) {
    const x = gaussian(16384, seed);
    for (const [type, bound] of GAUSS_BOUNDS) {
      const err = relRmse(x, roundTrip(type, x));
      assert.ok(err < bound, `${name(type)} seed ${seed}: relative RMSE ${err.toFixed(5)} >= ${bound}`);
    }
    assert.deepEqual(roundTrip(GgmlType.F32, x), x);
  }
});

test("round trip on uniform data, scaled small and large", () => {
  // Uniform [-1, 1) has a lighter tail than Gaussian, so every type does better than on GAUSS_BOUNDS.
  // (Much smaller magnitudes lose precision in the fp16 super-block scales, as in ggml: see quantize.ts.)
  for (const scale of [1e-2, 1, 1e3]) {
    const r = rng(7);
    const x = new Float32Array(8192).map(() => scale * (2 * r() - 1));
    for (const [type, bound] of GAUSS_BOUNDS) {
      const err = relRmse(x, roundTrip(type, x));
      assert.ok(err < bound, `${name(type)} scale ${scale}: ${err.toFixed(5)}`);
    }
  }
});

test("per-element bounds for the 32-weight formats", () => {
  // Q8_0: q = round(x / d), so |error| <= d/2, plus the fp16 rounding of d (relative 2^-11) times |q| <= 127.
  // Q4_0 / Q5_0: the extreme level is only on the negative side, so a value of the opposite sign to
  // the largest one can be off by a whole d; |error| <= d + 2^-11 * d * 2^bits.
  // Q4_1 / Q5_1: |error| <= d/2 + fp16 rounding of d (times nmax) and of m.
  const x = gaussian(32 * 256, 11);
  const check = (type: GgmlTypeT, bound: (b: Uint8Array, o: number) => number): void => {
    const f = FORMATS.get(type)!;
    const q = quantize(type, x, x.length);
    const y = new Float32Array(x.length);
    dequantize(type, q, x.length, y);
    for (let blk = 0; blk < x.length / 32; blk++) {
      const limit = bound(q, blk * f.typeSize);
      for (let j = 0; j < 32; j++) {
        const i = 32 * blk + j;
        const err = Math.abs(x[i]! - y[i]!);
        assert.ok(err <= limit, `${f.name} block ${blk} element ${j}: |error| ${err} > ${limit}`);
      }
    }
  };
  const eps = 2 ** -11;
  check(GgmlType.Q8_0, (b, o) => Math.abs(f16At(b, o)) * (0.5 + 127 * eps) * (1 + eps));
  check(GgmlType.Q4_0, (b, o) => Math.abs(f16At(b, o)) * (1 + 16 * eps) * (1 + eps));
  check(GgmlType.Q5_0, (b, o) => Math.abs(f16At(b, o)) * (1 + 32 * eps) * (1 + eps));
  check(GgmlType.Q4_1, (b, o) => (Math.abs(f16At(b, o)) * (0.5 + 15 * eps) + Math.abs(f16At(b, o + 2)) * eps) * (1 + eps));
  check(GgmlType.Q5_1, (b, o) => (Math.abs(f16At(b, o)) * (0.5 + 31 * eps) + Math.abs(f16At(b, o + 2)) * eps) * (1 + eps));
});

test("exact bytes of a hand-checked Q4_0 block and Q8_0 block", () => {
  // x[j] = j - 8, x[16 + j] = 7 - j: the largest magnitude is -8, so d = -8 / -8 = 1 (fp16 0x3c00) and
  // q = x + 8: low nibble of qs[j] = j, high nibble = 15 - j.
  const x = new Float32Array(32);
  for (let j = 0; j < 16; j++) {
    x[j] = j - 8;
    x[16 + j] = 7 - j;
  }
  const want = [0x00, 0x3c, ...Array.from({ length: 16 }, (_, j) => j | ((15 - j) << 4))];
  assert.deepEqual([...quantize(GgmlType.Q4_0, x, 32)], want);

  // Q8_0 of x[j] = 2j - 31 (amax 31 at j = 0, d = 31/127 -> fp16 0x33d0): q[j] = round((2j - 31) * 127/31).
  const x8 = new Float32Array(32).map((_, j) => 2 * j - 31);
  const q8 = quantize(GgmlType.Q8_0, x8, 32);
  assert.equal(q8[0]! | (q8[1]! << 8), 0x33d0);
  assert.equal(q8[2], -127 & 0xff); // x = -31
  assert.equal(q8[2 + 15], -4 & 0xff); // x = -1: -127/31 = -4.097 -> -4
  assert.equal(q8[2 + 16], 4); // x = 1
  assert.equal(q8[2 + 31], 127); // x = 31
});

test("values on the quantization grid round-trip exactly", () => {
  const grid: [GgmlTypeT, (j: number) => number][] = [
    [GgmlType.Q8_0, (j) => (j === 0 ? -127 : ((j * 37) % 255) - 127)], // amax 127: d = 1
    [GgmlType.Q4_0, (j) => (j % 16) - 8], // d = 1
    [GgmlType.Q5_0, (j) => j - 16], // d = 1
    [GgmlType.Q4_1, (j) => 3 + 0.5 * (j % 16)], // m = 3, d = 0.5
    [GgmlType.Q5_1, (j) => -2 + 0.25 * j], // m = -2, d = 0.25
  ];
  for (const [type, f] of grid) {
    const x = new Float32Array(64).map((_, i) => f(i % 32));
    assert.deepEqual(roundTrip(type, x), x, name(type));
  }
});

test("degenerate blocks: zeros, constants, a single outlier, tiny values; never NaN", () => {
  const n = 512;
  const cases: [string, Float32Array][] = [
    ["zeros", new Float32Array(n)],
    ["constant 3", new Float32Array(n).fill(3)],
    ["constant -0.7", new Float32Array(n).fill(-0.7)],
    ["one outlier", (() => { const x = gaussian(n, 5, 0.01); x[100] = 50; return x; })()],
    ["tiny", gaussian(n, 6, 1e-20)],
  ];
  for (const type of QUANTIZABLE_TYPES) {
    for (const [label, x] of cases) {
      const y = roundTrip(type, x);
      for (let i = 0; i < n; i++) assert.ok(Number.isFinite(y[i]), `${name(type)} ${label}: element ${i} is ${y[i]}`);
      if (label === "zeros") assert.ok(y.every((v) => v === 0), `${name(type)} zeros`);
      if (label.startsWith("constant")) {
        // A constant needs one level: every type gets within 1% (Q2_K's 2-bit grid included).
        for (let i = 0; i < n; i++) assert.ok(Math.abs(y[i]! - x[i]!) <= 0.01 * Math.abs(x[i]!), `${name(type)} ${label}: ${y[i]}`);
      }
      if (label === "one outlier") assert.ok(Math.abs(y[100]! - 50) < 50 * 0.02, `${name(type)} keeps the outlier: ${y[100]}`);
    }
  }
});

test("output sizes, determinism, quantizeRows and quantizeInto", () => {
  const x = gaussian(3 * 512, 9);
  for (const type of QUANTIZABLE_TYPES) {
    const q = quantize(type, x, 1024);
    assert.equal(q.length, rowBytes(type, 1024), name(type));
    assert.deepEqual(quantize(type, x, 1024), q, `${name(type)} is deterministic`);
    const rows = quantizeRows(type, x, 3, 512);
    const perRow = [0, 1, 2].map((r) => quantize(type, x.subarray(512 * r), 512));
    assert.deepEqual([...rows], perRow.flatMap((b) => [...b]), `${name(type)} rows`);
    const into = new Uint8Array(rowBytes(type, 512) + 5);
    quantizeInto(type, x, 512, 512, into, 5);
    assert.deepEqual([...into.subarray(5)], [...perRow[1]!], `${name(type)} quantizeInto`);
  }
});

test("errors: bad row length names the length, type and block size; unsupported types", () => {
  const x = new Float32Array(1024);
  assert.throws(() => quantize(GgmlType.Q4_0, x, 100), /row length 100 is not a multiple of the Q4_0 block size \(32\)/);
  assert.throws(() => quantize(GgmlType.Q6_K, x, 512 + 32), /row length 544 is not a multiple of the Q6_K block size \(256\)/);
  assert.throws(() => quantizeRows(GgmlType.Q4_K, x, 2, 300), /row length 300 is not a multiple of the Q4_K block size \(256\)/);
  assert.throws(() => quantizeRows(GgmlType.Q8_0, x, 3, 512), RangeError); // 1536 > 1024 values
  assert.throws(() => quantize(GgmlType.Q8_0, x, 2048), RangeError);
  for (const t of [GgmlType.Q8_1, GgmlType.Q8_K, GgmlType.IQ2_XXS, GgmlType.IQ4_NL, GgmlType.I32]) {
    assert.throws(() => quantize(t, x, 256), new RegExp(`cannot quantize to ${name(t)}`));
  }
  assert.throws(() => quantize(12345 as GgmlTypeT, x, 256), /cannot quantize to unknown type 12345/);
});

test("real weights (stories260K, F32): dequantizeRow reads rows; every type round-trips within bounds", { skip: !existsSync(STORIES) && "model file missing" }, () => {
  const file = readGguf(STORIES);
  const tensors = readTensors(file, file.tensors.filter((t) => t.name === "token_embd.weight" || t.name === "blk.0.ffn_up.weight"));
  const embd = tensors.get("token_embd.weight")!;
  assert.deepEqual(embd.dims, [64, 512]);
  const all = new Float32Array(64 * 512);
  dequantize(GgmlType.F32, embd.data, all.length, all);
  const row = new Float32Array(64);
  dequantizeRow(embd, 77, row);
  assert.deepEqual(row, all.subarray(77 * 64, 78 * 64));

  // Real weights have heavier tails than N(0, 1); bounds measured on token_embd (worst of the two), +10%.
  const bounds = new Map<GgmlTypeT, number>([
    [GgmlType.F16, 3e-4], [GgmlType.BF16, 2.2e-3], [GgmlType.Q8_0, 0.0062],
    [GgmlType.Q4_0, 0.096], [GgmlType.Q4_1, 0.097], [GgmlType.Q5_0, 0.049], [GgmlType.Q5_1, 0.044],
    [GgmlType.Q2_K, 0.375], [GgmlType.Q3_K, 0.17], [GgmlType.Q4_K, 0.086], [GgmlType.Q5_K, 0.042], [GgmlType.Q6_K, 0.0195],
  ]);
  for (const w of tensors.values()) {
    const n = Math.floor(w.data.byteLength / 4 / 256) * 256;
    const x = new Float32Array(n);
    dequantize(GgmlType.F32, w.data, n, x);
    for (const [type, bound] of bounds) {
      const err = relRmse(x, roundTrip(type, x));
      assert.ok(err < bound, `${w.name} ${name(type)}: ${err.toFixed(5)} >= ${bound}`);
    }
    // Rows of 64 fit the 32-weight formats: quantize per row, decode one row through dequantizeRow.
    if (w.name === "token_embd.weight") {
      const q = quantizeRows(GgmlType.Q4_0, x, 512, 64);
      const qw = { name: "q", type: GgmlType.Q4_0, dims: [64, 512], data: q } as const;
      dequantizeRow(qw, 77, row);
      assert.ok(relRmse(x.subarray(77 * 64, 78 * 64), row) < 0.15);
    }
  }
});
