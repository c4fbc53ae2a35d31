/**
 * Reference quantizers: fp32 -> GGUF block bytes, following ggml's `quantize_row_*_ref` algorithms
 * (no importance matrix), so files written by `fennec quantize` load in llama.cpp and vice versa.
 * Block byte layouts are documented next to each decoder in `dequant.ts`; this file only says how
 * the numbers stored there are chosen.
 *
 * Math runs in float64 where ggml uses float32, so a rare rounding tie can pick a different quant
 * than llama.cpp would; the blocks are equally valid and of the same quality.
 *
 * Like ggml's, these keep block scales in fp16 (smallest normal 6.1e-5, smallest subnormal 6e-8),
 * and a K-quant's super-block d is amax / 45 (Q2_K) down to amax / 4096 (Q6_K): for blocks of small
 * values it is subnormal and coarse, so precision drops (Q6_K on uniform data: relative RMSE 0.013
 * at amax 1, 0.020 at amax 1e-3, and blocks with amax below ~1e-4 decode to zeros).
 */
import { FORMATS, GgmlType, typeName } from "./formats.js";
import { f16ToF32, f32ToBf16Array, f32ToF16, f32ToF16Array } from "./half.js";

/** Encodes the block of src starting at src[x] into dst[o .. o + typeSize). */
type BlockEncoder = (src: Float32Array, x: number, dst: Uint8Array, o: number) => void;

/** Writes v as fp16 at dst[o] and returns the value a decoder will read back. */
function putF16(dst: Uint8Array, o: number, v: number): number {
  const h = f32ToF16(v);
  dst[o] = h & 0xff;
  dst[o + 1] = h >>> 8;
  return f16ToF32(h);
}

const clamp = (v: number, lo: number, hi: number): number => (v < lo ? lo : v > hi ? hi : v);

/** Below this the largest |x| of a group counts as zero (ggml's GROUP_MAX_EPS). */
const GROUP_MAX_EPS = 1e-15;

// Per-block scratch (JS is single threaded and encoders do not nest, so module-level is safe).
const Q = new Int32Array(256); // final quants of the block being encoded, non-negative, element order
const L8 = new Uint8Array(256); // quants chosen by the per-sub-block search
const LI8 = new Int8Array(256); // signed quants chosen by the symmetric searches
const AUX = new Uint8Array(32);
const WEIGHTS = new Float32Array(32);
const SCALES = new Float64Array(16);
const MINS = new Float64Array(16);
const LS = new Uint8Array(8); // 6-bit sub-block scales / mins of Q4_K and Q5_K
const LM = new Uint8Array(8);

// ---- Scale searches (ggml's make_*_quants, the no-importance-matrix variants) -----------------

/** ggml's nearest_int: round to nearest, ties to even. */
function nearestInt(v: number): number {
  const r = Math.round(v);
  return r - v === 0.5 && (r & 1) !== 0 ? r - 1 : r;
}

/**
 * Affine fit x ~ scale * l + min with l in 0..nmax and min <= 0 (ggml's make_qkx2_quants): start from
 * the plain min/max grid, then try nstep+1 slightly different grids (nmax + rmin + rdelta * i levels
 * over the range), each followed by a weighted least-squares refit of scale and min, keeping the one
 * with the least weighted error (absolute if useMad, else squared). Quants go to L[lo..lo+n), the
 * offset (-min >= 0) to mins[mi]; returns the scale.
 */
