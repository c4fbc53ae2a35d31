/**
 * Random tensors for synthetic models, generated directly in their stored format (no fp32 detour,
 * no quantizer search), so a 1B-parameter model takes seconds:
 *  - F32 / F16 / BF16: Gaussian N(0, std), drawn through a 65536-entry table of normal quantiles;
 *  - block types: random bytes for all quant bits (any bit pattern is a valid set of quants), then
 *    per block sane fp16 scales: d jittered +-25% around a base, random sign for the symmetric
 *    formats (so the mean is 0), sub-block scales in the upper half of their range, and for the
 *    affine formats (Q4_1, Q5_1, Q2_K, Q4_K, Q5_K) mins matched to the quants' mean. Q8_0 quants
 *    avoid -128 (as ggml's quantizer does). The base d is calibrated once per type by decoding
 *    sample blocks, so the decoded weights have standard deviation `std`.
 */
import { FORMATS, GgmlType } from "./formats.js";
import { dequantize } from "./dequant.js";
import { f32ToBf16, f32ToF16 } from "./half.js";

/** Marsaglia xorshift128: fast, seeded, good enough for weights. */
export class XorShift128 {
  private x: number;
  private y: number;
  private z: number;
  private w: number;
  constructor(seed: number) {
    // splitmix32 to spread the seed over the state (never all zero).
    let s = seed >>> 0;
    const next = (): number => {
      s = (s + 0x9e3779b9) >>> 0;
      let t = s ^ (s >>> 16);
      t = Math.imul(t, 0x21f0aaad);
      t ^= t >>> 15;
      t = Math.imul(t, 0x735a2d97);
      return (t ^ (t >>> 15)) >>> 0;
    };
    this.x = next();
    this.y = next();
    this.z = next();
    this.w = next() | 1;
  }
  u32(): number {
    const t = this.x ^ (this.x << 11);
    this.x = this.y;
    this.y = this.z;
    this.z = this.w;
    this.w = (this.w ^ (this.w >>> 19) ^ (t ^ (t >>> 8))) >>> 0;
    return this.w;
  }
  /** Uniform in [0, 1). */
  float(): number {
    return this.u32() / 4294967296;
  }
  /** Fill a Uint32Array with random words. */
  fill(out: Uint32Array): void {
    let { x, y, z, w } = this;
    for (let i = 0; i < out.length; i++) {
      const t = x ^ (x << 11);
      x = y;
      y = z;
      z = w;
      w = (w ^ (w >>> 19) ^ (t ^ (t >>> 8))) >>> 0;
      out[i] = w;
    }
    Object.assign(this, { x, y, z, w });
  }
}

/** FNV-1a of a string, mixed with a seed: a per-tensor seed that does not depend on tensor order. */
export function hashSeed(seed: number, name: string): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

// ---- float types: 65536 normal quantiles ----

/** Inverse standard normal CDF (Acklam's rational approximation, |error| < 1.2e-9). */
function normalQuantile(p: number): number {
  const a = [-3.969683028665376e1, 2.209460984245205e2, -2.759285104469687e2, 1.38357751867269e2, -3.066479806614716e1, 2.506628277459239];
  const b = [-5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1, -1.328068155288572e1];
  const c = [-7.784894002430293e-3, -3.223964580411365e-1, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416];
  const poly = (k: number[], x: number): number => k.reduce((acc, v) => acc * x + v, 0);
  if (p < 0.02425) {
    const q = Math.sqrt(-2 * Math.log(p));
    return poly(c, q) / (poly(d, q) * q + 1);
  }
  if (p > 1 - 0.02425) {
    const q = Math.sqrt(-2 * Math.log(1 - p));
    return -poly(c, q) / (poly(d, q) * q + 1);
  }
  const q = p - 0.5;
  const r = q * q;
  return (poly(a, r) * q) / (poly(b, r) * r + 1);
}

let quantiles: Float64Array | undefined;
function normalTable(): Float64Array {
  quantiles ??= Float64Array.from({ length: 65536 }, (_, i) => normalQuantile((i + 0.5) / 65536));
  return quantiles;
}

