/**
 * Native backend vs the reference backend (the oracle), for every op, every weight type and every
 * kernel set (ISA) this CPU runs, on seeded random data over awkward shapes.
 *
 * Tolerances (per output element y = sum_i w_i x_i, with S = sum_i |w_i x_i|):
 *  - fp32 paths (F32/F16/BF16 weights; every type on the scalar kernels, which dequantize then dot): |native - ref| <= 1e-5 * S. Float32 accumulation of <= 2304 products has a
 *    typical relative error sqrt(n) * 2^-24 ~ 3e-6 of S; the reference sums in float64. Plus
 *    NMSE < 1e-9 over the whole output.
 *  - int8-dot paths (x86 legacy quants: activations quantized per 32 like Q8_0; x86 K-quants:
 *    per 256 like Q8_K, for Q2_K..Q6_K): the kernel must equal the reference run on the *same* 8-bit activations
 *    (emulated here bit-exactly: d = amax/127, q = round-half-even(x/d)) to 1e-5 * S, so the integer
 *    math is exact; and versus the true fp32 result the error is the activation rounding only:
 *    |native - ref| <= 1/2 * sum_i |w_i| * d_i + 1e-5 * S (d_i: step of x_i's block; a hard bound),
 *    and NMSE <= 4 * sum(w_i^2 d_i^2 / 12) / sum(y^2) (uniform rounding noise; checked with >= 32 outputs).
 *  - elementwise ops, norms, rope, attention: NMSE < 1e-10 (fp32 rounding, 2-ulp exp).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createReferenceBackend } from "../../src/backend/js/reference.js";
import { createNativeBackend, loadNativeAddon, type NativeIsa } from "../../src/backend/native/index.js";
import type { AttentionSeq, Backend, KvLayer } from "../../src/backend/backend.js";
import type { WeightTensor } from "../../src/weights/tensor.js";
import { FORMATS, GgmlType } from "../../src/quant/formats.js";
import { quantize, quantizeRows } from "../../src/quant/quantize.js";
import { dequantize } from "../../src/quant/dequant.js";
import { allocKvLayer, kvRowBytes, type KvDtype } from "../../src/backend/kv-dtype.js";

const load = loadNativeAddon();
const required = process.env.FENNEC_REQUIRE_NATIVE === "1";
const skip: string | false = load.ok ? false : `native addon not built (${load.reason})`;

test("native addon loads (required when FENNEC_REQUIRE_NATIVE=1)", { skip: !required && skip }, () => {
  assert.ok(load.ok, load.ok ? "" : load.reason);
});

const ISAS: readonly NativeIsa[] = load.ok ? load.info.isas : [];
const ref = createReferenceBackend();

// ---- seeded data

function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
}
function randn(r: () => number, n: number, scale = 1): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const u = Math.max(r(), 1e-12);
    out[i] = scale * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * r());
  }
  return out;
}

function nmse(got: Float32Array, want: Float32Array): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < want.length; i++) {
    num += ((got[i] as number) - (want[i] as number)) ** 2;
    den += (want[i] as number) ** 2;
  }
  return den === 0 ? num : num / den;
}

// ---- matmul

const TYPES = ["F32", "F16", "BF16", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K"] as const;
type TypeName = (typeof TYPES)[number];

/** Activation block size of the int8-dot path (x86 kernels), or 0 for fp32 paths. */
function actBlock(isa: NativeIsa, type: TypeName): number {
  if (isa === "scalar") return 0;
  if (["Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0"].includes(type)) return 32;
  if (["Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K"].includes(type)) return 256;
  return 0;
}

/** Emulates the kernels' activation quantization: per block d = amax/127 (fp32), q = rne(x * (1/d)). Returns q*d and d per element. */
function quantizeActs(x: Float32Array, block: number): { xq: Float32Array; step: Float32Array } {
  const xq = new Float32Array(x.length);
  const step = new Float32Array(x.length);
  for (let b = 0; b < x.length; b += block) {
    let amax = 0;
    for (let i = b; i < b + block; i++) amax = Math.max(amax, Math.abs(x[i] as number));
    const d = Math.fround(amax / 127);
    const id = d !== 0 ? Math.fround(1 / d) : 0;
    for (let i = b; i < b + block; i++) {
      const v = Math.fround((x[i] as number) * id);
      let q = Math.round(v);
      if (q - v === 0.5 && q % 2 !== 0) q -= 1; // round half to even, as the kernels
      xq[i] = q * d;
      step[i] = d;
    }
  }
  return { xq, step };
}

const weightCache = new Map<string, WeightTensor>();
function weight(type: TypeName, cols: number, rows: number): WeightTensor {
  const key = `${type}:${cols}:${rows}`;
  let w = weightCache.get(key);
  if (!w) {
    const t = GgmlType[type];
    const src = randn(rng(cols * 7919 + rows * 31 + t), cols * rows, 0.05);
    w = { name: `w_${key}`, type: t, dims: [cols, rows], data: quantizeRows(t, src, rows, cols) };
    weightCache.set(key, w);
  }
  return w;
}

