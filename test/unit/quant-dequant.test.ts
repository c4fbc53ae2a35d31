/**
 * Dequantization against hand-built blocks. Every expected value is worked out by hand in the
 * comments (no quantizer involved), so these tests pin ggml's block layouts. A second set decodes
 * random bytes and compares with reference decoders written here in ggml's own loop structure.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { canDequantize, dequantize, dequantizeRow } from "../../src/quant/dequant.js";
import { GgmlType, type GgmlType as GgmlTypeT } from "../../src/quant/formats.js";
import type { WeightTensor } from "../../src/weights/tensor.js";

// fp16 bit patterns used as block scales.
const H = { one: 0x3c00, half: 0x3800, quarter: 0x3400, two: 0x4000, minusOne: 0xbc00 } as const;

/** A zeroed block with some fp16 fields and bytes set. */
function block(size: number, halves: Record<number, number>, bytes: Record<number, number> = {}): Uint8Array {
  const b = new Uint8Array(size);
  for (const [at, h] of Object.entries(halves)) {
    b[Number(at)] = h & 0xff;
    b[Number(at) + 1] = h >> 8;
  }
  for (const [at, v] of Object.entries(bytes)) b[Number(at)] = v;
  return b;
}

/** Decoded values, with -0 read as 0 (0 * a negative scale gives -0, as in ggml; assert.deepEqual tells them apart). */
function decode(type: GgmlTypeT, src: Uint8Array, n: number): number[] {
  const out = new Float32Array(n);
  dequantize(type, src, n, out);
  return [...out].map((v) => v + 0);
}

/** n copies of v, with some positions overridden. */
function filled(n: number, v: number, at: Record<number, number> = {}): number[] {
  const a = new Array<number>(n).fill(v);
  for (const [i, x] of Object.entries(at)) a[Number(i)] = x;
  return a;
}

test("F32, F16, BF16", () => {
  const f32 = new Uint8Array(new Float32Array([1.5, -2, 3.25]).buffer);
  assert.deepEqual(decode(GgmlType.F32, f32, 3), [1.5, -2, 3.25]);
  // Unaligned F32 source (byte offset 1) takes the byte-read path.
  const unaligned = new Uint8Array(13);
  unaligned.set(f32, 1);
  assert.deepEqual(decode(GgmlType.F32, unaligned.subarray(1), 3), [1.5, -2, 3.25]);
  assert.deepEqual(decode(GgmlType.F16, new Uint8Array([0x00, 0x3c, 0x00, 0xc0, 0x01, 0x00]), 3), [1, -2, 2 ** -24]);
  assert.deepEqual(decode(GgmlType.BF16, new Uint8Array([0x80, 0x3f, 0x40, 0xc0]), 2), [1, -3]);
});

test("Q8_0: d = 0.25, qs[j] = 8j - 128 as int8", () => {
  const b = block(34, { 0: H.quarter });
  for (let j = 0; j < 32; j++) b[2 + j] = (8 * j - 128) & 0xff;
  const want = Array.from({ length: 32 }, (_, j) => 0.25 * (8 * j - 128)); // -32, -30, ..., 30
  assert.deepEqual(decode(GgmlType.Q8_0, b, 32), want);
  assert.equal(want[0], -32);
  assert.equal(want[31], 30);
});

test("Q4_0: d = 0.5, qs[j] = j | (15 - j) << 4: low nibbles are elements 0..15", () => {
  const b = block(18, { 0: H.half });
  for (let j = 0; j < 16; j++) b[2 + j] = j | ((15 - j) << 4);
  // x[j] = 0.5 * (j - 8); x[16 + j] = 0.5 * ((15 - j) - 8)
  const want = [
    -4, -3.5, -3, -2.5, -2, -1.5, -1, -0.5, 0, 0.5, 1, 1.5, 2, 2.5, 3, 3.5,
    3.5, 3, 2.5, 2, 1.5, 1, 0.5, 0, -0.5, -1, -1.5, -2, -2.5, -3, -3.5, -4,
  ];
  assert.deepEqual(decode(GgmlType.Q4_0, b, 32), want);
});