function fillFloat(type: GgmlType, buf: Uint8Array, n: number, std: number): void {
  const q = normalTable();
  if (type === GgmlType.F32) {
    const bits = new Uint32Array(buf.buffer, buf.byteOffset, n);
    const f = new Float32Array(buf.buffer, buf.byteOffset, n);
    const table = Float32Array.from(q, (v) => v * std);
    for (let i = 0; i < n; i++) f[i] = table[bits[i]! & 0xffff]!;
    return;
  }
  const table = Uint16Array.from(q, (v) => (type === GgmlType.F16 ? f32ToF16(v * std) : f32ToBf16(v * std)));
  const h = new Uint16Array(buf.buffer, buf.byteOffset, n);
  for (let i = 0; i < n; i++) h[i] = table[h[i]!]!;
}

// ---- block types ----

function putF16(b: Uint8Array, o: number, v: number): void {
  const h = f32ToF16(v);
  b[o] = h & 0xff;
  b[o + 1] = h >>> 8;
}

/** Overwrites the scale fields of the block at b[o] (its quant bytes are already random). */
type ScaleWriter = (b: Uint8Array, o: number, d: number, r: XorShift128) => void;

const sign = (r: XorShift128): number => (r.u32() & 1 ? -1 : 1);

/** Q4_K / Q5_K: eight 6-bit (scale, min) pairs packed as get_scale_min_k4 reads them. */
function packScaleMinK4(b: Uint8Array, s: number, ls: Uint8Array, lm: Uint8Array): void {
  for (let j = 0; j < 4; j++) {
    b[s + j] = ls[j]! | ((ls[j + 4]! >> 4) << 6);
    b[s + j + 4] = lm[j]! | ((lm[j + 4]! >> 4) << 6);
    b[s + j + 8] = (ls[j + 4]! & 0xf) | ((lm[j + 4]! & 0xf) << 4);
  }
}
const LS = new Uint8Array(8);
const LM = new Uint8Array(8);

/** Q4_K (meanQ 7.5) / Q5_K (meanQ 15.5): scales 32..63, dmin = k * d with mins ~ scale * meanQ / k. */
function kAffine(meanQ: number, k: number): ScaleWriter {
  return (b, o, d, r) => {
    putF16(b, o, d);
    putF16(b, o + 2, k * d);
    for (let j = 0; j < 8; j++) {
      LS[j] = 32 + (r.u32() & 31);
      LM[j] = Math.min(63, Math.round((LS[j]! * meanQ) / k));
    }
    packScaleMinK4(b, o + 4, LS, LM);
  };
}

const SCALE_WRITERS: ReadonlyMap<GgmlType, ScaleWriter> = new Map<GgmlType, ScaleWriter>([
  [GgmlType.Q4_0, (b, o, d, r) => putF16(b, o, sign(r) * d)],
  [GgmlType.Q5_0, (b, o, d, r) => putF16(b, o, sign(r) * d)],
  [GgmlType.Q4_1, (b, o, d) => { putF16(b, o, d); putF16(b, o + 2, -7.5 * d); }],
  [GgmlType.Q5_1, (b, o, d) => { putF16(b, o, d); putF16(b, o + 2, -15.5 * d); }],
  [GgmlType.Q8_0, (b, o, d, r) => {
    putF16(b, o, sign(r) * d);
    for (let j = 2; j < 34; j++) if (b[o + j] === 0x80) b[o + j] = 0x81;
  }],
  [GgmlType.Q2_K, (b, o, d, r) => {
    for (let j = 0; j < 16; j++) {
      const sc = 8 + (r.u32() & 7);
      b[o + j] = sc | (Math.round(0.75 * sc) << 4); // min ~ scale * 1.5 (mean of 0..3) / 2
    }
    putF16(b, o + 80, d);
    putF16(b, o + 82, 2 * d);
  }],
  [GgmlType.Q3_K, (b, o, d, r) => {
    const sc = o + 96;
    b.fill(0, sc, sc + 12);
    for (let j = 0; j < 16; j++) {
      const l = sign(r) * (16 + (r.u32() & 15)) + 32; // signed scale +-16..31, stored +32
      b[sc + (j & 7)]! |= (l & 0xf) << (j < 8 ? 0 : 4);
      b[sc + 8 + (j & 3)]! |= (l >> 4) << (2 * (j >> 2));
    }
    putF16(b, o + 108, d);
  }],
  [GgmlType.Q4_K, kAffine(7.5, 8)],
  [GgmlType.Q5_K, kAffine(15.5, 16)],
  [GgmlType.Q6_K, (b, o, d, r) => {
    for (let j = 0; j < 16; j++) b[o + 192 + j] = (sign(r) * (64 + (r.u32() & 63))) & 0xff;
    putF16(b, o + 208, d);
  }],
]);

