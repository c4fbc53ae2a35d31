/**
 * Reference dequantization: raw GGUF tensor bytes -> fp32, exactly as ggml's `dequantize_row_*`
 * (ggml-quants.c), including the order of elements inside each block. This is the reference
 * backend's hot path (one weight row per call), so it uses plain typed-array loops with manual
 * little-endian byte reads and allocates nothing per element or per block.
 *
 * Each block decoder below documents its block's byte layout. Notation: `d`, `m`, `dmin` are fp16
 * scales; `qs` packs quants (nibbles, crumbs = 2-bit fields); offsets are bytes from the block start.
 */
import type { WeightTensor } from "../weights/tensor.js";
import { FORMATS, GgmlType, rowBytes, typeName } from "./formats.js";
import { bf16ToF32Array, f16ToF32, f16ToF32Array } from "./half.js";

/** Decodes the block starting at src[s] into dst[o .. o + blockSize). */
type BlockDecoder = (src: Uint8Array, s: number, dst: Float32Array, o: number) => void;

const f16At = (b: Uint8Array, s: number): number => f16ToF32(b[s]! | (b[s + 1]! << 8));

/**
 * Q4_0, 32 weights in 18 bytes: d @0 | qs[16] @2.
 * x[j] = d * ((qs[j] & 0xF) - 8), x[j + 16] = d * ((qs[j] >> 4) - 8): low nibbles are the first half.
 */
function decodeQ4_0(src: Uint8Array, s: number, dst: Float32Array, o: number): void {
  const d = f16At(src, s);
  for (let j = 0; j < 16; j++) {
    const q = src[s + 2 + j]!;
    dst[o + j] = d * ((q & 0xf) - 8);
    dst[o + j + 16] = d * ((q >> 4) - 8);
  }
}

/** Q4_1, 32 weights in 20 bytes: d @0 | m @2 | qs[16] @4. x = d * q + m, nibble order as Q4_0. */
function decodeQ4_1(src: Uint8Array, s: number, dst: Float32Array, o: number): void {
  const d = f16At(src, s);
  const m = f16At(src, s + 2);
  for (let j = 0; j < 16; j++) {
    const q = src[s + 4 + j]!;
    dst[o + j] = d * (q & 0xf) + m;
    dst[o + j + 16] = d * (q >> 4) + m;
  }
}

/**
 * Q5_0, 32 weights in 22 bytes: d @0 | qh u32 LE @2 | qs[16] @6.
 * Element j's 5th bit is bit j of qh (elements 0..31); the low 4 bits are nibbles as in Q4_0.
 * x = d * (q5 - 16).
 */
function decodeQ5_0(src: Uint8Array, s: number, dst: Float32Array, o: number): void {
  const d = f16At(src, s);
  const qh = (src[s + 2]! | (src[s + 3]! << 8) | (src[s + 4]! << 16) | (src[s + 5]! << 24)) >>> 0;
  for (let j = 0; j < 16; j++) {
    const q = src[s + 6 + j]!;
    dst[o + j] = d * (((q & 0xf) | (((qh >>> j) & 1) << 4)) - 16);
    dst[o + j + 16] = d * (((q >> 4) | (((qh >>> (j + 16)) & 1) << 4)) - 16);
  }
}

/** Q5_1, 32 weights in 24 bytes: d @0 | m @2 | qh u32 LE @4 | qs[16] @8. x = d * q5 + m, bits as Q5_0. */
function decodeQ5_1(src: Uint8Array, s: number, dst: Float32Array, o: number): void {
  const d = f16At(src, s);
  const m = f16At(src, s + 2);
  const qh = (src[s + 4]! | (src[s + 5]! << 8) | (src[s + 6]! << 16) | (src[s + 7]! << 24)) >>> 0;
  for (let j = 0; j < 16; j++) {
    const q = src[s + 8 + j]!;
    dst[o + j] = d * ((q & 0xf) | (((qh >>> j) & 1) << 4)) + m;
    dst[o + j + 16] = d * ((q >> 4) | (((qh >>> (j + 16)) & 1) << 4)) + m;
  }
}