function makeQkx2Quants(
  n: number, nmax: number, x: Float32Array, xo: number, w: Float32Array, L: Uint8Array, lo: number,
  mins: Float64Array, mi: number, aux: Uint8Array, rmin: number, rdelta: number, nstep: number, useMad: boolean,
): number {
  let min = Infinity;
  let max = -Infinity;
  let sumW = 0;
  let sumX = 0;
  let sumX2 = 0;
  for (let i = 0; i < n; i++) {
    const v = x[xo + i]!;
    if (v < min) min = v;
    if (v > max) max = v;
    sumW += w[i]!;
    sumX += w[i]! * v;
    sumX2 += w[i]! * v * v;
  }
  if (min > 0) min = 0; // the offset only ever lowers the grid, so all-positive data starts at 0
  if (max === min) {
    L.fill(0, lo, lo + n);
    mins[mi] = -min;
    return 0;
  }
  let iscale = nmax / (max - min);
  let scale = 1 / iscale;
  let bestErr = 0;
  for (let i = 0; i < n; i++) {
    const l = clamp(nearestInt(iscale * (x[xo + i]! - min)), 0, nmax);
    L[lo + i] = l;
    const diff = scale * l + min - x[xo + i]!;
    bestErr += w[i]! * (useMad ? Math.abs(diff) : diff * diff);
  }
  for (let step = 0; step <= nstep; step++) {
    iscale = (rmin + rdelta * step + nmax) / (max - min);
    let sumL = 0;
    let sumL2 = 0;
    let sumXL = 0;
    for (let i = 0; i < n; i++) {
      const l = clamp(nearestInt(iscale * (x[xo + i]! - min)), 0, nmax);
      aux[i] = l;
      const wl = w[i]! * l;
      sumL += wl;
      sumL2 += wl * l;
      sumXL += wl * x[xo + i]!;
    }
    const det = sumW * sumL2 - sumL * sumL;
    if (det <= 0) continue;
    let thisScale = (sumW * sumXL - sumX * sumL) / det;
    let thisMin = (sumL2 * sumX - sumL * sumXL) / det;
    if (thisMin > 0) {
      thisMin = 0;
      thisScale = sumXL / sumL2;
    }
    let curErr = 0;
    if (useMad) {
      for (let i = 0; i < n; i++) curErr += w[i]! * Math.abs(thisScale * aux[i]! + thisMin - x[xo + i]!);
    } else {
      // sum w (s l + m - x)^2 expanded into the sums at hand: saves a pass (this search dominates Q4_K/Q5_K time).
      const sc = thisScale;
      const m = thisMin;
      curErr = sc * sc * sumL2 + 2 * sc * m * sumL - 2 * sc * sumXL + m * m * sumW - 2 * m * sumX + sumX2;
    }
    if (curErr < bestErr) {
      for (let i = 0; i < n; i++) L[lo + i] = aux[i]!;
      bestErr = curErr;
      scale = thisScale;
      min = thisMin;
    }
  }
  mins[mi] = -min;
  return scale;
}

/** The signed value of largest magnitude in x[xo .. xo + n) (0 for all zeros). */
function signedAbsMax(x: Float32Array, xo: number, n: number): number {
  let amax = 0;
  let max = 0;
  for (let i = 0; i < n; i++) {
    const v = x[xo + i]!;
    if (Math.abs(v) > amax) {
      amax = Math.abs(v);
      max = v;
    }
  }
  return max;
}

/**
 * Symmetric fit x ~ scale * l, l in -nmax..nmax-1, weights x^2 (ggml's make_q3_quants with rmse):
 * start from the grid putting the largest |x| on -nmax, then up to 5 passes of coordinate descent,
 * moving single quants while that raises sumlx^2 / suml2 (i.e. lowers the weighted squared error
 * of the least-squares scale). Signed quants go to L[lo..lo+n); returns the scale.
 */
function makeQ3Quants(n: number, nmax: number, x: Float32Array, xo: number, L: Int8Array, lo: number): number {
  const max = signedAbsMax(x, xo, n);
  if (Math.abs(max) < GROUP_MAX_EPS) {
    L.fill(0, lo, lo + n);
    return 0;
  }
  const iscale = -nmax / max;
  let sumLX = 0;
  let sumL2 = 0;
  for (let i = 0; i < n; i++) {
    const v = x[xo + i]!;
    const l = clamp(nearestInt(iscale * v), -nmax, nmax - 1);
    L[lo + i] = l;
    sumLX += v * v * v * l;
    sumL2 += v * v * l * l;
  }
  for (let pass = 0; pass < 5; pass++) {
    let numChanged = 0;
    for (let i = 0; i < n; i++) {
      const v = x[xo + i]!;
      const w = v * v;
      const old = L[lo + i]!;
      let slx = sumLX - w * v * old;
      if (slx <= 0) continue;
      let sl2 = sumL2 - w * old * old;
      const l = clamp(nearestInt((v * sl2) / slx), -nmax, nmax - 1);
      if (l === old) continue;
      slx += w * v * l;
      sl2 += w * l * l;
      if (sl2 > 0 && slx * slx * sumL2 > sumLX * sumLX * sl2) {
        L[lo + i] = l;
        sumLX = slx;
        sumL2 = sl2;
        numChanged++;
      }
    }
    if (numChanged === 0) break;
  }
  return sumL2 > 0 ? sumLX / sumL2 : 0;
}