function fillBlocks(type: GgmlType, buf: Uint8Array, numBlocks: number, baseD: number, r: XorShift128): void {
  const f = FORMATS.get(type);
  const write = SCALE_WRITERS.get(type);
  if (!f || !write) throw new Error(`random tensors: ${FORMATS.get(type)?.name ?? type} is not supported`);
  for (let i = 0; i < numBlocks; i++) write(buf, i * f.typeSize, baseD * (0.75 + 0.5 * r.float()), r);
}

/** Standard deviation of decoded weights per unit of base d, measured once per type. */
const unitStd = new Map<GgmlType, number>();
function calibrate(type: GgmlType): number {
  const hit = unitStd.get(type);
  if (hit !== undefined) return hit;
  const f = FORMATS.get(type);
  if (!f) throw new Error(`unknown type ${type}`);
  const numBlocks = Math.ceil(65536 / f.blockSize);
  const raw = new Uint8Array(Math.ceil((numBlocks * f.typeSize) / 4) * 4);
  const r = new XorShift128(0x5eed);
  r.fill(new Uint32Array(raw.buffer));
  const baseD = 1 / 64; // comfortably inside fp16's normal range for every format
  fillBlocks(type, raw, numBlocks, baseD, r);
  const n = numBlocks * f.blockSize;
  const x = new Float32Array(n);
  dequantize(type, raw, n, x);
  let s2 = 0;
  for (let i = 0; i < n; i++) s2 += x[i]! * x[i]!;
  const std = Math.sqrt(s2 / n) / baseD;
  unitStd.set(type, std);
  return std;
}

/** Types randomTensorData can generate. */
export const RANDOM_TYPES: readonly GgmlType[] = [GgmlType.F32, GgmlType.F16, GgmlType.BF16, ...SCALE_WRITERS.keys()];

/**
 * `numElements` random weights of `type` with standard deviation ~`std` (a multiple of the block
 * size), deterministic in `seed`.
 */
export function randomTensorData(type: GgmlType, numElements: number, std: number, seed: number): Uint8Array {
  const f = FORMATS.get(type);
  if (!f || !RANDOM_TYPES.includes(type)) throw new Error(`random tensors: cannot generate ${f?.name ?? `type ${type}`}`);
  if (numElements % f.blockSize !== 0) throw new RangeError(`random tensors: ${numElements} elements is not a multiple of the ${f.name} block size ${f.blockSize}`);
  const bytes = (numElements / f.blockSize) * f.typeSize;
  const buf = new Uint8Array(Math.ceil(bytes / 4) * 4);
  const r = new XorShift128(seed);
  r.fill(new Uint32Array(buf.buffer));
  if (f.blockSize === 1) {
    fillFloat(type, buf, numElements, std);
  } else {
    fillBlocks(type, buf, numElements / f.blockSize, std / calibrate(type), r);
  }
  return buf.subarray(0, bytes);
}

/** A constant F32 tensor (norm weights = 1). */
export function constantF32(numElements: number, value: number): Uint8Array {
  return new Uint8Array(new Float32Array(numElements).fill(value).buffer);
}