/** `native`: the weight as the native backend reads it (a packed copy of w), w itself by default. */
function checkMatmul(be: Backend, isa: NativeIsa, type: TypeName, cols: number, rows: number, n: number,
                     native?: WeightTensor): void {
  const w = weight(type, cols, rows);
  const x = randn(rng(cols + 1000 * n + rows), n * cols);
  const got = new Float32Array(n * rows).fill(NaN);
  be.matmul(native ?? w, x, n, got);
  const exact = new Float32Array(n * rows);
  ref.matmul(w, x, n, exact);
  // |w| per element, to bound each output.
  const wf = new Float32Array(cols * rows);
  ref.getRows(w, Array.from({ length: rows }, (_, i) => i), wf);
  const block = actBlock(isa, type);
  const { xq, step } = block ? quantizeActs(x, block) : { xq: x, step: new Float32Array(x.length) };
  const onXq = new Float32Array(n * rows);
  if (block) ref.matmul(w, xq, n, onXq);
  const what = `${isa} ${type}${native?.packing ? ` (${native.packing})` : ""} cols=${cols} rows=${rows} n=${n}`;
  let predicted = 0;
  let energy = 0;
  for (let t = 0; t < n; t++) {
    for (let r = 0; r < rows; r++) {
      let s = 0;
      let sq = 0;
      let roundBound = 0;
      let noise = 0;
      for (let i = 0; i < cols; i++) {
        const wi = wf[r * cols + i] as number;
        const xi = x[t * cols + i] as number;
        const di = step[t * cols + i] as number;
        s += Math.abs(wi * xi);
        sq += Math.abs(wi * (xq[t * cols + i] as number));
        roundBound += 0.5 * Math.abs(wi) * di;
        noise += (wi * di) ** 2 / 12;
      }
      const o = t * rows + r;
      const g = got[o] as number;
      const e = exact[o] as number;
      if (block) {
        const q = onXq[o] as number;
        assert.ok(Math.abs(g - q) <= 1e-5 * sq + 1e-30, `${what}: out[${t},${r}] = ${g}, reference on the same int8 activations ${q}`);
        assert.ok(Math.abs(g - e) <= roundBound + 1e-5 * s, `${what}: out[${t},${r}] = ${g}, exact ${e}, bound ${roundBound}`);
      } else {
        assert.ok(Math.abs(g - e) <= 1e-5 * s + 1e-30, `${what}: out[${t},${r}] = ${g}, reference ${e}`);
      }
      predicted += noise;
      energy += e * e;
    }
  }
  const err = nmse(got, exact);
  if (!block) assert.ok(err < 1e-9, `${what}: NMSE ${err}`);
  else if (n * rows >= 32) assert.ok(err <= 1e-9 + (4 * predicted) / energy, `${what}: NMSE ${err}, predicted ${predicted / energy}`);
}

for (const isa of ISAS) {
  for (const type of TYPES) {
    test(`matmul ${type} (${isa}) matches the reference`, { skip }, () => {
      const bs = FORMATS.get(GgmlType[type])?.blockSize ?? 1;
      const colsList = bs === 1 ? [1, 7, 40, 263] : bs === 32 ? [32, 96, 1056] : [256, 768, 2304];
      // 3 threads on any machine: more threads than rows in some cases, odd splits everywhere.
      const be = createNativeBackend({ isa, threads: 3 }) as Backend;
      for (const cols of colsList) {
        for (const rows of [1, 7, 37, 130]) {
          // 8, 17, 33: the GEMM path (from 5 tokens): 8 lanes (8), 16 + a padded 8-lane group (17, 33).
          for (const n of [1, 3, 8, 17, 33]) {
            if (cols * rows * n > 2_000_000) continue;
            checkMatmul(be, isa, type, cols, rows, n);
          }
        }
      }
    });
  }
}

test("matmul: single-threaded, and large enough to split tokens and rows across threads", { skip }, () => {
  for (const isa of ISAS) {
    for (const [type, threads] of [["Q4_0", 1], ["Q4_K", 1], ["F16", 2], ["Q8_0", 2], ["Q6_K", 2]] as const) {
      const be = createNativeBackend({ isa, threads }) as Backend;
      checkMatmul(be, isa, type, 512, 300, 70); // 70 tokens: more than one 64-token chunk
    }
    // One GEMM call over 300 tokens (token chunks of 256: 16 groups per tile pack). A 512-token
    // prompt once crashed on a group storing past its 16 lanes; later groups overwrote the rows, so
    // only the out-of-bounds read was wrong and this parity check alone did not see it.
    checkMatmul(createNativeBackend({ isa, threads: 2 }) as Backend, isa, "Q8_0", 256, 64, 300);
  }
});

// ---- packed weights (Backend.packWeight: Q8_0, Q4_K, Q6_K, Q5_0 rows interleaved by 16, AVX-512 VNNI)

/** be's packing of a copy of w (packWeight rewrites its input in place); undefined when be keeps the layout. */
function packedCopy(be: Backend, w: WeightTensor): WeightTensor | undefined {
  const p = be.packWeight?.({ ...w, data: w.data.slice() });
  return p?.packing ? p : undefined;
}

for (const type of ["Q8_0", "Q5_0", "Q4_K", "Q6_K"] as const) {
  test(`packed ${type} matches the reference: matmul at every batch size (decode, tiles, chunks), getRows`, { skip }, () => {
    const bs = FORMATS.get(GgmlType[type])?.blockSize ?? 1;
    for (const isa of ISAS) {
      for (const threads of [1, 3]) {
        const be = createNativeBackend({ isa, threads }) as Backend;
        for (const cols of bs === 32 ? [32, 96, 1056] : [256, 768, 2304]) {
          for (const rows of [16, 48, 144]) {
            const w = weight(type, cols, rows);
            const p = packedCopy(be, w);
            if (isa !== "avx512vnni") {
              assert.equal(p, undefined, `${isa}: no packed layout, the weight stays as read`);
              continue;
            }
            assert.ok(p, `${isa}: ${type} [${cols}, ${rows}] is packed`);
            assert.notDeepEqual(p.data, w.data, "the bytes are rewritten");
            // 1: decode; 2..16: one tile call; 17, 33: a padded last group; 70: two 64-token chunks.
            for (const n of [1, 2, 3, 5, 16, 17, 33, 70]) {
              if (cols * rows * n > 2_000_000) continue;
              checkMatmul(be, isa, type, cols, rows, n, p);
            }
            // getRows unpacks a row back into the file's layout: every value equal.
            const ids = [0, rows - 1, 5, 15, Math.min(16, rows - 1), rows >> 1];
            const got = new Float32Array(ids.length * cols);
            const want = new Float32Array(ids.length * cols);
            be.getRows(p, Int32Array.from(ids), got);
            ref.getRows(w, ids, want);
            assert.deepEqual(got, want, `${isa} getRows of packed ${type} [${cols}, ${rows}]`);
          }
        }
      }
    }
  });
}