/** Q8_0, 32 weights in 34 bytes: d @0 | qs[32] int8 @2. x = d * q. */
function decodeQ8_0(src: Uint8Array, s: number, dst: Float32Array, o: number): void {
  const d = f16At(src, s);
  for (let j = 0; j < 32; j++) dst[o + j] = d * ((src[s + 2 + j]! << 24) >> 24);
}

// K-quants: 256-weight super-blocks split into 16 sub-blocks of 16 (Q2_K, Q3_K, Q6_K) or 8 of 32
// (Q4_K, Q5_K), each with its own small integer scale (and min) times the super-block's fp16 d (dmin).

/**
 * Q2_K, 256 weights in 84 bytes: scales[16] @0 | qs[64] @16 | d @80 | dmin @82.
 * scales[i] = scale (low nibble) | min (high nibble) of sub-block i (elements 16i..16i+15).
 * qs holds two 128-element halves of 32 bytes; in half h, byte qs[32h + l] holds elements
 * 128h + l + 32k at bits 2k..2k+1 (k = 0..3). x = d * scale * q - dmin * min.
 */
function decodeQ2_K(src: Uint8Array, s: number, dst: Float32Array, o: number): void {
  const d = f16At(src, s + 80);
  const dmin = f16At(src, s + 82);
  for (let e = 0; e < 256; e += 16) {
    const sc = src[s + (e >> 4)]!;
    const dl = d * (sc & 0xf);
    const ml = dmin * (sc >> 4);
    const q = s + 16 + 32 * (e >> 7) + (e & 31); // first byte holding element e
    const shift = 2 * ((e & 127) >> 5); // bits 2k..2k+1 hold the k-th 32-element run of the half
    for (let l = 0; l < 16; l++) dst[o + e + l] = dl * ((src[q + l]! >> shift) & 3) - ml;
  }
}

/**
 * Q3_K, 256 weights in 110 bytes: hmask[32] @0 | qs[64] @32 | scales[12] @96 | d @108.
 * Low 2 bits of each quant: in qs exactly as Q2_K. High bit: element e's is bit (e / 32) of
 * hmask[e % 32]; a clear high bit means "subtract 4", so q = (low2 | high << 2) - 4 in -4..3.
 * 16 six-bit scales (stored +32) for sub-blocks of 16: the low 4 bits of scale i are the low
 * (i < 8) or high (i >= 8) nibble of scales[i % 8]; its top 2 bits are bits 2*(i/4).. of
 * scales[8 + i % 4]. x = d * (scale - 32) * q.
 */
function decodeQ3_K(src: Uint8Array, s: number, dst: Float32Array, o: number): void {
  const d = f16At(src, s + 108);
  const sc = s + 96;
  for (let i = 0; i < 16; i++) {
    const low = i < 8 ? src[sc + i]! & 0xf : src[sc + i - 8]! >> 4;
    const high = (src[sc + 8 + (i & 3)]! >> (2 * (i >> 2))) & 3;
    const dl = d * ((low | (high << 4)) - 32);
    const e = 16 * i;
    const q = s + 32 + 32 * (e >> 7) + (e & 31);
    const shift = 2 * ((e & 127) >> 5);
    const hbit = e >> 5; // which hmask bit holds the high bits of this run of 16
    const hm = s + (e & 31);
    for (let l = 0; l < 16; l++) {
      const low2 = (src[q + l]! >> shift) & 3;
      dst[o + e + l] = dl * (low2 - ((src[hm + l]! >> hbit) & 1 ? 0 : 4));
    }
  }
}

/**
 * The 12-byte packing of eight 6-bit (scale, min) pairs shared by Q4_K and Q5_K (ggml's
 * `get_scale_min_k4`). For j < 4: scale = b[j] & 63, min = b[j + 4] & 63. For j >= 4 the low 4 bits
 * are nibbles of b[j + 4] (scale low, min high) and the top 2 bits are the spare top bits of
 * b[j - 4] (scale) and b[j] (min). Returns scale | min << 8.
 */
function scaleMinK4(b: Uint8Array, s: number, j: number): number {
  if (j < 4) return (b[s + j]! & 63) | ((b[s + j + 4]! & 63) << 8);
  const packed = b[s + j + 4]!;
  const scale = (packed & 0xf) | ((b[s + j - 4]! >> 6) << 4);
  const min = (packed >> 4) | ((b[s + j]! >> 6) << 4);
  return scale | (min << 8);
}