test("Q4_1: d = 0.5, m = -1", () => {
  const b = block(20, { 0: H.half, 2: H.minusOne }, { 4: 0xf0, 5: 0x1e, 19: 0x07 });
  // qs[0] = 0xf0: x0 = 0.5*0 - 1 = -1, x16 = 0.5*15 - 1 = 6.5; qs[1] = 0x1e: x1 = 6, x17 = -0.5;
  // qs[15] = 0x07: x15 = 2.5, x31 = -1; all other quants 0 -> -1.
  assert.deepEqual(decode(GgmlType.Q4_1, b, 32), filled(32, -1, { 0: -1, 16: 6.5, 1: 6, 17: -0.5, 15: 2.5, 31: -1 }));
});

test("Q5_0: d = 1, qh bit j is the 5th bit of element j", () => {
  // qh = 0x80010003 (LE bytes 03 00 01 80): bits 0, 1, 16, 31 set.
  const b = block(22, { 0: H.one }, { 2: 0x03, 3: 0x00, 4: 0x01, 5: 0x80 });
  b[6 + 0] = 0x2f; // element 0 low = 15, element 16 low = 2
  b[6 + 1] = 0x00; // element 1 low = 0, element 17 low = 0
  b[6 + 15] = 0xf5; // element 15 low = 5, element 31 low = 15
  // x = q5 - 16: x0 = (15|16)-16 = 15, x1 = (0|16)-16 = 0, x16 = (2|16)-16 = 2, x31 = (15|16)-16 = 15,
  // x15 = 5 - 16 = -11, x17 = 0 - 16 = -16; all others 0 - 16 = -16.
  assert.deepEqual(decode(GgmlType.Q5_0, b, 32), filled(32, -16, { 0: 15, 1: 0, 16: 2, 31: 15, 15: -11, 17: -16 }));
});

test("Q5_1: d = 0.5, m = 2, qh at bytes 4..7", () => {
  // qh = 0x00020004: bits 2 and 17 set.
  const b = block(24, { 0: H.half, 2: H.two }, { 4: 0x04, 5: 0x00, 6: 0x02, 7: 0x00 });
  b[8 + 2] = 0x31; // element 2 low = 1, element 18 low = 3
  b[8 + 1] = 0x10; // element 1 low = 0, element 17 low = 1
  // x = 0.5 * q5 + 2: x2 = 0.5*17 + 2 = 10.5, x18 = 0.5*3 + 2 = 3.5, x17 = 0.5*(1|16) + 2 = 10.5, others 2.
  assert.deepEqual(decode(GgmlType.Q5_1, b, 32), filled(32, 2, { 2: 10.5, 18: 3.5, 17: 10.5 }));
});

test("Q2_K: 4-bit scale/min pairs, 2-bit quants four to a byte", () => {
  const b = block(84, { 80: H.half, 82: H.quarter }, {
    0: 0x21, // sub-block 0 (elements 0..15): scale 1, min 2
    2: 0x03, // sub-block 2 (32..47): scale 3, min 0
    4: 0x15, // sub-block 4 (64..79): scale 5, min 1
    6: 0x07, // sub-block 6 (96..111): scale 7, min 0
    8: 0xf2, // sub-block 8 (128..143): scale 2, min 15
    16: 0xe4, // qs[0] = 0b11_10_01_00: element 0 -> 0, 32 -> 1, 64 -> 2, 96 -> 3
    [16 + 33]: 0x03, // qs[33] bits 0..1: element 128 + 1 -> 3
  });
  // x = 0.5 * scale * q - 0.25 * min
  const want = filled(256, 0);
  for (let i = 0; i < 16; i++) want[i] = -0.5; // 0.5*1*0 - 0.25*2
  want[32] = 1.5; // 0.5*3*1
  for (let i = 64; i < 80; i++) want[i] = -0.25; // 0.5*5*0 - 0.25*1
  want[64] = 4.75; // 0.5*5*2 - 0.25
  want[96] = 10.5; // 0.5*7*3
  for (let i = 128; i < 144; i++) want[i] = -3.75; // -0.25*15
  want[129] = -0.75; // 0.5*2*3 - 3.75
  assert.deepEqual(decode(GgmlType.Q2_K, b, 256), want);
});