const skipPacked = skip || (!ISAS.includes("avx512vnni") && "no AVX-512 VNNI: nothing is packed");
test("packed matmul is batch-invariant: each token of a batch equals that token alone, bit for bit", { skip: skipPacked }, () => {
  // A batch runs the two-tile kernels (32 rows, tokens in passes of 8) and, for a matrix of 16 * odd
  // rows, the one-tile kernel on its last 16; one token runs the one-tile kernel on every tile. They
  // do the same integer dots and float operations in the same order, so a sequence's logits do not
  // depend on what else is in its batch.
  for (const threads of [1, 3]) {
    const be = createNativeBackend({ isa: "avx512vnni", threads }) as Backend;
    for (const type of ["Q8_0", "Q5_0", "Q4_K", "Q6_K"] as const) {
      const cols = (FORMATS.get(GgmlType[type])?.blockSize ?? 32) === 32 ? 288 : 512;
      const rows = 80;
      const p = packedCopy(be, weight(type, cols, rows)) as WeightTensor;
      assert.ok(p, `${type} is packed`);
      for (const n of [2, 9, 16, 21]) {
        const x = randn(rng(n * 13 + cols), n * cols);
        const batch = new Float32Array(n * rows);
        be.matmul(p, x, n, batch);
        for (let t = 0; t < n; t++) {
          const alone = new Float32Array(rows);
          be.matmul(p, x.subarray(t * cols, (t + 1) * cols), 1, alone);
          assert.deepEqual(batch.subarray(t * rows, (t + 1) * rows), alone, `${type} threads=${threads} n=${n} token ${t}`);
        }
      }
    }
  }
});

test("packWeight leaves what it cannot pack, and a packed weight is refused where it cannot be read", { skip }, () => {
  const vnni = ISAS.includes("avx512vnni") ? createNativeBackend({ isa: "avx512vnni", threads: 2 }) as Backend : undefined;
  if (vnni) {
    // Rows not a multiple of 16 (each packable type), a type without a packed layout, a float type.
    for (const w of [weight("Q8_0", 96, 37), weight("Q4_K", 256, 37), weight("Q6_K", 256, 7), weight("Q5_0", 96, 20),
      weight("Q4_0", 96, 48), weight("F16", 40, 16)]) {
      const copy = { ...w, data: w.data.slice() };
      assert.equal(vnni.packWeight?.(copy), copy, `${w.name} is not packable: the same tensor back`);
      assert.deepEqual(copy.data, w.data, `${w.name}: bytes untouched`);
    }
    const prev = process.env.FENNEC_PACK;
    process.env.FENNEC_PACK = "0";
    try {
      const w = weight("Q8_0", 96, 48);
      const copy = { ...w, data: w.data.slice() };
      assert.equal(vnni.packWeight?.(copy), copy, "FENNEC_PACK=0 keeps the file's layout");
    } finally {
      if (prev === undefined) delete process.env.FENNEC_PACK;
      else process.env.FENNEC_PACK = prev;
    }
    const p = packedCopy(vnni, weight("Q8_0", 96, 48)) as WeightTensor;
    assert.equal(vnni.packWeight?.(p), p, "packing twice is a no-op");
    assert.throws(() => ref.matmul(p, new Float32Array(96), 1, new Float32Array(48)), /is packed \(x16\)/);
    if (ISAS.includes("avx2")) {
      const avx2 = createNativeBackend({ isa: "avx2", threads: 1 }) as Backend;
      assert.throws(() => avx2.matmul(p, new Float32Array(96), 1, new Float32Array(48)), /no avx2 matmul kernel/);
    }
  }
});

test("matmulMany equals one matmul per weight (fused q/k/v, gate/up; mixed types and paths)", { skip }, () => {
  const sets: readonly (readonly [cols: number, ws: readonly (readonly [TypeName, number])[]])[] = [
    [96, [["Q8_0", 37], ["Q5_0", 7], ["Q8_0", 7]]], // qwen-like q/k/v: legacy tiles / GEMM
    [96, [["Q4_1", 130], ["Q5_1", 1]]],
    [256, [["Q4_K", 37], ["Q4_K", 7], ["Q6_K", 7]]], // llama-like q/k/v
    [256, [["Q8_0", 9], ["F16", 7], ["Q4_K", 130], ["Q4_0", 16]]], // every activation format at once
  ];
  for (const isa of ISAS) {
    for (const threads of [1, 3]) {
      const be = createNativeBackend({ isa, threads }) as Backend;
      assert.ok(be.matmulMany, "the native backend has matmulMany");
      for (const [cols, specs] of sets) {
        for (const n of [1, 3, 4, 17, 33]) {
          const ws = specs.map(([t, rows]) => weight(t, cols, rows));
          const x = randn(rng(cols * 13 + n), n * cols);
          const outs = specs.map(([, rows]) => new Float32Array(n * rows).fill(NaN));
          be.matmulMany(ws, x, n, outs);
          specs.forEach(([t, rows], i) => {
            const want = new Float32Array(n * rows);
            be.matmul(ws[i] as WeightTensor, x, n, want);
            assert.deepEqual(outs[i], want, `${isa} threads=${threads} ${t} cols=${cols} rows=${rows} n=${n}`);
          });
        }
      }
      // More weights than one addon call takes (8), and rows of different lengths rejected.
      const many = Array.from({ length: 10 }, (_, i) => weight("Q8_0", 96, 3 + i));
      const x = randn(rng(5), 2 * 96);
      const outs = many.map((w) => new Float32Array(2 * (w.dims[1] as number)));
      be.matmulMany(many, x, 2, outs);
      many.forEach((w, i) => {
        const want = new Float32Array(2 * (w.dims[1] as number));
        be.matmul(w, x, 2, want);
        assert.deepEqual(outs[i], want);
      });
      assert.throws(() => be.matmulMany?.([weight("Q8_0", 96, 3), weight("Q8_0", 32, 3)], x, 1, [new Float32Array(3), new Float32Array(3)]),
        /rows of 32 elements/);
    }
  }
});