/**
 * Q4_K, 256 weights in 144 bytes: d @0 | dmin @2 | scales[12] @4 (see scaleMinK4) | qs[128] @16.
 * Eight sub-blocks of 32; pair p (sub-blocks 2p, 2p+1) shares qs[32p .. 32p+31]: low nibbles are
 * sub-block 2p, high nibbles 2p+1. x = d * scale * q - dmin * min.
 */
function decodeQ4_K(src: Uint8Array, s: number, dst: Float32Array, o: number): void {
  const d = f16At(src, s);
  const dmin = f16At(src, s + 2);
  for (let j = 0; j < 8; j++) {
    const sm = scaleMinK4(src, s + 4, j);
    const dl = d * (sm & 0xff);
    const ml = dmin * (sm >> 8);
    const q = s + 16 + 32 * (j >> 1);
    const shift = 4 * (j & 1);
    const e = o + 32 * j;
    for (let l = 0; l < 32; l++) dst[e + l] = dl * ((src[q + l]! >> shift) & 0xf) - ml;
  }
}

/**
 * Q5_K, 256 weights in 176 bytes: d @0 | dmin @2 | scales[12] @4 | qh[32] @16 | qs[128] @48.
 * Low 4 bits as Q4_K; the 5th bit of element 32j + l is bit j of qh[l]. x = d * scale * q - dmin * min.
 */
function decodeQ5_K(src: Uint8Array, s: number, dst: Float32Array, o: number): void {
  const d = f16At(src, s);
  const dmin = f16At(src, s + 2);
  for (let j = 0; j < 8; j++) {
    const sm = scaleMinK4(src, s + 4, j);
    const dl = d * (sm & 0xff);
    const ml = dmin * (sm >> 8);
    const q = s + 48 + 32 * (j >> 1);
    const shift = 4 * (j & 1);
    const e = o + 32 * j;
    for (let l = 0; l < 32; l++) {
      const q5 = ((src[q + l]! >> shift) & 0xf) | (((src[s + 16 + l]! >> j) & 1) << 4);
      dst[e + l] = dl * q5 - ml;
    }
  }
}

/**
 * Q6_K, 256 weights in 210 bytes: ql[128] @0 | qh[64] @128 | scales[16] int8 @192 | d @208.
 * Two 128-element halves h, each with ql[64h ..+64] and qh[32h ..+32]. In half h, for l < 32 and
 * k = 0..3, element 128h + 32k + l has low 4 bits = nibble (k >> 1) of ql[64h + l + 32 * (k & 1)]
 * and high 2 bits = bits 2k..2k+1 of qh[32h + l]. x = d * scales[e / 16] * (q6 - 32).
 */
function decodeQ6_K(src: Uint8Array, s: number, dst: Float32Array, o: number): void {
  const d = f16At(src, s + 208);
  for (let i = 0; i < 16; i++) {
    const dl = d * ((src[s + 192 + i]! << 24) >> 24);
    const e = 16 * i;
    const h = e >> 7;
    const k = (e >> 5) & 3;
    const l0 = e & 31;
    const ql = s + 64 * h + 32 * (k & 1) + l0;
    const qh = s + 128 + 32 * h + l0;
    const qlShift = 4 * (k >> 1);
    for (let l = 0; l < 16; l++) {
      const q6 = ((src[ql + l]! >> qlShift) & 0xf) | (((src[qh + l]! >> (2 * k)) & 3) << 4);
      dst[o + e + l] = dl * (q6 - 32);
    }
  }
}

const BLOCK_DECODERS: ReadonlyMap<number, BlockDecoder> = new Map<number, BlockDecoder>([
  [GgmlType.Q4_0, decodeQ4_0],
  [GgmlType.Q4_1, decodeQ4_1],
  [GgmlType.Q5_0, decodeQ5_0],
  [GgmlType.Q5_1, decodeQ5_1],
  [GgmlType.Q8_0, decodeQ8_0],
  [GgmlType.Q2_K, decodeQ2_K],
  [GgmlType.Q3_K, decodeQ3_K],
  [GgmlType.Q4_K, decodeQ4_K],
  [GgmlType.Q5_K, decodeQ5_K],
  [GgmlType.Q6_K, decodeQ6_K],
]);