test("Q3_K: hmask high bits, 2-bit low bits, 6-bit signed scales", () => {
  // Scales are stored +32 (6 bits: low 4 in bytes 96..103, top 2 in bytes 104..107). Default 32 (= 0):
  // low nibbles 0, top bits 2 -> bytes 104..107 = 0b10_10_10_10. Chosen: s0 = 33 (+1): low 1, top 2;
  // s5 = 30 (-2): low 14 in byte 101, top 1 at byte 105 bits 2..3; s10 = 49 (+17): low 1 in byte 98's
  // high nibble, top 3 at byte 106 bits 4..5; s15 = 0 (-32): top 0 at byte 107 bits 6..7.
  const b = block(110, { 108: H.one }, {
    96: 0x01, 97: 0x00, 98: 0x10, 99: 0x00, 100: 0x00, 101: 0x0e, 102: 0x00, 103: 0x00,
    104: 0xaa, 105: 0xa6, 106: 0xba, 107: 0x2a,
    // Element e: low 2 bits at qs[32*(e>>7) + e%32] bits 2*((e%128)>>5); high bit at hmask[e%32] bit e>>5.
    0: 0x01, // hmask[0] bit 0: element 0 high bit set
    16: 0x04, // hmask[16] bit 2: element 80
    31: 0x80, // hmask[31] bit 7: element 255
    [32 + 0]: 0x03, // qs[0] bits 0..1 = 3: element 0
    [32 + 16]: 0x20, // qs[16] bits 4..5 = 2: element 80
    [32 + 47]: 0x04, // qs[47] bits 2..3 = 1: element 175
    [32 + 63]: 0xc0, // qs[63] bits 6..7 = 3: element 255
  });
  // q = low2 + 4*high - 4; x = scale * q (d = 1). A clear high bit and zero low bits give q = -4.
  const want = filled(256, 0);
  for (let i = 0; i < 16; i++) want[i] = -4; // scale +1, q = -4
  want[0] = 3; // q = 3 + 4 - 4
  for (let i = 80; i < 96; i++) want[i] = 8; // scale -2, q = -4
  want[80] = -4; // q = 2 + 4 - 4 = 2
  for (let i = 160; i < 176; i++) want[i] = -68; // scale 17, q = -4
  want[175] = -51; // q = 1 - 4 = -3
  for (let i = 240; i < 256; i++) want[i] = 128; // scale -32, q = -4
  want[255] = -96; // q = 3 + 4 - 4 = 3
  assert.deepEqual(decode(GgmlType.Q3_K, b, 256), want);
});

// Q4_K / Q5_K scale bytes encoding (scale, min): j0 (1, 2), j1 (63, 0), j5 (17, 33), j7 (40, 63), others 0.
// Bytes 0..3: scale j (6 bits) | top 2 bits of scale j+4 << 6; bytes 4..7: same for mins;
// bytes 8..11: scale j+4 low nibble | min j+4 low nibble << 4.
// byte1 = 63 | (17 >> 4) << 6 = 0x7f; byte5 = 0 | (33 >> 4) << 6 = 0x80; byte9 = 1 | 1 << 4 = 0x11;
// byte3 = 0 | (40 >> 4) << 6 = 0x80; byte7 = 0 | (63 >> 4) << 6 = 0xc0; byte11 = 8 | 15 << 4 = 0xf8.
const K4_SCALES = [0x01, 0x7f, 0x00, 0x80, 0x02, 0x80, 0x00, 0xc0, 0x00, 0x11, 0x00, 0xf8];

function kScaleBytes(at: number): Record<number, number> {
  return Object.fromEntries(K4_SCALES.map((v, i) => [at + i, v]));
}

test("Q4_K: 6-bit packed scales/mins, sub-block pairs share nibbles", () => {
  const b = block(144, { 0: H.half, 2: H.quarter }, {
    ...kScaleBytes(4),
    [16 + 0]: 0x2f, // element 0 (low nibble) = 15, element 32 (high) = 2
    [16 + 31]: 0xf0, // element 63 (high) = 15
    [16 + 67]: 0x90, // qs[64 + 3] high: element 160 + 3 = 9
    [16 + 127]: 0x1f, // qs[96 + 31]: element 223 (scale 0) = 15, element 255 = 1
  });
  // x = 0.5 * scale * q - 0.25 * min
  const want = filled(256, 0);
  for (let i = 0; i < 32; i++) want[i] = -0.5; // j0: -0.25*2
  want[0] = 7; // 0.5*1*15 - 0.5
  want[32] = 63; // j1: 0.5*63*2
  want[63] = 472.5; // 0.5*63*15
  for (let i = 160; i < 192; i++) want[i] = -8.25; // j5: -0.25*33
  want[163] = 68.25; // 0.5*17*9 - 8.25
  for (let i = 224; i < 256; i++) want[i] = -15.75; // j7: -0.25*63
  want[255] = 4.25; // 0.5*40*1 - 15.75
  assert.deepEqual(decode(GgmlType.Q4_K, b, 256), want);
});