test("matmul / getRows: clear errors for bad weights", { skip }, () => {
  const be = createNativeBackend() as Backend;
  const bad: WeightTensor = { name: "blk.0.ffn_down.weight", type: GgmlType.Q4_0, dims: [48, 2], data: new Uint8Array(64) };
  assert.throws(() => be.matmul(bad, new Float32Array(48), 1, new Float32Array(2)), /ffn_down.*48 elements.*multiple of the Q4_0 block size \(32\)/);
  assert.throws(() => be.getRows(bad, [0], new Float32Array(48)), /multiple of the Q4_0 block size/);
  const iq: WeightTensor = { name: "w", type: GgmlType.IQ2_XXS, dims: [256, 1], data: new Uint8Array(66) };
  assert.throws(() => be.matmul(iq, new Float32Array(256), 1, new Float32Array(1)), /IQ2_XXS is not supported/);
  const short: WeightTensor = { name: "w", type: GgmlType.Q8_0, dims: [64, 4], data: new Uint8Array(100) };
  assert.throws(() => be.matmul(short, new Float32Array(64), 1, new Float32Array(4)), /weight data has 100 bytes/);
  const w = weight("Q8_0", 64, 4);
  assert.throws(() => be.matmul(w, new Float32Array(63), 1, new Float32Array(4)), /x has 63 elements/);
  assert.throws(() => be.getRows(w, [4], new Float32Array(64)), /id 4 out of range/);
});

// ---- getRows

test("getRows matches the reference for every type", { skip }, () => {
  for (const isa of ISAS) {
    const be = createNativeBackend({ isa, threads: 2 }) as Backend;
    for (const type of TYPES) {
      const bs = FORMATS.get(GgmlType[type])?.blockSize ?? 1;
      for (const [cols, ids] of [[bs === 1 ? 33 : bs, [0]], [bs === 256 ? 512 : 96, [5, 0, 36, 5]], [bs === 256 ? 2048 : 2080, Array.from({ length: 37 }, (_, i) => (i * 7) % 37)]] as const) {
        const w = weight(type, cols, 37);
        const got = new Float32Array(ids.length * cols).fill(NaN);
        const want = new Float32Array(ids.length * cols);
        be.getRows(w, Int32Array.from(ids), got);
        ref.getRows(w, ids, want);
        const err = nmse(got, want);
        assert.ok(err < 1e-12, `${isa} ${type} cols=${cols}: NMSE ${err}`);
      }
    }
  }
});

// ---- elementwise ops, norm, rope, kv store, attention

function eachBackend(fn: (be: Backend, isa: NativeIsa) => void): void {
  for (const isa of ISAS) for (const threads of [1, 3]) fn(createNativeBackend({ isa, threads }) as Backend, isa);
}

test("rmsNorm matches the reference (including out aliasing x)", { skip }, () => {
  eachBackend((be, isa) => {
    for (const [n, dim] of [[1, 7], [3, 64], [17, 1000], [40, 4096]] as const) {
      const x = randn(rng(n * dim), n * dim, 3);
      const wt = randn(rng(dim), dim);
      const want = new Float32Array(n * dim);
      ref.rmsNorm(x, wt, n, dim, 1e-5, want);
      const got = new Float32Array(n * dim);
      be.rmsNorm(x, wt, n, dim, 1e-5, got);
      assert.ok(nmse(got, want) < 1e-10, `${isa} n=${n} dim=${dim}: NMSE ${nmse(got, want)}`);
      const inPlace = x.slice();
      be.rmsNorm(inPlace, wt, n, dim, 1e-5, inPlace);
      assert.ok(nmse(inPlace, want) < 1e-10, `${isa} in place`);
    }
  });
});

test("rope matches the reference for both styles, partial rotary dims and large positions", { skip }, () => {
  eachBackend((be, isa) => {
    for (const style of ["norm", "neox"] as const) {
      for (const [n, heads, headDim, ropeDim] of [[1, 1, 8, 8], [3, 4, 64, 64], [17, 2, 128, 64], [9, 3, 80, 80]] as const) {
        const x = randn(rng(n * heads * headDim), n * heads * headDim);
        const positions = Int32Array.from({ length: n }, (_, i) => (i * 7919) % 131072);
        const invFreq = Float32Array.from({ length: ropeDim / 2 }, (_, j) => Math.pow(500000, (-2 * j) / ropeDim));
        const want = x.slice();
        const got = x.slice();
        ref.rope(want, n, heads, headDim, ropeDim, positions, invFreq, style);
        be.rope(got, n, heads, headDim, ropeDim, positions, invFreq, style);
        assert.ok(nmse(got, want) < 1e-10, `${isa} ${style} ${n}x${heads}x${headDim}/${ropeDim}: NMSE ${nmse(got, want)}`);
      }
    }
  });
});

