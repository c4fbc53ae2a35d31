import { test } from "node:test";
import assert from "node:assert/strict";
import {
  bf16ToF32, bf16ToF32Array, f16ToF32, f16ToF32Array, f32ToBf16, f32ToBf16Array, f32ToF16, f32ToF16Array,
} from "../../src/quant/half.js";

/** The fp32 whose bit pattern is `bits`. */
function fromBits(bits: number): number {
  const v = new DataView(new ArrayBuffer(4));
  v.setUint32(0, bits >>> 0);
  return v.getFloat32(0);
}

function bitsOf(f: number): number {
  const v = new DataView(new ArrayBuffer(4));
  v.setFloat32(0, f);
  return v.getUint32(0);
}

/** Independent fp16 decoding from the IEEE definition. */
function refHalfValue(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  if (exp === 0) return sign * mant * 2 ** -24;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

test("f16ToF32: known values", () => {
  const cases: [number, number][] = [
    [0x0000, 0], [0x3c00, 1], [0xc000, -2], [0x3800, 0.5], [0x3555, 0.333251953125], [0x7bff, 65504],
    [0x0001, 2 ** -24], [0x03ff, 1023 * 2 ** -24], [0x0400, 2 ** -14], [0x7c00, Infinity], [0xfc00, -Infinity],
  ];
  for (const [h, v] of cases) assert.equal(f16ToF32(h), v, `0x${h.toString(16)}`);
  assert.ok(Object.is(f16ToF32(0x8000), -0));
  assert.ok(Number.isNaN(f16ToF32(0x7e00)));
  assert.ok(Number.isNaN(f16ToF32(0xfc01)));
});

test("f16ToF32 matches the IEEE definition for all 65536 patterns", () => {
  for (let h = 0; h < 65536; h++) {
    const want = refHalfValue(h);
    const got = f16ToF32(h);
    if (Number.isNaN(want)) assert.ok(Number.isNaN(got), `0x${h.toString(16)}`);
    else assert.ok(Object.is(got, want), `0x${h.toString(16)}: ${got} != ${want}`);
  }
});

test("f32ToF16: exact values, rounding to nearest even, overflow, subnormals", () => {
  const cases: [number, number][] = [
    [1, 0x3c00], [-2, 0xc000], [65504, 0x7bff], [0.5, 0x3800],
    [65519, 0x7bff], // just below the halfway point to 65536
    [65520, 0x7c00], // halfway between 65504 and 65536: ties to even = inf
    [1e6, 0x7c00], [-1e6, 0xfc00], [Infinity, 0x7c00], [-Infinity, 0xfc00],
    [1 + 2 ** -11, 0x3c00], // tie between 0x3c00 and 0x3c01 -> even
    [1 + 3 * 2 ** -11, 0x3c02], // tie between 0x3c01 and 0x3c02 -> even
    [1 + 2 ** -11 + 2 ** -20, 0x3c01], // just above the tie
    [2 ** -24, 0x0001], // smallest subnormal
    [2 ** -25, 0x0000], // half of it: tie -> even (zero)
    [fromBits(0x33000001), 0x0001], // just above 2^-25
    [3 * 2 ** -25, 0x0002], // 1.5 units: tie -> even
    [5 * 2 ** -26, 0x0001], // 1.25 units
    [1023.5 * 2 ** -24, 0x0400], // tie between largest subnormal and smallest normal -> even (normal)
    [2 ** -14, 0x0400], [1e-9, 0x0000], [-1e-9, 0x8000],
  ];
  for (const [f, h] of cases) assert.equal(f32ToF16(f), h, `${f}`);
  assert.equal(f32ToF16(-0), 0x8000);
  const nan = f32ToF16(NaN);
  assert.equal(nan & 0x7c00, 0x7c00);
  assert.notEqual(nan & 0x3ff, 0);
  // A NaN whose payload is only in the low bits must not become inf.
  assert.ok(Number.isNaN(f16ToF32(f32ToF16(fromBits(0x7f800001)))));
});

test("f32ToF16 round-trips every non-NaN fp16 value", () => {
  for (let h = 0; h < 65536; h++) {
    if ((h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0) continue;
    assert.equal(f32ToF16(f16ToF32(h)), h, `0x${h.toString(16)}`);
  }
});

test("f32ToF16 agrees with a brute-force nearest-even search on random fp32 values", () => {
  // All finite non-negative halves in increasing order (their bit patterns are monotonic).
  const values: number[] = [];
  for (let h = 0; h <= 0x7bff; h++) values.push(refHalfValue(h));
  const nearest = (a: number): number => {
    let lo = 0;
    let hi = values.length - 1;
    if (a >= 65520) return 0x7c00; // at or beyond the halfway point past 65504
    while (hi - lo > 1) {
      const mid = (lo + hi) >> 1;
      if (values[mid]! <= a) lo = mid;
      else hi = mid;
    }
    const dLo = a - values[lo]!;
    const dHi = values[hi]! - a;
    if (dLo < dHi) return lo;
    if (dHi < dLo) return hi;
    return lo % 2 === 0 ? lo : hi;
  };
  let seed = 12345;
  const rand = (): number => {
    seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
    return seed;
  };
  for (let i = 0; i < 200000; i++) {
    // Exponents spanning zero, subnormal, normal and overflow ranges of fp16.
    const exp = 127 - 30 + (rand() % 48);
    const bits = ((rand() & 1) << 31) | (exp << 23) | (rand() & 0x7fffff);
    const f = fromBits(bits);
    const want = nearest(Math.abs(f)) | (f < 0 ? 0x8000 : 0);
    assert.equal(f32ToF16(f), want, `bits 0x${(bits >>> 0).toString(16)} (${f})`);
  }
});

test("bf16: known values, rounding to nearest even, NaN preserved", () => {
  assert.equal(bf16ToF32(0x3f80), 1);
  assert.equal(bf16ToF32(0xc040), -3);
  assert.equal(bf16ToF32(0x7f80), Infinity);
  assert.ok(Object.is(bf16ToF32(0x8000), -0));
  assert.ok(Number.isNaN(bf16ToF32(0x7fc1)));
  assert.equal(bf16ToF32(0x0001), fromBits(0x00010000)); // bf16 subnormal

  assert.equal(f32ToBf16(1), 0x3f80);
  assert.equal(f32ToBf16(-3), 0xc040);
  assert.equal(f32ToBf16(fromBits(0x3f808000)), 0x3f80); // tie -> even
  assert.equal(f32ToBf16(fromBits(0x3f818000)), 0x3f82); // tie -> even (up)
  assert.equal(f32ToBf16(fromBits(0x3f808001)), 0x3f81); // above the tie
  assert.equal(f32ToBf16(fromBits(0x3f807fff)), 0x3f80); // below the tie
  assert.equal(f32ToBf16(fromBits(0x7f7fffff)), 0x7f80); // largest fp32 rounds up to inf
  assert.equal(f32ToBf16(fromBits(0x00018000)), 0x0002); // subnormals round too (no flush to zero)
  assert.equal(f32ToBf16(-0), 0x8000);
  assert.equal(f32ToBf16(Infinity), 0x7f80);
  for (const nanBits of [0x7fc00000, 0x7f800001, 0xffffffff, 0x7fffffff, 0x7fa00000]) {
    const b = f32ToBf16(fromBits(nanBits));
    assert.ok(Number.isNaN(bf16ToF32(b)), `0x${nanBits.toString(16)}`);
    assert.equal(b & 0x8000, (nanBits >>> 16) & 0x8000, "sign kept");
  }
  // Every bf16 pattern round-trips (NaNs as NaN).
  for (let h = 0; h < 65536; h++) {
    const f = bf16ToF32(h);
    if (Number.isNaN(f)) continue;
    assert.equal(f32ToBf16(f), h);
  }
  // bf16 is the top half of the fp32 bits.
  assert.equal(bitsOf(bf16ToF32(0x4049)) >>> 16, 0x4049);
});

test("bulk conversions: little-endian bytes, offsets, bounds", () => {
  const bytes = new Uint8Array([0xff, 0x00, 0x3c, 0x00, 0xc0, 0x00, 0x38, 0xff]);
  const out = new Float32Array(5).fill(7);
  f16ToF32Array(bytes, 3, out, 1, 1); // halves at bytes 1..6: 0x3c00, 0xc000, 0x3800
  assert.deepEqual([...out], [7, 1, -2, 0.5, 7]);

  const bfBytes = new Uint8Array([0x80, 0x3f, 0x40, 0xc0]);
  const bf = new Float32Array(2);
  bf16ToF32Array(bfBytes, 2, bf);
  assert.deepEqual([...bf], [1, -3]);

  const src = new Float32Array([1, -2, 0.5, 65504]);
  const enc = new Uint8Array(10);
  f32ToF16Array(src, 4, enc, 2);
  assert.deepEqual([...enc], [0, 0, 0x00, 0x3c, 0x00, 0xc0, 0x00, 0x38, 0xff, 0x7b]);
  const dec = new Float32Array(4);
  f16ToF32Array(enc, 4, dec, 0, 2);
  assert.deepEqual([...dec], [...src]);

  const encBf = new Uint8Array(8);
  f32ToBf16Array(src, 4, encBf);
  const decBf = new Float32Array(4);
  bf16ToF32Array(encBf, 4, decBf);
  assert.deepEqual([...decBf], [1, -2, 0.5, 65536]); // 65504 is not a bf16: rounds to 2^16

  assert.throws(() => f16ToF32Array(bytes, 5, out), RangeError);
  assert.throws(() => f16ToF32Array(bytes, 4, new Float32Array(3)), RangeError);
  assert.throws(() => f32ToF16Array(src, 4, new Uint8Array(7)), RangeError);
});