test("Q5_K: as Q4_K plus qh bit j of qh[l] for element 32j + l", () => {
  const b = block(176, { 0: H.half, 2: H.quarter }, {
    ...kScaleBytes(4),
    [16 + 0]: 0x03, // qh[0]: bit 0 -> element 0, bit 1 -> element 32
    [16 + 1]: 0x01, // qh[1] bit 0 -> element 1
    [16 + 3]: 0x20, // qh[3] bit 5 -> element 163
    [16 + 31]: 0x80, // qh[31] bit 7 -> element 255
    [48 + 0]: 0x2f, // element 0 low = 15, element 32 low = 2
    [48 + 31]: 0xf0, // element 63 low = 15
    [48 + 67]: 0x90, // element 163 low = 9
    [48 + 127]: 0x1f, // element 255 low = 1 (element 223 has scale 0)
  });
  const want = filled(256, 0);
  for (let i = 0; i < 32; i++) want[i] = -0.5;
  want[0] = 15; // 0.5*1*31 - 0.5
  want[1] = 7.5; // 0.5*1*16 - 0.5
  want[32] = 567; // 0.5*63*18
  want[63] = 472.5; // 0.5*63*15
  for (let i = 160; i < 192; i++) want[i] = -8.25;
  want[163] = 204.25; // 0.5*17*25 - 8.25
  for (let i = 224; i < 256; i++) want[i] = -15.75;
  want[255] = 324.25; // 0.5*40*17 - 15.75
  assert.deepEqual(decode(GgmlType.Q5_K, b, 256), want);
});

test("Q6_K: ql nibbles, qh crumbs, int8 scales per 16", () => {
  // Element e, h = e>>7, k = (e%128)>>5, l = e%32: low 4 bits = nibble k>>1 of ql[64h + 32(k&1) + l],
  // high 2 bits = bits 2k of qh[32h + l]; q = q6 - 32; x = 0.5 * scales[e>>4] * q.
  const b = block(210, { 208: H.half }, {
    [192 + 0]: 1, [192 + 3]: 0xfe /* -2 */, [192 + 9]: 127, [192 + 14]: 0x80 /* -128 */,
    0: 0x0f, [128 + 0]: 0x03, // element 0: q6 = 15 | 3 << 4 = 63
    50: 0x05, [128 + 18]: 0x08, // element 50 (k = 1, l = 18): q6 = 5 | 2 << 4 = 37
    [128 + 63]: 0x02, // element 159 (h = 1, k = 0, l = 31): q6 = 0 | 2 << 4 = 32
    96: 0xa0, [128 + 32]: 0x40, // element 224 (h = 1, k = 3, l = 0): q6 = 10 | 1 << 4 = 26
  });
  const want = filled(256, 0);
  for (let i = 0; i < 16; i++) want[i] = -16; // 0.5*1*(0 - 32)
  want[0] = 15.5; // 0.5*1*31
  for (let i = 48; i < 64; i++) want[i] = 32; // 0.5*-2*-32
  want[50] = -5; // 0.5*-2*5
  for (let i = 144; i < 160; i++) want[i] = -2032; // 0.5*127*-32
  want[159] = 0;
  for (let i = 224; i < 240; i++) want[i] = 2048; // 0.5*-128*-32
  want[224] = 384; // 0.5*-128*-6
  assert.deepEqual(decode(GgmlType.Q6_K, b, 256), want);
});

// ---- Random blocks against reference decoders in ggml's loop structure ---------------------------

function halfValue(h: number): number {
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  const s = h & 0x8000 ? -1 : 1;
  return e === 0 ? s * m * 2 ** -24 : s * (1 + m / 1024) * 2 ** (e - 15);
}
const int8 = (v: number): number => (v > 127 ? v - 256 : v);

type RefDecoder = (b: Uint8Array, y: number[]) => void;