// The native backend keeps the last call's cos / sin table (a forward pass rotates q and k of every
// layer at the same positions): a call with the same positions reuses it, and one whose positions
// or frequencies changed in place (same buffers, same lengths) must not.
test("rope's cached angle table is reused only for the same positions and frequencies", { skip }, () => {
  eachBackend((be, isa) => {
    const n = 16, heads = 2, headDim = 64, ropeDim = 64;
    const positions = Int32Array.from({ length: n }, (_, i) => 40 + i);
    const invFreq = Float32Array.from({ length: ropeDim / 2 }, (_, j) => Math.pow(10000, (-2 * j) / ropeDim));
    const steps: Array<[string, () => void]> = [
      ["first call", () => {}],
      ["same positions (table reused)", () => {}],
      ["one position changed in place", () => { positions[n - 1] = 9000; }],
      ["frequencies changed in place", () => { invFreq[3] = (invFreq[3] as number) * 1.5; }],
    ];
    for (const [what, change] of steps) {
      change();
      const x = randn(rng(what.length), n * heads * headDim);
      const want = x.slice();
      const got = x.slice();
      ref.rope(want, n, heads, headDim, ropeDim, positions, invFreq, "neox");
      be.rope(got, n, heads, headDim, ropeDim, positions, invFreq, "neox");
      assert.ok(nmse(got, want) < 1e-10, `${isa} ${what}: NMSE ${nmse(got, want)}`);
    }
  });
});

test("siluMul, add, addBias match the reference (small, odd and parallel-sized lengths, aliasing)", { skip }, () => {
  eachBackend((be, isa) => {
    for (const len of [1, 13, 4096, 200_003]) {
      const g = randn(rng(len), len, 4);
      const u = randn(rng(len + 1), len);
      const want = new Float32Array(len);
      ref.siluMul(g, u, len, want);
      const got = g.slice();
      be.siluMul(got, u, len, got); // out aliases gate
      assert.ok(nmse(got, want) < 1e-10, `${isa} siluMul len=${len}: NMSE ${nmse(got, want)}`);
      ref.add(g, u, len, want);
      const sum = g.slice();
      be.add(sum, u, len, sum);
      assert.deepEqual(sum, want, `${isa} add len=${len}`);
    }
    for (const [n, d] of [[1, 5], [7, 96], [33, 4096]] as const) {
      const bias = randn(rng(d), d);
      const want = randn(rng(n * d), n * d);
      const got = want.slice();
      ref.addBias(want, bias, n);
      be.addBias(got, bias, n);
      assert.deepEqual(got, want, `${isa} addBias ${n}x${d}`);
    }
  });
});

test("scanRows equals the reference: max, first argmax, and -1 for rows the sampler refuses", { skip }, () => {
  eachBackend((be, isa) => {
    for (const dim of [1, 7, 16, 37, 151_936]) {
      // Row kinds: random; a tie for the max (first index wins); -Infinity entries with one finite
      // value near the end (the SIMD tail); all -Infinity; a NaN; a +Infinity; a -0 / +0 max tie.
      const kinds = 8;
      const x = randn(rng(dim), kinds * dim, 3);
      const row = (r: number): Float32Array => x.subarray(r * dim, (r + 1) * dim);
      if (dim > 1) row(1)[dim - 1] = row(1)[Math.floor(dim / 2)] = 100;
      row(2).fill(-Infinity)[dim - 1] = -5;
      row(3).fill(-Infinity);
      row(4)[Math.floor(dim / 3)] = NaN;
      row(5)[dim - 1] = Infinity;
      row(6).fill(-1)[dim - 1] = 0;
      row(6)[0] = -0;
      for (const n of [1, kinds]) {
        const want = { max: new Float32Array(n), argmax: new Int32Array(n) };
        const got = { max: new Float32Array(n), argmax: new Int32Array(n) };
        ref.scanRows(x, n, dim, want.max, want.argmax);
        be.scanRows(x, n, dim, got.max, got.argmax);
        assert.deepEqual(got.argmax, want.argmax, `${isa} dim=${dim} n=${n}: argmax`);
        for (let r = 0; r < n; r++) {
          if ((want.argmax[r] as number) < 0) continue; // max is unspecified for a refused row
          assert.ok(got.max[r] === want.max[r], `${isa} dim=${dim} row ${r}: max ${got.max[r]} vs ${want.max[r]}`); // -0 === +0
          assert.equal(x[r * dim + (want.argmax[r] as number)], want.max[r], `row ${r}: max sits at argmax`);
        }
      }
      // The reference is the sampler's own check: refused rows are exactly those with argmax -1.
      const want = new Int32Array(kinds);
      ref.scanRows(x, kinds, dim, new Float32Array(kinds), want);
      assert.deepEqual([...want].map((a) => a < 0), [false, false, false, true, true, true, false, false]);
      if (dim > 1) assert.equal(want[1], Math.floor(dim / 2), "tie: the lower index");
      assert.equal(want[6], 0, "-0 and +0 tie: the lower index");
    }
  });
});

test("storeKv writes the mapped slots and rejects slots outside the cache", { skip }, () => {
  const be = createNativeBackend() as Backend;
  const kvDim = 12;
  const kv = { dtype: "f32" as const, k: new Float32Array(10 * kvDim), v: new Float32Array(10 * kvDim) };
  const kvRef = { dtype: "f32" as const, k: new Float32Array(10 * kvDim), v: new Float32Array(10 * kvDim) };
  const k = randn(rng(1), 3 * kvDim);
  const v = randn(rng(2), 3 * kvDim);
  const slots = Int32Array.from([9, 0, 4]);
  be.storeKv(kv, k, v, 3, kvDim, slots);
  ref.storeKv(kvRef, k, v, 3, kvDim, slots);
  assert.deepEqual(kv, kvRef);
  assert.throws(() => be.storeKv(kv, k, v, 1, kvDim, Int32Array.from([10])), /slot 10 out of range/);
});