/** Grid offsets tried by makeQxQuants, in ggml's order (0 first). */
const QX_STEPS = [0, -9, -8, -7, -6, -5, -4, -3, -2, -1, 1, 2, 3, 4, 5, 6, 7, 8, 9] as const;

/**
 * Symmetric fit x ~ scale * l, l in -nmax..nmax-1, weights x^2 (ggml's make_qx_quants, rmse_type 1):
 * try 19 grids putting the largest |x| on -(nmax + 0.1 i), i = -9..9, and keep the one whose
 * least-squares scale explains the most weighted energy (max sumlx^2 / suml2). Signed quants go to
 * L[lo..lo+n); returns that scale.
 */
function makeQxQuants(n: number, nmax: number, x: Float32Array, xo: number, L: Int8Array, lo: number): number {
  const max = signedAbsMax(x, xo, n);
  if (Math.abs(max) < GROUP_MAX_EPS) {
    L.fill(0, lo, lo + n);
    return 0;
  }
  let best = 0;
  let scale = 0;
  for (const step of QX_STEPS) {
    const iscale = -(nmax + 0.1 * step) / max;
    let sumLX = 0;
    let sumL2 = 0;
    for (let i = 0; i < n; i++) {
      const v = x[xo + i]!;
      const l = clamp(nearestInt(iscale * v), -nmax, nmax - 1);
      sumLX += v * v * v * l;
      sumL2 += v * v * l * l;
    }
    // The first grid (step 0) is always taken; later ones only if strictly better.
    if (sumL2 > 0 && (step === 0 || sumLX * sumLX > best * sumL2)) {
      for (let i = 0; i < n; i++) L[lo + i] = clamp(nearestInt(iscale * x[xo + i]!), -nmax, nmax - 1);
      scale = sumLX / sumL2;
      best = scale * sumLX;
    }
  }
  return scale;
}

// ---- 32-weight blocks ---------------------------------------------------------------------------

/**
 * Q4_0 / Q5_0 (symmetric, 2^(bits-1) levels each side): d = max / -2^(bits-1), so the value of
 * largest magnitude maps exactly onto the extreme level -2^(bits-1) (one more level on the negative
 * side); the others round to nearest. Writes d and leaves the quants (0 .. 2^bits - 1) in Q.
 */
function symmetricQuants(src: Float32Array, x: number, dst: Uint8Array, o: number, bits: number): void {
  const half = 1 << (bits - 1);
  const d = signedAbsMax(src, x, 32) / -half;
  const id = d ? 1 / d : 0;
  putF16(dst, o, d);
  for (let j = 0; j < 32; j++) Q[j] = clamp(Math.trunc(src[x + j]! * id + half + 0.5), 0, 2 * half - 1);
}