const REF: [GgmlTypeT, number, number[], RefDecoder][] = [
  [GgmlType.Q2_K, 84, [80, 82], (b, y) => {
    const d = halfValue(b[80]! | (b[81]! << 8));
    const min = halfValue(b[82]! | (b[83]! << 8));
    let q = 16;
    let is = 0;
    for (let n = 0; n < 256; n += 128) {
      for (let shift = 0; shift < 8; shift += 2) {
        for (const off of [0, 16]) {
          const sc = b[is++]!;
          for (let l = 0; l < 16; l++) y.push(d * (sc & 15) * ((b[q + off + l]! >> shift) & 3) - min * (sc >> 4));
        }
      }
      q += 32;
    }
  }],
  [GgmlType.Q3_K, 110, [108], (b, y) => {
    const d = halfValue(b[108]! | (b[109]! << 8));
    const scales: number[] = [];
    for (let j = 0; j < 16; j++) {
      const low = j < 8 ? b[96 + j]! & 15 : b[96 + j - 8]! >> 4;
      scales.push((low | (((b[104 + (j % 4)]! >> (2 * Math.floor(j / 4))) & 3) << 4)) - 32);
    }
    let q = 32;
    let m = 1;
    let is = 0;
    for (let n = 0; n < 256; n += 128) {
      for (let shift = 0; shift < 8; shift += 2) {
        for (const off of [0, 16]) {
          const dl = d * scales[is++]!;
          for (let l = 0; l < 16; l++) y.push(dl * (((b[q + off + l]! >> shift) & 3) - (b[off + l]! & m ? 0 : 4)));
        }
        m <<= 1;
      }
      q += 32;
    }
  }],
  [GgmlType.Q4_K, 144, [0, 2], (b, y) => {
    const d = halfValue(b[0]! | (b[1]! << 8));
    const min = halfValue(b[2]! | (b[3]! << 8));
    const sm = (j: number): [number, number] => j < 4
      ? [b[4 + j]! & 63, b[4 + j + 4]! & 63]
      : [(b[4 + j + 4]! & 15) | ((b[4 + j - 4]! >> 6) << 4), (b[4 + j + 4]! >> 4) | ((b[4 + j]! >> 6) << 4)];
    for (let j = 0, q = 16; j < 8; j += 2, q += 32) {
      const [s1, m1] = sm(j);
      const [s2, m2] = sm(j + 1);
      for (let l = 0; l < 32; l++) y.push(d * s1 * (b[q + l]! & 15) - min * m1);
      for (let l = 0; l < 32; l++) y.push(d * s2 * (b[q + l]! >> 4) - min * m2);
    }
  }],
  [GgmlType.Q5_K, 176, [0, 2], (b, y) => {
    const d = halfValue(b[0]! | (b[1]! << 8));
    const min = halfValue(b[2]! | (b[3]! << 8));
    const sm = (j: number): [number, number] => j < 4
      ? [b[4 + j]! & 63, b[4 + j + 4]! & 63]
      : [(b[4 + j + 4]! & 15) | ((b[4 + j - 4]! >> 6) << 4), (b[4 + j + 4]! >> 4) | ((b[4 + j]! >> 6) << 4)];
    let u1 = 1;
    let u2 = 2;
    for (let j = 0, ql = 48; j < 8; j += 2, ql += 32) {
      const [s1, m1] = sm(j);
      const [s2, m2] = sm(j + 1);
      for (let l = 0; l < 32; l++) y.push(d * s1 * ((b[ql + l]! & 15) + (b[16 + l]! & u1 ? 16 : 0)) - min * m1);
      for (let l = 0; l < 32; l++) y.push(d * s2 * ((b[ql + l]! >> 4) + (b[16 + l]! & u2 ? 16 : 0)) - min * m2);
      u1 <<= 2;
      u2 <<= 2;
    }
  }],
  [GgmlType.Q6_K, 210, [208], (b, y) => {
    const d = halfValue(b[208]! | (b[209]! << 8));
    for (let n = 0, ql = 0, qh = 128, sc = 192; n < 256; n += 128, ql += 64, qh += 32, sc += 8) {
      const part = new Array<number>(128);
      for (let l = 0; l < 32; l++) {
        const is = Math.floor(l / 16);
        const h = b[qh + l]!;
        part[l] = d * int8(b[sc + is]!) * (((b[ql + l]! & 15) | ((h & 3) << 4)) - 32);
        part[l + 32] = d * int8(b[sc + is + 2]!) * (((b[ql + l + 32]! & 15) | (((h >> 2) & 3) << 4)) - 32);
        part[l + 64] = d * int8(b[sc + is + 4]!) * (((b[ql + l]! >> 4) | (((h >> 4) & 3) << 4)) - 32);
        part[l + 96] = d * int8(b[sc + is + 6]!) * (((b[ql + l + 32]! >> 4) | (((h >> 6) & 3) << 4)) - 32);
      }
      y.push(...part);
    }
  }],
];