/** A batch of sequences over a paged cache with shuffled block ids. */
function attentionCase(seed: number, numHeads: number, numKvHeads: number, headDim: number, blockSize: number,
  shapes: readonly (readonly [queryLen: number, contextLen: number])[], qScale: number) {
  const r = rng(seed);
  const kvDim = numKvHeads * headDim;
  const numBlocks = shapes.reduce((a, [, c]) => a + Math.ceil(c / blockSize), 0) + 3;
  const ids = Array.from({ length: numBlocks }, (_, i) => i).sort(() => r() - 0.5);
  const kv: KvLayer = { dtype: "f32", k: randn(r, numBlocks * blockSize * kvDim), v: randn(r, numBlocks * blockSize * kvDim) };
  const seqs: AttentionSeq[] = [];
  let queryStart = 0;
  for (const [queryLen, contextLen] of shapes) {
    const blockTable = Int32Array.from(ids.splice(0, Math.ceil(contextLen / blockSize) + 1)); // one spare entry
    seqs.push({ queryStart, queryLen, contextLen, blockTable });
    queryStart += queryLen;
  }
  const q = randn(r, queryStart * numHeads * headDim, qScale);
  return { q, kv, numHeads, numKvHeads, headDim, blockSize, scale: 1 / Math.sqrt(headDim), seqs, numTokens: queryStart };
}

test("attention matches the reference: GQA / MHA / MQA, prefill chunks, decode, long (split) contexts, odd block sizes", { skip }, () => {
  const cases = [
    attentionCase(1, 8, 2, 64, 16, [[1, 1], [5, 5], [1, 40], [7, 100]], 1), // GQA: fresh prompt, decode, chunk after context
    attentionCase(2, 4, 4, 32, 5, [[3, 70], [1, 1]], 1), // MHA, block size 5
    attentionCase(3, 6, 1, 16, 7, [[1, 333]], 1), // MQA decode, many key chunks
    attentionCase(4, 2, 1, 128, 32, [[40, 300]], 8), // sharp softmax (large scores): online max rescaling
    attentionCase(6, 8, 2, 64, 16, [[1, 1500], [2, 700]], 4), // long decode contexts: split across threads, merged
    // Fewer tokens than threads (3), short contexts: split by kv head (2 groups of 1, 3 of 2, 2 of 2).
    attentionCase(8, 8, 2, 64, 16, [[1, 100]], 1),
    attentionCase(9, 6, 6, 32, 5, [[1, 77]], 1),
    attentionCase(10, 8, 4, 64, 16, [[1, 50], [1, 9]], 1),
    // Odd groups (the SIMD kernels pair a group's query heads, the odd one out runs alone): qwen's 7
    // per kv head, 3 with headDim 80 (a 16-wide tail after the 32-wide value passes), 5 keys a chunk.
    attentionCase(11, 14, 2, 64, 16, [[1, 100], [3, 37], [1, 5]], 1),
    attentionCase(12, 9, 3, 80, 16, [[1, 70], [2, 2]], 1),
  ];
  eachBackend((be, isa) => {
    cases.forEach((c, i) => {
      const want = new Float32Array(c.numTokens * c.numHeads * c.headDim);
      const got = new Float32Array(want.length).fill(NaN);
      ref.attention({ ...c, out: want });
      be.attention({ ...c, out: got });
      assert.ok(nmse(got, want) < 1e-10, `${isa} case ${i}: NMSE ${nmse(got, want)}`);
    });
  });
  const be = createNativeBackend() as Backend;
  const c = attentionCase(5, 2, 1, 8, 4, [[2, 9]], 1);
  const bad = { ...c, seqs: [{ ...(c.seqs[0] as AttentionSeq), blockTable: Int32Array.from([0, 1]) }], out: new Float32Array(32) };
  assert.throws(() => be.attention(bad), /block table too short/);
});

test("attention: a NaN in a query head's row stays NaN in that head's output, as in the reference", { skip }, () => {
  // The softmax's exp clamps its input to [-87, 88]; a clamp that turned NaN into -87 would hide a
  // broken activation as a plausible output (the engine reports NaN logits as an error).
  const c = attentionCase(16, 8, 2, 64, 16, [[1, 40], [2, 20]], 1);
  c.q[3] = NaN; // token 0, head 0
  c.q[c.numHeads * c.headDim + 5 * c.headDim] = NaN; // token 1, head 5
  eachBackend((be, isa) => {
    const want = new Float32Array(c.numTokens * c.numHeads * c.headDim);
    const got = new Float32Array(want.length);
    ref.attention({ ...c, out: want });
    be.attention({ ...c, out: got });
    let nans = 0;
    for (let i = 0; i < want.length; i++) {
      const w = want[i] as number;
      const g = got[i] as number;
      if (Number.isNaN(w)) nans++;
      assert.equal(Number.isNaN(g), Number.isNaN(w), `${isa}: element ${i}: got ${g}, reference ${w}`);
      if (!Number.isNaN(w)) assert.ok(Math.abs(g - w) <= 1e-5, `${isa}: element ${i}: got ${g}, reference ${w}`);
    }
    assert.equal(nans, 2 * c.headDim, "the two heads with a NaN query, all their dims");
  });
});

// ---- KV-cache dtypes (f16, q8_0)
//
// storeKv: the native cache bytes equal the reference's (src/quant's encoders: f16 round-to-nearest-
// even, ggml's reference Q8_0 with halves rounded away from zero), so the caches both attentions
// read are identical. attention over an f16 / q8_0 cache: native vs reference with the same dtype
// to NMSE < 1e-10 and max |diff| <= 1e-5 x the output's range (fp32 arithmetic only: both decode
// to the same fp32 values); and the dtype's own error, vs attention over the f32 cache the values
// came from, within 1e-3 (f16: K, V rounded to 2^-11 relative) / 2e-2 (q8_0: steps of amax/127
// per block of 32) of the output's range.