const isLittleEndianHost = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** F32: 4 bytes LE each. A view when aligned (the common case: GGUF aligns tensor data), else byte reads. */
function decodeF32(src: Uint8Array, s: number, n: number, dst: Float32Array, o: number): void {
  const byteOffset = src.byteOffset + s;
  if (isLittleEndianHost && byteOffset % 4 === 0) {
    dst.set(new Float32Array(src.buffer, byteOffset, n), o);
    return;
  }
  const view = new DataView(src.buffer, byteOffset, 4 * n);
  for (let i = 0; i < n; i++) dst[o + i] = view.getFloat32(4 * i, true);
}

/** Whether `dequantize` can decode this type. */
export function canDequantize(type: number): boolean {
  return type === GgmlType.F32 || type === GgmlType.F16 || type === GgmlType.BF16 || BLOCK_DECODERS.has(type);
}

/**
 * Decodes elements [0, n) of a tensor of `type` whose bytes start at src[srcOffset] (the start of a
 * block) into dst[dstOffset .. dstOffset + n). n must be a multiple of the type's block size.
 */
function decode(type: GgmlType, src: Uint8Array, srcOffset: number, n: number, dst: Float32Array, dstOffset: number): void {
  const format = FORMATS.get(type);
  if (!format || !canDequantize(type)) {
    throw new Error(`dequantize: tensor type ${typeName(type)} is not supported`);
  }
  if (!Number.isInteger(n) || n < 0 || n % format.blockSize !== 0) {
    throw new Error(`dequantize: ${n} elements is not a multiple of the ${format.name} block size (${format.blockSize})`);
  }
  const numBlocks = n / format.blockSize;
  const numBytes = numBlocks * format.typeSize;
  if (srcOffset + numBytes > src.length) {
    throw new RangeError(`dequantize: ${n} ${format.name} elements need ${numBytes} bytes, source has ${src.length - srcOffset}`);
  }
  if (!Number.isInteger(dstOffset) || dstOffset < 0 || dstOffset + n > dst.length) {
    throw new RangeError(`dequantize: destination of length ${dst.length} cannot hold ${n} elements at offset ${dstOffset}`);
  }

  if (type === GgmlType.F32) return decodeF32(src, srcOffset, n, dst, dstOffset);
  if (type === GgmlType.F16) return f16ToF32Array(src, n, dst, dstOffset, srcOffset);
  if (type === GgmlType.BF16) return bf16ToF32Array(src, n, dst, dstOffset, srcOffset);

  const decodeBlock = BLOCK_DECODERS.get(type)!;
  for (let b = 0; b < numBlocks; b++) {
    decodeBlock(src, srcOffset + b * format.typeSize, dst, dstOffset + b * format.blockSize);
  }
}

/**
 * Decodes the first n elements of `src` (which starts at the first block) into dst[dstOffset..].
 * Throws for types Fennec cannot decode and for n not a multiple of the block size.
 */
export function dequantize(type: GgmlType, src: Uint8Array, n: number, dst: Float32Array, dstOffset = 0): void {
  decode(type, src, 0, n, dst, dstOffset);
}

/**
 * Decodes row `row` of a weight (ggml order: dims[0] = cols, the contiguous dimension; all outer
 * dims flattened into rows) into dst[dstOffset .. dstOffset + cols).
 */
export function dequantizeRow(w: WeightTensor, row: number, dst: Float32Array, dstOffset = 0): void {
  const cols = w.dims[0] ?? 1;
  let numRows = 1;
  for (let i = 1; i < w.dims.length; i++) numRows *= w.dims[i]!;
  if (!Number.isInteger(row) || row < 0 || row >= numRows) {
    throw new RangeError(`dequantizeRow: row ${row} out of range [0, ${numRows}) for ${w.name}`);
  }
  if (w.packing) {
    throw new Error(`dequantizeRow: ${w.name} is packed (${w.packing}) for the backend that loaded it; read the model again for another backend`);
  }
  const format = FORMATS.get(w.type);
  if (format && cols % format.blockSize !== 0) {
    throw new Error(`dequantizeRow: ${w.name} has rows of ${cols} elements, not a multiple of the ${format.name} block size (${format.blockSize})`);
  }
  decode(w.type, w.data, row * rowBytes(w.type, cols), cols, dst, dstOffset);
}
