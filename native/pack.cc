// Load-time packing: a weight's rows interleaved by 16 into the layouts of fennec.h (T_*_X16), in
// place, and one row gathered back into the file's layout (getRows of a packed embedding). Pure
// byte shuffling, scalar: it runs once per weight at load (~1 GB/s), and unpacking a row undoes
// packing it exactly (the tests compare bytes).
#include <string.h>

#include <vector>

#include "fennec.h"
#include "ops.h"

namespace fennec {
namespace {

inline uint32_t rd32(const uint8_t* p) { uint32_t v; memcpy(&v, p, 4); return v; }
inline void wr32(uint8_t* p, uint32_t v) { memcpy(p, &v, 4); }

// ---- Q6_K: ql[128], qh[64], scales[16] (int8), d (f16); element e's 6-bit value q (0..63) is
// (ql nibble) | (qh 2 bits) << 4, laid out as in ggml's dequantize_row_q6_K.

constexpr size_t kQ6Ql = 0, kQ6Qh = 128, kQ6Scales = 192, kQ6D = 208;

void q6k_values(const uint8_t* blk, uint8_t q[256]) {
  for (int h = 0; h < 2; h++) {
    const uint8_t* ql = blk + kQ6Ql + 64 * h;
    const uint8_t* qh = blk + kQ6Qh + 32 * h;
    uint8_t* y = q + 128 * h;
    for (int l = 0; l < 32; l++) {
      y[l] = (uint8_t)((ql[l] & 15) | ((qh[l] & 3) << 4));
      y[l + 32] = (uint8_t)((ql[l + 32] & 15) | (((qh[l] >> 2) & 3) << 4));
      y[l + 64] = (uint8_t)((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4));
      y[l + 96] = (uint8_t)((ql[l + 32] >> 4) | ((qh[l] >> 6) << 4));
    }
  }
}

void q6k_store_values(const uint8_t q[256], uint8_t* blk) {
  for (int h = 0; h < 2; h++) {
    uint8_t* ql = blk + kQ6Ql + 64 * h;
    uint8_t* qh = blk + kQ6Qh + 32 * h;
    const uint8_t* y = q + 128 * h;
    for (int l = 0; l < 32; l++) {
      ql[l] = (uint8_t)((y[l] & 15) | ((y[l + 64] & 15) << 4));
      ql[l + 32] = (uint8_t)((y[l + 32] & 15) | ((y[l + 96] & 15) << 4));
      qh[l] = (uint8_t)((y[l] >> 4) | ((y[l + 32] >> 4) << 2) | ((y[l + 64] >> 4) << 4) | ((y[l + 96] >> 4) << 6));
    }
  }
}

// ---- Q5_0: d (f16), qh (u32, bit j: the high bit of element j), qs[16] (low nibble element j,
// high nibble element j + 16).

void q5_0_values(const uint8_t* blk, uint8_t q[32]) {
  const uint32_t qh = rd32(blk + 2);
  for (int j = 0; j < 16; j++) {
    q[j] = (uint8_t)((blk[6 + j] & 15) | (((qh >> j) & 1) << 4));
    q[j + 16] = (uint8_t)((blk[6 + j] >> 4) | (((qh >> (j + 16)) & 1) << 4));
  }
}

void q5_0_store_values(const uint8_t q[32], uint8_t* blk) {
  uint32_t qh = 0;
  for (int j = 0; j < 32; j++) qh |= (uint32_t)(q[j] >> 4) << j;
  wr32(blk + 2, qh);
  for (int j = 0; j < 16; j++) blk[6 + j] = (uint8_t)((q[j] & 15) | ((q[j + 16] & 15) << 4));
}

// ---- one packed block from the 16 rows' blocks src[r], and row r's block back out of it

void pack_block(int packed, const uint8_t* const src[kPackRows], uint8_t* o) {
  switch (packed) {
    case T_Q8_0_X16:
      for (int r = 0; r < kPackRows; r++) {
        memcpy(o + x16_scale_at(r), src[r], 2);
        for (int g = 0; g < 8; g++) wr32(o + x16_quad_at(g, r), rd32(src[r] + 2 + 4 * g) ^ 0x80808080u);  // s8 -> u8 (q + 128)
      }
      return;
    case T_Q4_K_X16:
      for (int r = 0; r < kPackRows; r++) {
        memcpy(o + x16k4_d_at(r), src[r], 2);
        memcpy(o + x16k4_dmin_at(r), src[r] + 2, 2);
        for (int k = 0; k < 12; k++) o[x16k4_scale_at(k, r)] = src[r][4 + k];
        for (int q = 0; q < 32; q++) memcpy(o + x16k4_quad_at(q, r), src[r] + 16 + 4 * q, 4);
      }
      return;
    case T_Q6_K_X16:
      for (int r = 0; r < kPackRows; r++) {
        uint8_t q[256];
        q6k_values(src[r], q);
        memcpy(o + x16k6_d_at(r), src[r] + kQ6D, 2);
        for (int k = 0; k < 16; k++) {
          o[x16k6_scale_at(k, r)] = src[r][kQ6Scales + k];
          const uint8_t* e = q + 16 * k;
          for (int i = 0; i < 4; i++) {
            for (int c = 0; c < 2; c++) o[x16k6_low_at(k, c, r) + i] = (uint8_t)((e[8 * c + i] & 15) | ((e[8 * c + 4 + i] & 15) << 4));
            o[x16k6_high_at(k, r) + i] =
                (uint8_t)((e[i] >> 4) | ((e[4 + i] >> 4) << 2) | ((e[8 + i] >> 4) << 4) | ((e[12 + i] >> 4) << 6));
          }
        }
      }
      return;
    case T_Q5_0_X16: {
      uint64_t masks[8] = {};
      for (int r = 0; r < kPackRows; r++) {
        uint8_t q[32];
        q5_0_values(src[r], q);
        memcpy(o + x16q5_d_at(r), src[r], 2);
        for (int g = 0; g < 8; g++)
          for (int i = 0; i < 4; i++) masks[g] |= (uint64_t)(q[4 * g + i] >> 4) << (4 * r + i);
        for (int c = 0; c < 4; c++)
          for (int i = 0; i < 4; i++) o[x16q5_low_at(c, r) + i] = (uint8_t)((q[4 * c + i] & 15) | ((q[16 + 4 * c + i] & 15) << 4));
      }
      for (int g = 0; g < 8; g++) memcpy(o + x16q5_mask_at(g), &masks[g], 8);
      return;
    }
  }
}

void unpack_block(int packed, const uint8_t* o, int r, uint8_t* dst) {
  switch (packed) {
    case T_Q8_0_X16:
      memcpy(dst, o + x16_scale_at(r), 2);
      for (int g = 0; g < 8; g++) wr32(dst + 2 + 4 * g, rd32(o + x16_quad_at(g, r)) ^ 0x80808080u);
      return;
    case T_Q4_K_X16:
      memcpy(dst, o + x16k4_d_at(r), 2);
      memcpy(dst + 2, o + x16k4_dmin_at(r), 2);
      for (int k = 0; k < 12; k++) dst[4 + k] = o[x16k4_scale_at(k, r)];
      for (int q = 0; q < 32; q++) memcpy(dst + 16 + 4 * q, o + x16k4_quad_at(q, r), 4);
      return;
    case T_Q6_K_X16: {
      uint8_t q[256];
      for (int k = 0; k < 16; k++) {
        dst[kQ6Scales + k] = o[x16k6_scale_at(k, r)];
        uint8_t* e = q + 16 * k;
        for (int i = 0; i < 4; i++) {
          const uint8_t h = o[x16k6_high_at(k, r) + i];
          for (int c = 0; c < 2; c++) {
            const uint8_t l = o[x16k6_low_at(k, c, r) + i];
            e[8 * c + i] = (uint8_t)((l & 15) | (((h >> (4 * c)) & 3) << 4));
            e[8 * c + 4 + i] = (uint8_t)((l >> 4) | (((h >> (4 * c + 2)) & 3) << 4));
          }
        }
      }
      q6k_store_values(q, dst);
      memcpy(dst + kQ6D, o + x16k6_d_at(r), 2);
      return;
    }
    case T_Q5_0_X16: {
      uint8_t q[32];
      for (int g = 0; g < 8; g++) {
        uint64_t m;
        memcpy(&m, o + x16q5_mask_at(g), 8);
        for (int i = 0; i < 4; i++) q[4 * g + i] = (uint8_t)(((m >> (4 * r + i)) & 1) << 4);
      }
      for (int c = 0; c < 4; c++)
        for (int i = 0; i < 4; i++) {
          const uint8_t l = o[x16q5_low_at(c, r) + i];
          q[4 * c + i] |= l & 15;
          q[16 + 4 * c + i] |= l >> 4;
        }
      memcpy(dst, o + x16q5_d_at(r), 2);
      q5_0_store_values(q, dst);
      return;
    }
  }
}

}  // namespace

void pack_x16(int packed, uint8_t* w, int64_t rows, int64_t cols) {
  const int base = x16_base(packed);
  const TypeInfo ti = type_info(base);
  const size_t rowBytes = row_bytes(base, cols), blockBytes = x16_block_bytes(base);
  const int64_t nb = cols / ti.blockSize;
  std::vector<uint8_t> tile((size_t)kPackRows * rowBytes);
  for (int64_t r0 = 0; r0 < rows; r0 += kPackRows) {
    uint8_t* dst = w + (size_t)r0 * rowBytes;
    memcpy(tile.data(), dst, tile.size());
    for (int64_t b = 0; b < nb; b++) {
      const uint8_t* src[kPackRows];
      for (int r = 0; r < kPackRows; r++) src[r] = tile.data() + (size_t)r * rowBytes + (size_t)b * (size_t)ti.typeSize;
      pack_block(packed, src, dst + (size_t)b * blockBytes);
    }
  }
}

void unpack_x16_row(int packed, const uint8_t* w, size_t rowBytes, int64_t row, uint8_t* dst) {
  const int base = x16_base(packed);
  const TypeInfo ti = type_info(base);
  const size_t blockBytes = x16_block_bytes(base);
  const int64_t nb = (int64_t)(rowBytes / (size_t)ti.typeSize);
  const uint8_t* tile = w + (size_t)(row / kPackRows) * kPackRows * rowBytes;
  const int r = (int)(row % kPackRows);
  for (int64_t b = 0; b < nb; b++) unpack_block(packed, tile + (size_t)b * blockBytes, r, dst + (size_t)b * (size_t)ti.typeSize);
}

}  // namespace fennec