/** Max |got - want| / (max(want) - min(want)). */
function relRangeErr(got: Float32Array, want: Float32Array): number {
  let lo = Infinity;
  let hi = -Infinity;
  let worst = 0;
  for (let i = 0; i < want.length; i++) {
    const w = want[i] as number;
    lo = Math.min(lo, w);
    hi = Math.max(hi, w);
    worst = Math.max(worst, Math.abs((got[i] as number) - w));
  }
  return worst / (hi - lo);
}

/** The same cache contents in another dtype (converted by the reference storeKv). */
function convertKv(kv: KvLayer, dtype: KvDtype, kvDim: number): KvLayer {
  if (kv.dtype !== "f32") throw new Error("convertKv takes an f32 cache");
  const slots = kv.k.length / kvDim;
  const out = allocKvLayer(dtype, slots, kvDim);
  ref.storeKv(out, kv.k, kv.v, slots, kvDim, Int32Array.from({ length: slots }, (_, i) => i));
  return out;
}

test("storeKv: f16 and q8_0 caches hold the same bytes as the reference's (ties, overflow, tiny values, parallel rows)", { skip }, () => {
  const kvDim = 64;
  const n = 300; // n * kvDim >= 2^14: rows are converted in parallel
  const k = randn(rng(11), n * kvDim, 2);
  const v = randn(rng(12), n * kvDim, 1e-3);
  // Row 0: q8_0 ties (amax 127 -> d = 1: 2.5 must round to 3 as ggml's roundf, not to 2) and
  // f16 edge cases (halfway between two halves, overflow to inf, fp16 subnormals, fp32 subnormal).
  k.set([127, 2.5, -2.5, 0.5, -0.5, 1.5, 126.5, -126.5], 0);
  k.set([1 + 2 ** -11, 1 + 3 * 2 ** -11, 70000, -70000, 65519, 3e-6, -(2 ** -25), 1e-40], 32);
  v.fill(0, 0, 32); // an all-zero block: d = 0
  const slots = Int32Array.from({ length: n }, (_, i) => (i * 7) % (n + 5)); // distinct, scattered
  for (const dtype of ["f16", "q8_0"] as const) {
    const want = allocKvLayer(dtype, n + 5, kvDim);
    ref.storeKv(want, k, v, n, kvDim, slots);
    for (const isa of ISAS) {
      for (const threads of [1, 3]) {
        const be = createNativeBackend({ isa, threads }) as Backend;
        const got = allocKvLayer(dtype, n + 5, kvDim);
        be.storeKv(got, k, v, n, kvDim, slots);
        assert.ok(Buffer.from(got.k as Uint8Array).equals(Buffer.from(want.k as Uint8Array)), `${isa}/${threads} ${dtype} K bytes`);
        assert.ok(Buffer.from(got.v as Uint8Array).equals(Buffer.from(want.v as Uint8Array)), `${isa}/${threads} ${dtype} V bytes`);
      }
    }
  }
  // The tie really is rounded away from zero (2.5 / d = 2.5 -> 3), as src/quant's encoder does.
  const q = allocKvLayer("q8_0", 1, kvDim);
  (createNativeBackend() as Backend).storeKv(q, k, v, 1, kvDim, Int32Array.of(0));
  assert.deepEqual([...(q.k as Uint8Array).subarray(2, 10)].map((b) => (b << 24) >> 24), [127, 3, -3, 1, -1, 2, 127, -127]);
  const be = createNativeBackend() as Backend;
  assert.throws(() => be.storeKv(allocKvLayer("q8_0", 4, 32), k, v, 1, 40, Int32Array.of(0)), /kvDim a multiple of 32/);
  assert.throws(() => be.storeKv(allocKvLayer("f16", 4, kvDim), k, v, 1, kvDim, Int32Array.of(4)), /slot 4 out of range \[0, 4\)/);
});

test("storeKv round trip: what the native backend stores decodes (src/quant) to the f16 / q8_0 rounding of the input", { skip }, () => {
  const kvDim = 96;
  const n = 5;
  const k = randn(rng(21), n * kvDim, 3);
  const v = randn(rng(22), n * kvDim, 0.01);
  const slots = Int32Array.of(4, 0, 2, 1, 3);
  for (const isa of ISAS) {
    const be = createNativeBackend({ isa, threads: 1 }) as Backend;
    for (const dtype of ["f16", "q8_0"] as const) {
      const kv = allocKvLayer(dtype, n, kvDim);
      be.storeKv(kv, k, v, n, kvDim, slots);
      const type = dtype === "f16" ? GgmlType.F16 : GgmlType.Q8_0;
      const rb = kvRowBytes(dtype, kvDim);
      for (let t = 0; t < n; t++) {
        const slot = slots[t] as number;
        for (const [src, cache] of [[k, kv.k], [v, kv.v]] as const) {
          const row = src.subarray(t * kvDim, (t + 1) * kvDim);
          const back = new Float32Array(kvDim);
          dequantize(type, (cache as Uint8Array).subarray(slot * rb, (slot + 1) * rb), kvDim, back);
          const expected = new Float32Array(kvDim);
          dequantize(type, quantize(type, row, kvDim), kvDim, expected);
          assert.deepEqual(back, expected, `${isa} ${dtype} slot ${slot}`);
          // And the rounding is what the format promises: 2^-11 relative (f16), amax/254 (+ the scale's fp16 rounding) per block (q8_0).
          for (let i = 0; i < kvDim; i++) {
            const x = row[i] as number;
            let bound: number;
            if (dtype === "f16") bound = Math.abs(x) * 2 ** -11 + 2 ** -25;
            else {
              const b0 = i - (i % 32);
              const amax = Math.max(...row.subarray(b0, b0 + 32).map(Math.abs));
              bound = (amax / 254) * (1 + 2 ** -10) + amax * 2 ** -11;
            }
            assert.ok(Math.abs((back[i] as number) - x) <= bound, `${isa} ${dtype} [${i}]: ${x} -> ${back[i]} (bound ${bound})`);
          }
        }
      }
    }
  }
});

