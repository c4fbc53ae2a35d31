/**
 * 16-bit floats <-> fp32.
 *
 * fp16 (IEEE binary16): 1 sign bit | 5 exponent bits (bias 15) | 10 mantissa bits.
 * bf16 (bfloat16):      1 sign bit | 8 exponent bits (bias 127) | 7 mantissa bits, i.e. the top half of an fp32.
 *
 * Conversions to 16 bits round to nearest, ties to even (what ggml and numpy do), so a model quantized
 * here matches one quantized by llama.cpp bit for bit. The 16-bit values travel as plain numbers
 * holding the unsigned bit pattern (0..0xffff); in byte buffers they are little endian, as in GGUF.
 */

// Bit-cast scratch: fp32 <-> u32 through one shared 4-byte buffer (no allocation per call).
const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);

function f32Bits(f: number): number {
  f32Scratch[0] = f;
  return u32Scratch[0]!;
}

function bitsToF32(bits: number): number {
  u32Scratch[0] = bits;
  return f32Scratch[0]!;
}

/**
 * fp16 bits -> fp32 for all 65536 patterns (256 KiB). Dequantization reads one or two fp16 scales
 * per block and every element of F16 tensors, so a table lookup beats decoding each time.
 * Built as u32 bit patterns so NaN payloads survive.
 */
const F16_TABLE: Float32Array = (() => {
  const table = new Float32Array(65536);
  const bits = new Uint32Array(table.buffer);
  for (let h = 0; h < 65536; h++) {
    const sign = (h & 0x8000) << 16;
    const exp = (h >>> 10) & 0x1f;
    const mant = h & 0x3ff;
    if (exp === 0x1f) {
      bits[h] = (sign | 0x7f800000 | (mant << 13)) >>> 0; // inf / NaN (payload kept)
    } else if (exp !== 0) {
      bits[h] = (sign | ((exp - 15 + 127) << 23) | (mant << 13)) >>> 0; // normal: rebias the exponent
    } else {
      table[h] = (sign ? -1 : 1) * mant * 2 ** -24; // zero / subnormal: mant * 2^-24, exact in fp32
    }
  }
  return table;
})();

/** fp16 bit pattern -> its value. */
export function f16ToF32(h: number): number {
  return F16_TABLE[h & 0xffff]!;
}

/** A value (first rounded to fp32) -> fp16 bit pattern, round to nearest even; overflow gives inf. */
export function f32ToF16(f: number): number {
  const x = f32Bits(f);
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;

  if (exp === 0xff) {
    // inf stays inf; NaN keeps its top payload bits and is made quiet so it cannot turn into inf.
    return mant === 0 ? sign | 0x7c00 : sign | 0x7c00 | 0x200 | (mant >>> 13);
  }
  const e = exp - 127 + 15; // fp16 biased exponent
  if (e >= 0x1f) return sign | 0x7c00;

  if (e <= 0) {
    // fp16 subnormal (or zero): the result counts units of 2^-24. With the implicit 1 made explicit,
    // the value is mant * 2^(e - 14) such units, so drop (14 - e) bits, rounding to nearest even.
    // Below e = -10 the value is under half the smallest subnormal and rounds to (signed) zero.
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rem > halfway || (rem === halfway && (half & 1) !== 0)) half++; // may carry into the smallest normal: correct
    return sign | half;
  }

  let half = sign | (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  // A carry out of the mantissa bumps the exponent, and out of the largest finite value gives inf: both correct.
  if (rem > 0x1000 || (rem === 0x1000 && (half & 1) !== 0)) half++;
  return half;
}

/** bf16 bit pattern -> its value (exact: bf16 is the top half of an fp32). */
export function bf16ToF32(h: number): number {
  return bitsToF32(((h & 0xffff) << 16) >>> 0);
}

/** A value (first rounded to fp32) -> bf16 bit pattern, round to nearest even; NaN stays NaN. */
export function f32ToBf16(f: number): number {
  const x = f32Bits(f);
  // Rounding could carry a NaN's low payload into the exponent and make it inf: truncate and force quiet instead.
  if ((x & 0x7fffffff) > 0x7f800000) return (x >>> 16) | 0x40;
  return ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff;
}

/** Decode n little-endian fp16 values from src (starting at byte srcOffset) into dst[dstOffset..]. */
export function f16ToF32Array(src: Uint8Array, n: number, dst: Float32Array, dstOffset = 0, srcOffset = 0): void {
  checkBulk("f16ToF32Array", src.length - srcOffset, 2 * n, dst.length - dstOffset, n);
  for (let i = 0, o = srcOffset; i < n; i++, o += 2) dst[dstOffset + i] = F16_TABLE[src[o]! | (src[o + 1]! << 8)]!;
}

/** Decode n little-endian bf16 values from src (starting at byte srcOffset) into dst[dstOffset..]. */
export function bf16ToF32Array(src: Uint8Array, n: number, dst: Float32Array, dstOffset = 0, srcOffset = 0): void {
  checkBulk("bf16ToF32Array", src.length - srcOffset, 2 * n, dst.length - dstOffset, n);
  // Write bit patterns through a u32 view of dst: no float round trip, NaN payloads kept.
  const bits = new Uint32Array(dst.buffer, dst.byteOffset, dst.length);
  for (let i = 0, o = srcOffset; i < n; i++, o += 2) bits[dstOffset + i] = ((src[o]! << 16) | (src[o + 1]! << 24)) >>> 0;
}

/** Encode src[0..n) as little-endian fp16 into dst (starting at byte dstOffset). */
export function f32ToF16Array(src: Float32Array, n: number, dst: Uint8Array, dstOffset = 0): void {
  checkBulk("f32ToF16Array", src.length, n, dst.length - dstOffset, 2 * n);
  for (let i = 0, o = dstOffset; i < n; i++, o += 2) {
    const h = f32ToF16(src[i]!);
    dst[o] = h & 0xff;
    dst[o + 1] = h >>> 8;
  }
}

/** Encode src[0..n) as little-endian bf16 into dst (starting at byte dstOffset). */
export function f32ToBf16Array(src: Float32Array, n: number, dst: Uint8Array, dstOffset = 0): void {
  checkBulk("f32ToBf16Array", src.length, n, dst.length - dstOffset, 2 * n);
  for (let i = 0, o = dstOffset; i < n; i++, o += 2) {
    const h = f32ToBf16(src[i]!);
    dst[o] = h & 0xff;
    dst[o + 1] = h >>> 8;
  }
}

function checkBulk(fn: string, srcHave: number, srcNeed: number, dstHave: number, dstNeed: number): void {
  if (srcHave < srcNeed) throw new RangeError(`${fn}: source has ${Math.max(srcHave, 0)} elements/bytes, needs ${srcNeed}`);
  if (dstHave < dstNeed) throw new RangeError(`${fn}: destination has room for ${Math.max(dstHave, 0)}, needs ${dstNeed}`);
}