/** Q4_1 / Q5_1 (affine): m = block min, d = (max - min) / (2^bits - 1). Writes d, m; quants in Q. */
function affineQuants(src: Float32Array, x: number, dst: Uint8Array, o: number, bits: number): void {
  const nmax = (1 << bits) - 1;
  let min = Infinity;
  let max = -Infinity;
  for (let j = 0; j < 32; j++) {
    const v = src[x + j]!;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const d = (max - min) / nmax;
  const id = d ? 1 / d : 0;
  putF16(dst, o, d);
  putF16(dst, o + 2, min);
  for (let j = 0; j < 32; j++) Q[j] = clamp(Math.trunc((src[x + j]! - min) * id + 0.5), 0, nmax);
}

/** Low nibbles of qs[j] are elements j (0..15), high nibbles elements j + 16. */
function packNibbles32(dst: Uint8Array, qs: number): void {
  for (let j = 0; j < 16; j++) dst[qs + j] = (Q[j]! & 0xf) | ((Q[j + 16]! & 0xf) << 4);
}

/** Bit j of the u32 LE at dst[at] = 5th bit of element j. */
function packHighBits32(dst: Uint8Array, at: number): void {
  let qh = 0;
  for (let j = 0; j < 32; j++) qh |= ((Q[j]! >> 4) & 1) << j;
  dst[at] = qh & 0xff;
  dst[at + 1] = (qh >>> 8) & 0xff;
  dst[at + 2] = (qh >>> 16) & 0xff;
  dst[at + 3] = qh >>> 24;
}

const encodeQ4_0: BlockEncoder = (src, x, dst, o) => {
  symmetricQuants(src, x, dst, o, 4);
  packNibbles32(dst, o + 2);
};
const encodeQ4_1: BlockEncoder = (src, x, dst, o) => {
  affineQuants(src, x, dst, o, 4);
  packNibbles32(dst, o + 4);
};
const encodeQ5_0: BlockEncoder = (src, x, dst, o) => {
  symmetricQuants(src, x, dst, o, 5);
  packHighBits32(dst, o + 2);
  packNibbles32(dst, o + 6);
};
const encodeQ5_1: BlockEncoder = (src, x, dst, o) => {
  affineQuants(src, x, dst, o, 5);
  packHighBits32(dst, o + 4);
  packNibbles32(dst, o + 8);
};

/** Q8_0: d = amax / 127, q = round(x / d) (halves away from zero, like C's roundf). */
const encodeQ8_0: BlockEncoder = (src, x, dst, o) => {
  const d = Math.abs(signedAbsMax(src, x, 32)) / 127;
  const id = d ? 1 / d : 0;
  putF16(dst, o, d);
  for (let j = 0; j < 32; j++) {
    const v = src[x + j]! * id;
    dst[o + 2 + j] = clamp(Math.sign(v) * Math.round(Math.abs(v)), -127, 127) & 0xff;
  }
};

// ---- K-quants (256-weight super-blocks) -----------------------------------------------------------

/** Pack 2-bit quants Q[0..256) as Q2_K/Q3_K do: byte 32h + l holds elements 128h + l + 32k at bits 2k. */
function packCrumbs256(dst: Uint8Array, qs: number): void {
  for (let h = 0; h < 2; h++) {
    for (let l = 0; l < 32; l++) {
      const e = 128 * h + l;
      dst[qs + 32 * h + l] = (Q[e]! & 3) | ((Q[e + 32]! & 3) << 2) | ((Q[e + 64]! & 3) << 4) | ((Q[e + 96]! & 3) << 6);
    }
  }
}

/**
 * Q2_K: per 16-weight sub-block, a weighted (|x|) least-absolute-deviation search for scale and min
 * over 2-bit quants; the 16 scales and 16 mins are then themselves quantized to 4 bits against the
 * largest (d = maxScale / 15, dmin = maxMin / 15), and the weights re-quantized with those stored values.
 */
const encodeQ2_K: BlockEncoder = (src, x, dst, o) => {
  let maxScale = 0;
  let maxMin = 0;
  for (let j = 0; j < 16; j++) {
    for (let l = 0; l < 16; l++) WEIGHTS[l] = Math.abs(src[x + 16 * j + l]!);
    SCALES[j] = makeQkx2Quants(16, 3, src, x + 16 * j, WEIGHTS, L8, 16 * j, MINS, j, AUX, -0.5, 0.1, 15, true);
    maxScale = Math.max(maxScale, SCALES[j]!);
    maxMin = Math.max(maxMin, MINS[j]!);
  }
  const iScale = maxScale > 0 ? 15 / maxScale : 0;
  const iMin = maxMin > 0 ? 15 / maxMin : 0;
  for (let j = 0; j < 16; j++) {
    dst[o + j] = clamp(nearestInt(iScale * SCALES[j]!), 0, 15) | (clamp(nearestInt(iMin * MINS[j]!), 0, 15) << 4);
  }
  const d = putF16(dst, o + 80, maxScale / 15);
  const dmin = putF16(dst, o + 82, maxMin / 15);
  for (let j = 0; j < 16; j++) {
    const dl = d * (dst[o + j]! & 0xf);
    const ml = dmin * (dst[o + j]! >> 4);
    for (let l = 0; l < 16; l++) {
      const e = 16 * j + l;
      Q[e] = dl ? clamp(nearestInt((src[x + e]! + ml) / dl), 0, 3) : L8[e]!;
    }
  }
  packCrumbs256(dst, o + 16);
};

/**
 * Q3_K: per 16-weight sub-block a symmetric 3-bit search (make_q3_quants, x^2-weighted); the 16
 * signed scales are quantized to 6 bits against the one of largest magnitude (d = -maxScale / 32,
 * so that one maps to -32), then weights are re-quantized to -4..3 with the stored scales.
 */
const encodeQ3_K: BlockEncoder = (src, x, dst, o) => {
  let maxScale = 0;
  for (let j = 0; j < 16; j++) {
    SCALES[j] = makeQ3Quants(16, 4, src, x + 16 * j, LI8, 16 * j);
    if (Math.abs(SCALES[j]!) > Math.abs(maxScale)) maxScale = SCALES[j]!;
  }
  const sc = o + 96;
  dst.fill(0, o, o + 108); // hmask, qs and scales are built with |=
  let d = 0;
  if (maxScale !== 0) {
    const iScale = -32 / maxScale;
    for (let j = 0; j < 16; j++) {
      const l = clamp(nearestInt(iScale * SCALES[j]!), -32, 31) + 32;
      dst[sc + (j & 7)]! |= (l & 0xf) << (j < 8 ? 0 : 4);
      dst[sc + 8 + (j & 3)]! |= (l >> 4) << (2 * (j >> 2));
    }
    d = putF16(dst, o + 108, 1 / iScale);
  } else {
    putF16(dst, o + 108, 0);
  }
  for (let j = 0; j < 16; j++) {
    const low = j < 8 ? dst[sc + j]! & 0xf : dst[sc + j - 8]! >> 4;
    const high = (dst[sc + 8 + (j & 3)]! >> (2 * (j >> 2))) & 3;
    const dl = d * ((low | (high << 4)) - 32);
    for (let l = 0; l < 16; l++) {
      const e = 16 * j + l;
      Q[e] = dl ? clamp(nearestInt(src[x + e]! / dl), -4, 3) + 4 : LI8[e]! + 4;
    }
  }
  // High bit of element e goes to bit e / 32 of hmask[e % 32]; the low 2 bits to qs.
  for (let e = 0; e < 256; e++) {
    if (Q[e]! > 3) dst[o + (e & 31)]! |= 1 << (e >> 5);
  }
  packCrumbs256(dst, o + 32);
};

/**
 * Shared by Q4_K and Q5_K: per 32-weight sub-block, a weighted (avg|x| + |x|) least-squares search
 * for scale and min over 0..nmax quants; scales and mins are quantized to 6 bits against their
 * maxima and packed as `get_scale_min_k4` reads them. Writes d @o, dmin @o+2, scales[12] @o+4 and
 * leaves the re-quantized weights in Q.
 */
function scaleMinK4Block(src: Float32Array, x: number, dst: Uint8Array, o: number, nmax: number, rmin: number, nstep: number): void {
  let maxScale = 0;
  let maxMin = 0;
  for (let j = 0; j < 8; j++) {
    let sumX2 = 0;
    for (let l = 0; l < 32; l++) sumX2 += src[x + 32 * j + l]! ** 2;
    const avX = Math.sqrt(sumX2 / 32);
    for (let l = 0; l < 32; l++) WEIGHTS[l] = avX + Math.abs(src[x + 32 * j + l]!);
    SCALES[j] = makeQkx2Quants(32, nmax, src, x + 32 * j, WEIGHTS, L8, 32 * j, MINS, j, AUX, rmin, 0.1, nstep, false);
    maxScale = Math.max(maxScale, SCALES[j]!);
    maxMin = Math.max(maxMin, MINS[j]!);
  }
  const iScale = maxScale > 0 ? 63 / maxScale : 0;
  const iMin = maxMin > 0 ? 63 / maxMin : 0;
  const sc = o + 4;
  for (let j = 0; j < 8; j++) {
    LS[j] = clamp(nearestInt(iScale * SCALES[j]!), 0, 63);
    LM[j] = clamp(nearestInt(iMin * MINS[j]!), 0, 63);
  }
  for (let j = 0; j < 4; j++) {
    // Bytes 0..3: scale j (6 bits) + top 2 bits of scale j+4; bytes 4..7 the same for mins;
    // bytes 8..11: low nibbles of scale j+4 (low) and min j+4 (high).
    dst[sc + j] = LS[j]! | ((LS[j + 4]! >> 4) << 6);
    dst[sc + j + 4] = LM[j]! | ((LM[j + 4]! >> 4) << 6);
    dst[sc + j + 8] = (LS[j + 4]! & 0xf) | ((LM[j + 4]! & 0xf) << 4);
  }
  const d = putF16(dst, o, maxScale / 63);
  const dmin = putF16(dst, o + 2, maxMin / 63);
  for (let j = 0; j < 8; j++) {
    const dl = d * LS[j]!;
    const ml = dmin * LM[j]!;
    for (let l = 0; l < 32; l++) {
      const e = 32 * j + l;
      Q[e] = dl ? clamp(nearestInt((src[x + e]! + ml) / dl), 0, nmax) : L8[e]!;
    }
  }
}

/** Q4_K: 4-bit quants; qs byte 32p + l holds element 64p + l (low nibble) and 64p + 32 + l (high). */
const encodeQ4_K: BlockEncoder = (src, x, dst, o) => {
  scaleMinK4Block(src, x, dst, o, 15, -1, 20);
  for (let p = 0; p < 4; p++) {
    for (let l = 0; l < 32; l++) dst[o + 16 + 32 * p + l] = Q[64 * p + l]! | (Q[64 * p + 32 + l]! << 4);
  }
};

/** Q5_K: as Q4_K for the low 4 bits (qs @48); the 5th bit of element 32j + l is bit j of qh[l] (@16). */
const encodeQ5_K: BlockEncoder = (src, x, dst, o) => {
  scaleMinK4Block(src, x, dst, o, 31, -0.5, 15);
  for (let l = 0; l < 32; l++) {
    let qh = 0;
    for (let j = 0; j < 8; j++) qh |= (Q[32 * j + l]! >> 4) << j;
    dst[o + 16 + l] = qh;
  }
  for (let p = 0; p < 4; p++) {
    for (let l = 0; l < 32; l++) dst[o + 48 + 32 * p + l] = (Q[64 * p + l]! & 0xf) | ((Q[64 * p + 32 + l]! & 0xf) << 4);
  }
};

/**
 * Q6_K: per 16-weight sub-block a symmetric 6-bit search (make_qx_quants, x^2-weighted); the 16
 * signed scales become int8 against the one of largest magnitude (d = -maxScale / 128), then the
 * weights are re-quantized to -32..31 with the stored scales.
 */
const encodeQ6_K: BlockEncoder = (src, x, dst, o) => {
  let maxScale = 0;
  for (let j = 0; j < 16; j++) {
    SCALES[j] = makeQxQuants(16, 32, src, x + 16 * j, LI8, 16 * j);
    if (Math.abs(SCALES[j]!) > Math.abs(maxScale)) maxScale = SCALES[j]!;
  }
  dst.fill(0, o, o + 210);
  if (Math.abs(maxScale) < 1e-15) return; // all (near) zero: the all-zero block decodes to zeros
  const iScale = -128 / maxScale;
  const d = putF16(dst, o + 208, 1 / iScale);
  for (let j = 0; j < 16; j++) {
    const s = clamp(nearestInt(iScale * SCALES[j]!), -128, 127);
    dst[o + 192 + j] = s & 0xff;
    const dl = d * s;
    for (let l = 0; l < 16; l++) {
      const e = 16 * j + l;
      Q[e] = dl ? clamp(nearestInt(src[x + e]! / dl), -32, 31) + 32 : LI8[e]! + 32;
    }
  }
  // Half h, l < 32, k = 0..3: element 128h + 32k + l -> nibble (k >> 1) of ql[64h + 32(k & 1) + l], crumb k of qh[32h + l].
  for (let h = 0; h < 2; h++) {
    for (let l = 0; l < 32; l++) {
      const e = 128 * h + l;
      const q0 = Q[e]!, q1 = Q[e + 32]!, q2 = Q[e + 64]!, q3 = Q[e + 96]!;
      dst[o + 64 * h + l] = (q0 & 0xf) | ((q2 & 0xf) << 4);
      dst[o + 64 * h + 32 + l] = (q1 & 0xf) | ((q3 & 0xf) << 4);
      dst[o + 128 + 32 * h + l] = (q0 >> 4) | ((q1 >> 4) << 2) | ((q2 >> 4) << 4) | ((q3 >> 4) << 6);
    }
  }
};

const BLOCK_ENCODERS: ReadonlyMap<GgmlType, BlockEncoder> = new Map<GgmlType, BlockEncoder>([
  [GgmlType.Q4_0, encodeQ4_0],
  [GgmlType.Q4_1, encodeQ4_1],
  [GgmlType.Q5_0, encodeQ5_0],
  [GgmlType.Q5_1, encodeQ5_1],
  [GgmlType.Q8_0, encodeQ8_0],
  [GgmlType.Q2_K, encodeQ2_K],
  [GgmlType.Q3_K, encodeQ3_K],
  [GgmlType.Q4_K, encodeQ4_K],
  [GgmlType.Q5_K, encodeQ5_K],
  [GgmlType.Q6_K, encodeQ6_K],
]);

/** Types `quantize` can produce. */
export const QUANTIZABLE_TYPES: readonly GgmlType[] = [GgmlType.F32, GgmlType.F16, GgmlType.BF16, ...BLOCK_ENCODERS.keys()];

/**
 * Encodes src[srcOffset .. srcOffset + n) as `type` into dst starting at byte dstOffset
 * (n must be a multiple of the block size; dst needs rowBytes(type, n) bytes there).
 */
export function quantizeInto(type: GgmlType, src: Float32Array, srcOffset: number, n: number, dst: Uint8Array, dstOffset: number): void {
  const format = FORMATS.get(type);
  if (!format || !QUANTIZABLE_TYPES.includes(type)) throw new Error(`quantize: cannot quantize to ${typeName(type)}`);
  if (!Number.isInteger(n) || n < 0 || n % format.blockSize !== 0) {
    throw new Error(`quantize: row length ${n} is not a multiple of the ${format.name} block size (${format.blockSize})`);
  }
  if (srcOffset < 0 || srcOffset + n > src.length) {
    throw new RangeError(`quantize: source of length ${src.length} has no ${n} elements at offset ${srcOffset}`);
  }
  const numBlocks = n / format.blockSize;
  if (dstOffset < 0 || dstOffset + numBlocks * format.typeSize > dst.length) {
    throw new RangeError(`quantize: destination of ${dst.length} bytes cannot hold ${numBlocks * format.typeSize} bytes at ${dstOffset}`);
  }
  if (type === GgmlType.F32) {
    const view = new DataView(dst.buffer, dst.byteOffset + dstOffset, 4 * n);
    for (let i = 0; i < n; i++) view.setFloat32(4 * i, src[srcOffset + i]!, true);
    return;
  }
  if (type === GgmlType.F16) return f32ToF16Array(src.subarray(srcOffset), n, dst, dstOffset);
  if (type === GgmlType.BF16) return f32ToBf16Array(src.subarray(srcOffset), n, dst, dstOffset);
  const encode = BLOCK_ENCODERS.get(type)!;
  for (let b = 0; b < numBlocks; b++) {
    encode(src, srcOffset + b * format.blockSize, dst, dstOffset + b * format.typeSize);
  }
}

/** Encodes the first n elements of src as `type`; n must be a multiple of the type's block size. */
export function quantize(type: GgmlType, src: Float32Array, n: number): Uint8Array {
  const format = FORMATS.get(type);
  if (!format) throw new Error(`quantize: cannot quantize to ${typeName(type)}`);
  const out = new Uint8Array(Math.ceil(n / format.blockSize) * format.typeSize);
  quantizeInto(type, src, 0, n, out, 0);
  return out;
}

/**
 * Encodes a row-major [rows, cols] matrix row by row (each row of cols elements becomes
 * cols / blockSize blocks), as GGUF stores a 2-D weight with dims [cols, rows].
 */
export function quantizeRows(type: GgmlType, src: Float32Array, rows: number, cols: number): Uint8Array {
  const format = FORMATS.get(type);
  if (format && cols % format.blockSize !== 0) {
    throw new Error(`quantize: row length ${cols} is not a multiple of the ${format.name} block size (${format.blockSize})`);
  }
  if (!Number.isInteger(rows) || rows < 0 || rows * cols > src.length) {
    throw new RangeError(`quantizeRows: ${rows} x ${cols} does not fit a source of length ${src.length}`);
  }
  // Blocks never straddle rows, so the rows quantized back to back are the whole matrix at once.
  return quantize(type, src, rows * cols);
}