test("attention over f16 / q8_0 caches: native = reference with the same dtype; both near the f32 result", { skip }, (t) => {
  const cases = [
    { c: attentionCase(1, 8, 2, 64, 16, [[1, 1], [5, 5], [1, 40], [7, 100]], 1), what: "GQA: fresh prompt, decode, chunk after context" },
    { c: attentionCase(2, 4, 4, 32, 5, [[3, 70], [1, 1]], 1), what: "MHA, block size 5" },
    { c: attentionCase(3, 6, 1, 16, 7, [[1, 333]], 1), what: "MQA, headDim 16 (f16 only)" },
    { c: attentionCase(7, 4, 2, 12, 3, [[2, 50]], 1), what: "headDim 12: the scalar path inside the SIMD kernels (f16 only)" },
    { c: attentionCase(4, 2, 1, 128, 32, [[40, 300]], 2), what: "prefill chunk over a long context, sharper softmax" },
    { c: attentionCase(6, 8, 2, 64, 16, [[1, 1500], [2, 700], [16, 650]], 1), what: "long decode contexts (split-K) and a chunk" },
    { c: attentionCase(10, 8, 4, 64, 16, [[1, 50], [1, 9]], 1), what: "two decode tokens on 3 threads: split by kv head" },
    // The SIMD kernel reads f16 rows in place, a chunk of keys being at most one block (and at most
    // its 32-key score buffer), while it prefetches the next chunk's rows.
    { c: attentionCase(11, 14, 2, 64, 16, [[1, 100], [3, 37], [1, 5]], 1), what: "qwen2.5's 7 heads per kv head, 256-byte rows" },
    { c: attentionCase(13, 16, 8, 64, 16, [[1, 100], [2, 37]], 1), what: "1 KiB rows" },
    { c: attentionCase(14, 28, 4, 80, 16, [[1, 90], [4, 20]], 1), what: "7 heads per kv head, headDim 80, 640-byte rows" },
    { c: attentionCase(15, 8, 2, 64, 64, [[1, 200], [3, 90]], 1), what: "blocks of 64 keys: chunks of 32 within a block" },
    // AVX-512 values (headDim % 32 == 0) take a kv group's heads in sets of up to 8.
    { c: attentionCase(16, 10, 1, 64, 16, [[1, 90], [4, 20]], 1), what: "10 heads per kv head: value sets of 8 and 2" },
    { c: attentionCase(17, 32, 8, 128, 16, [[1, 70], [2, 33]], 1), what: "llama's 4 heads per kv head, headDim 128: two 64-dim value passes" },
    // AVX-512 scores take 16 / heads keys at a time (3 for 5 heads, 5 for 3), the rest one by one.
    { c: attentionCase(18, 15, 3, 64, 16, [[1, 45], [2, 19]], 1), what: "5 heads per kv head: 3 keys per score block" },
    { c: attentionCase(19, 9, 3, 32, 16, [[1, 40], [1, 3]], 1), what: "3 heads per kv head: 5 keys per score block" },
  ];
  const limits = { f16: 1e-3, q8_0: 2e-2 } as const;
  const worst = { f16: 0, q8_0: 0 };
  for (const dtype of ["f16", "q8_0"] as const) {
    for (const { c, what } of cases) {
      if (dtype === "q8_0" && c.headDim % 32 !== 0) continue;
      const kvDim = c.numKvHeads * c.headDim;
      const kv = convertKv(c.kv, dtype, kvDim);
      const exact = new Float32Array(c.numTokens * c.numHeads * c.headDim);
      ref.attention({ ...c, out: exact });
      const want = new Float32Array(exact.length);
      ref.attention({ ...c, kv, out: want });
      const err = relRangeErr(want, exact);
      worst[dtype] = Math.max(worst[dtype], err);
      assert.ok(err <= limits[dtype], `${dtype} ${what}: reference vs f32 cache: ${err} of the range > ${limits[dtype]}`);
      eachBackend((be, isa) => {
        const got = new Float32Array(want.length).fill(NaN);
        be.attention({ ...c, kv, out: got });
        assert.ok(nmse(got, want) < 1e-10, `${isa} ${dtype} ${what}: NMSE ${nmse(got, want)}`);
        assert.ok(relRangeErr(got, want) <= 1e-5, `${isa} ${dtype} ${what}: max diff ${relRangeErr(got, want)} of the range`);
      });
    }
  }
  // The bounds must not be vacuous: each dtype's rounding is visible, and q8_0's coarser than f16's.
  assert.ok(worst.f16 > 1e-6 && worst.q8_0 > 5 * worst.f16, `worst errors: f16 ${worst.f16}, q8_0 ${worst.q8_0}`);
  t.diagnostic(`vs the f32 cache, max error / output range: f16 ${worst.f16.toExponential(2)}, q8_0 ${worst.q8_0.toExponential(2)}`);
  const be = createNativeBackend() as Backend;
  const c = attentionCase(3, 6, 1, 16, 7, [[1, 33]], 1);
  const q8 = allocKvLayer("q8_0", c.kv.k.length / 16, 16 * 2); // headDim 16: rows of 32 would be 2 heads per block
  assert.throws(() => be.attention({ ...c, kv: q8, out: new Float32Array(6 * 16) }), /headDim a multiple of 32, got 16/);
  assert.throws(() => ref.attention({ ...c, kv: q8, out: new Float32Array(6 * 16) }), /headDim is 16/);
});