test("K-quants: random blocks match ggml-structured reference decoders", () => {
  let seed = 99;
  const rand = (): number => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed >>> 24;
  };
  for (const [type, size, halfAt, ref] of REF) {
    const numBlocks = 3;
    const src = new Uint8Array(numBlocks * size);
    for (let i = 0; i < src.length; i++) src[i] = rand();
    for (let blk = 0; blk < numBlocks; blk++) {
      // Keep the fp16 scales finite and moderate: 0x2000..0x3fff (about 0.0078 .. 2), random sign.
      for (const at of halfAt) {
        src[blk * size + at + 1] = 0x20 + (src[blk * size + at + 1]! & 0x1f) + (rand() & 0x80);
      }
    }
    const want: number[] = [];
    for (let blk = 0; blk < numBlocks; blk++) ref(src.subarray(blk * size, (blk + 1) * size), want);
    const got = decode(type, src, 256 * numBlocks);
    // The references compute in float64; dequantize rounds each result to fp32.
    assert.deepEqual(got, want.map((v) => Math.fround(v) + 0), `type ${type}`);
  }
});

// ---- Multi-block, offsets, rows, errors ----------------------------------------------------------

test("several blocks, dstOffset, and dequantizeRow", () => {
  // Two Q8_0 blocks: d = 1 with qs = j, then d = 2 with qs = -j.
  const src = new Uint8Array(68);
  src.set(block(34, { 0: H.one }), 0);
  src.set(block(34, { 0: H.two }), 34);
  for (let j = 0; j < 32; j++) {
    src[2 + j] = j;
    src[36 + j] = -j & 0xff;
  }
  const out = new Float32Array(66).fill(9);
  dequantize(GgmlType.Q8_0, src, 64, out, 1);
  assert.equal(out[0], 9);
  assert.equal(out[65], 9);
  for (let j = 0; j < 32; j++) {
    assert.equal(out[1 + j], j);
    assert.equal(out[33 + j]! + 0, -2 * j + 0);
  }
  // Only the first block is decoded when n = 32.
  const first = new Float32Array(32);
  dequantize(GgmlType.Q8_0, src, 32, first);
  assert.equal(first[31], 31);

  // A [32 cols, 2 rows] weight: row 1 is the second block.
  const w: WeightTensor = { name: "w", type: GgmlType.Q8_0, dims: [32, 2], data: src };
  const row = new Float32Array(40);
  dequantizeRow(w, 1, row, 8);
  assert.equal(row[8 + 5], -10);
  assert.equal(row[7], 0);
  assert.throws(() => dequantizeRow(w, 2, row), RangeError);

  const wf: WeightTensor = { name: "wf", type: GgmlType.F32, dims: [2, 3], data: new Uint8Array(new Float32Array([1, 2, 3, 4, 5, 6]).buffer) };
  const r = new Float32Array(2);
  dequantizeRow(wf, 2, r);
  assert.deepEqual([...r], [5, 6]);
});

test("errors: unsupported types, bad lengths, short buffers", () => {
  const buf = new Uint8Array(1024);
  const out = new Float32Array(1024);
  for (const t of [GgmlType.Q8_1, GgmlType.Q8_K, GgmlType.IQ2_XXS, GgmlType.I32, GgmlType.MXFP4]) {
    assert.equal(canDequantize(t), false);
    assert.throws(() => dequantize(t, buf, 32, out), /not supported/);
  }
  assert.throws(() => dequantize(999 as GgmlTypeT, buf, 32, out), /unknown type 999.*not supported/);
  assert.throws(() => dequantize(GgmlType.Q4_0, buf, 33, out), /33 elements is not a multiple of the Q4_0 block size \(32\)/);
  assert.throws(() => dequantize(GgmlType.Q4_K, buf, 128, out), /Q4_K block size \(256\)/);
  assert.throws(() => dequantize(GgmlType.Q6_K, buf, 256 * 5, out), RangeError); // needs 1050 bytes
  assert.throws(() => dequantize(GgmlType.F32, buf, 16, new Float32Array(8)), RangeError);
  const w: WeightTensor = { name: "odd", type: GgmlType.Q4_0, dims: [48, 2], data: buf };
  assert.throws(() => dequantizeRow(w, 0, out), /odd.*48.*Q4_0 block size \(32\)/);
  for (const t of [0, 1, 30, 2, 3, 6, 7, 8, 10, 11, 12, 13, 14] as GgmlTypeT[]) assert.ok(canDequantize(t));
});
