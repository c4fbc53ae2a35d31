// Fennec native kernels: shared types. Everything here is POD or `static inline`, because this
// header is included by translation units compiled with different ISA flags (scalar, AVX2,
// AVX-512): a non-static inline function would be one ODR symbol and the linker could pick the
// AVX-512 copy for the scalar path.
#pragma once
#include <stddef.h>
#include <stdint.h>

namespace fennec {

// ggml tensor types handled natively (numbers are ggml's enum ggml_type).
enum GgmlType : int {
  T_F32 = 0, T_F16 = 1, T_Q4_0 = 2, T_Q4_1 = 3, T_Q5_0 = 6, T_Q5_1 = 7, T_Q8_0 = 8,
  T_Q2_K = 10, T_Q3_K = 11, T_Q4_K = 12, T_Q5_K = 13, T_Q6_K = 14, T_BF16 = 30,
  // Fennec's own (not ggml's): a type's rows interleaved by 16 at load (native/pack.cc), for the
  // AVX-512 VNNI kernels of x86_packed.inc, whose zmm lanes are the 16 rows of a tile. A packed
  // block (one block of the base type for all 16 rows of a tile) is exactly 16 base blocks long, so
  // packing rewrites a weight in place and row r of a tile still starts at tile * 16 * rowBytes.
  // Layouts below (x16_*_at): byte offsets in one packed block.
  T_Q8_0_X16 = 48,
  T_Q4_K_X16 = 49,
  T_Q6_K_X16 = 50,
  T_Q5_0_X16 = 51,
};
constexpr int kMaxType = 52;
constexpr int kPackRows = 16;  // rows per tile of a packed type

// The packed type of a ggml type (-1: none), and the ggml type a packed one holds (-1: not packed).
static inline int x16_of(int type) {
  switch (type) {
    case T_Q8_0: return T_Q8_0_X16;
    case T_Q4_K: return T_Q4_K_X16;
    case T_Q6_K: return T_Q6_K_X16;
    case T_Q5_0: return T_Q5_0_X16;
    default: return -1;
  }
}
static inline int x16_base(int type) {
  switch (type) {
    case T_Q8_0_X16: return T_Q8_0;
    case T_Q4_K_X16: return T_Q4_K;
    case T_Q6_K_X16: return T_Q6_K;
    case T_Q5_0_X16: return T_Q5_0;
    default: return -1;
  }
}

// T_Q8_0_X16, per block of 32 (544 bytes): the 16 rows' f16 scales, then for each group g of 4
// elements (4g..4g+3) the 16 rows' 4 values as u8 (q + 128): one 64-byte vpdpbusd operand per group.
static inline size_t x16_scale_at(int r) { return 2 * (size_t)r; }
static inline size_t x16_quad_at(int g, int r) { return 32 + 64 * (size_t)g + 4 * (size_t)r; }

// T_Q4_K_X16, per super-block of 256 (2304 bytes): the 16 rows' f16 d, then their f16 dmin, then
// the 12 bytes of 6-bit scales / mins as planes (plane k: the 16 rows' byte k), then the 32 quads
// of 4 bytes of qs as in the GGUF block (quad q: bytes 4q..4q+3, low nibbles elements 64(q/8) +
// 4(q%8) + 0..3 of sub-block 2(q/8), high nibbles the same 32 further, sub-block 2(q/8)+1), each for
// the 16 rows: one 64-byte load gives a group of 4 elements of two sub-blocks.
static inline size_t x16k4_d_at(int r) { return 2 * (size_t)r; }
static inline size_t x16k4_dmin_at(int r) { return 32 + 2 * (size_t)r; }
static inline size_t x16k4_scale_at(int k, int r) { return 64 + 16 * (size_t)k + (size_t)r; }
static inline size_t x16k4_quad_at(int q, int r) { return 256 + 64 * (size_t)q + 4 * (size_t)r; }

// T_Q6_K_X16, per super-block of 256 (3360 bytes): the 16 rows' f16 d, the 16 int8 scales as
// planes (plane k: the 16 rows' scale of elements 16k..16k+15), then per sub-block k of 16
// elements 192 bytes: two 64-byte chunks of low 4 bits (chunk c, byte 4r + i: low nibble element
// 16k + 8c + i, high nibble element 16k + 8c + 4 + i) and one of high 2 bits (byte 4r + i, bits
// 2m..2m+1: element 16k + 4m + i). Three loads give a sub-block's 4 groups of 4 elements.
static inline size_t x16k6_d_at(int r) { return 2 * (size_t)r; }
static inline size_t x16k6_scale_at(int k, int r) { return 32 + 16 * (size_t)k + (size_t)r; }
static inline size_t x16k6_low_at(int k, int c, int r) { return 288 + 192 * (size_t)k + 64 * (size_t)c + 4 * (size_t)r; }
static inline size_t x16k6_high_at(int k, int r) { return 288 + 192 * (size_t)k + 128 + 4 * (size_t)r; }

// T_Q5_0_X16, per block of 32 (352 bytes): the 16 rows' f16 d, then for each group g of 4
// elements a 64-bit mask (bit 4r + i: the high bit of element 4g + i of row r, a byte mask of the
// group's zmm), then 4 chunks of 64 bytes of low 4 bits (chunk c, byte 4r + i: low nibble element
// 4c + i, high nibble element 16 + 4c + i: groups c and c + 4).
static inline size_t x16q5_d_at(int r) { return 2 * (size_t)r; }
static inline size_t x16q5_mask_at(int g) { return 32 + 8 * (size_t)g; }
static inline size_t x16q5_low_at(int c, int r) { return 96 + 64 * (size_t)c + 4 * (size_t)r; }

struct TypeInfo { int blockSize; int typeSize; };
// {0, 0} for types the native backend does not handle.
static constexpr TypeInfo type_info(int type) {
  switch (type) {
    case T_F32: return {1, 4};
    case T_F16: return {1, 2};
    case T_BF16: return {1, 2};
    case T_Q4_0: return {32, 18};
    case T_Q4_1: return {32, 20};
    case T_Q5_0: return {32, 22};
    case T_Q5_1: return {32, 24};
    case T_Q8_0: return {32, 34};
    case T_Q8_0_X16: return {32, 34};
    case T_Q5_0_X16: return {32, 22};
    case T_Q4_K_X16: return {256, 144};
    case T_Q6_K_X16: return {256, 210};
    case T_Q2_K: return {256, 84};
    case T_Q3_K: return {256, 110};
    case T_Q4_K: return {256, 144};
    case T_Q5_K: return {256, 176};
    case T_Q6_K: return {256, 210};
    default: return {0, 0};
  }
}

// Bytes of one packed block (a block of the base type for the 16 rows of a tile).
static constexpr size_t x16_block_bytes(int type) { return (size_t)kPackRows * (size_t)type_info(type).typeSize; }

// Bytes of a row of n values of `type` (n a multiple of its block size).
static inline size_t row_bytes(int type, int64_t n) {
  const TypeInfo ti = type_info(type);
  return (size_t)(n / ti.blockSize) * (size_t)ti.typeSize;
}

// How a weight type wants its activations for matmul.
enum ActFormat : int {
  ACT_F32 = 0,  // fp32 rows as given (F32/F16/BF16 weights, and the dequantize-then-dot path)
  ACT_Q8 = 1,   // ActQ8 blocks of 32 (legacy quants: Q4_0, Q4_1, Q5_0, Q5_1, Q8_0)
  ACT_Q8K = 2,  // ActQ8K blocks of 256 (K-quants)
  ACT_Q8X16 = 3,   // ActQ8x16: 16 tokens interleaved (batched GEMM of legacy quants)
  ACT_Q8KX16 = 4,  // ActQ8Kx16: 16 tokens interleaved (batched GEMM of K-quants)
};
constexpr int kActFormats = 5;

// One activation block of 32, quantized symmetric to int8: x[i] ~ d * qs[i], qs in [-127, 127].
// s = d * sum(qs), sum = sum(qs) (both used to fold the weights' offsets / mins out of the int dot);
// sum128 = -128 * sum, the start of a dot against u8 weights q + 128 (T_Q8_0_X16).
struct ActQ8 {
  float d;
  float s;
  int32_t sum;
  int32_t sum128;
  int8_t qs[32];
};
static_assert(sizeof(ActQ8) == 48, "ActQ8 layout");

// One activation super-block of 256 (ggml's Q8_K): x[i] ~ d * qs[i]; bsums[j] = sum of qs[16j..16j+15].
// off6[j] = -32 * bsums[j]: the start of sub-block j's dot against T_Q6_K_X16's u8 weights q, which
// folds their offset (q - 32) into the dot, so a packed Q6_K tile needs no per-token offset pass.
struct ActQ8K {
  float d;
  int32_t pad[3];
  int8_t qs[256];
  int16_t bsums[16];
  int32_t off6[16];
};
static_assert(sizeof(ActQ8K) == 368, "ActQ8K layout");

// 16 tokens' activation blocks of 32 (quantized as ActQ8), interleaved for the batched int8 GEMM
// (AVX-512): qs[g][t] holds elements 4g..4g+3 of token t as u8 (q + 128), so each 64-byte row is
// one vpdpbusd operand with one token per 32-bit lane. d and s as in ActQ8; all zero (qs 128) for
// padding lanes past the last token. A row of `cols` is cols / 32 consecutive ActQ8x16.
struct ActQ8x16 {
  uint8_t qs[8][16][4];
  float d[16];
  float s[16];
};
static_assert(sizeof(ActQ8x16) == 640, "ActQ8x16 layout");

// 16 tokens' activation super-blocks of 256 (quantized as ActQ8K), interleaved as ActQ8x16: qs[g][t]
// = elements 4g..4g+3 of token t as u8 (q + 128); bs[p][t] = the sums of token t's q over the
// 32-element sub-blocks 2p and 2p+1 (int16 pairs, for the K-quants' mins).
struct ActQ8Kx16 {
  uint8_t qs[64][16][4];
  float d[16];
  int16_t bs[4][16][2];
};
static_assert(sizeof(ActQ8Kx16) == 4416, "ActQ8Kx16 layout");

// A register-tiled matmul kernel: out[t * ldo + r] = dot(weight row r, activation row t) for
// r < R, t < T. `w` points at row 0 of the tile (rows are wStride bytes apart); `x` at token 0's
// activation row (xStride bytes apart, in the type's ActFormat); `cols` is the row length.
typedef void (*TileFn)(const uint8_t* w, size_t wStride, const void* x, size_t xStride, int64_t cols,
                       float* out, size_t ldo, int R, int T);

// Batched matmul over T tokens of ActQ8x16 groups (xStride bytes from one group of 16 tokens to
// the next): out[t * ldo + r] for r < R (<= MatmulKernel::gemmR), t < T. `scratch` holds
// gemm_scratch_bytes(cols) bytes, private to the calling thread.
typedef void (*GemmFn)(const uint8_t* w, size_t wStride, int R, const void* x, size_t xStride, int T, int64_t cols,
                       float* out, size_t ldo, void* scratch);
constexpr int kMaxGemmR = 8;
// Legacy: 48 bytes per row and block of 32; K-quants: 448 per row and super-block of 256.
static inline size_t gemm_scratch_bytes(int64_t cols) { return (size_t)cols * kMaxGemmR * 2 + 64; }

struct MatmulKernel {
  TileFn fn;          // null: this type is not handled by this ISA table (the caller falls back)
  int act;            // ActFormat
  int maxR1;          // rows per tile when T == 1 (decode)
  int maxR, maxT;     // tile shape for T > 1 (prefill)
  GemmFn gemm = nullptr;  // batched path for n >= gemmMinN tokens (gemmAct activations), or null
  int gemmAct = 0;
  int gemmR = 0;
  int gemmMinN = 0;
};

// Attention of one token's `numQ` query heads over keys [keyBegin, keyEnd) of its sequence
// (causal: keyEnd = the query's position + 1 when the item covers the whole context). Query head
// h reads kv head h / groupSize (GQA). The cache stores each slot as one row of kvDim values of
// type kvType (T_F32, T_F16 or T_Q8_0; Q8_0 blocks never straddle heads): kv head g of slot s
// starts at byte s * rowBytes + g * headBytes. Rows are converted to fp32 as they are read.
struct AttnItem {
  const float* q;          // [numQ, headDim] (heads contiguous)
  float* out;              // [numQ, headDim], written when partial is null
  // Split-K (flash-decoding) part of a longer context: write the unnormalized state
  // [numQ * headDim output sums | numQ running maxima | numQ exp-sums] here instead of `out`.
  float* partial;
  int numQ;
  int groupSize;
  int keyBegin, keyEnd;
  const int32_t* blockTable;
  int blockSize;
  const uint8_t* k;        // cache base
  const uint8_t* v;
  int kvType;
  size_t rowBytes;         // bytes of one slot (all kv heads)
  size_t headBytes;        // bytes of one kv head's slice of a slot
  int64_t kvDim;
  int headDim;
  float scale;
};

// KV-cache storage types (KvDtype in src/backend/kv-dtype.ts).
static inline bool kv_type_ok(int type) { return type == T_F32 || type == T_F16 || type == T_Q8_0; }

struct KernelTable {
  const char* name;
  MatmulKernel mm[kMaxType];
  void (*quantize_q8)(const float* x, ActQ8* y, int64_t cols);
  void (*quantize_q8k)(const float* x, ActQ8K* y, int64_t cols);
  // Blocks [b0, b1) of a group of 16 tokens (rows of x, ldx floats apart; lanes >= ntok are
  // padding) into its ActQ8x16 / ActQ8Kx16 row y (indexed from block 0). Null in tables without a gemm.
  void (*quantize_q8x16)(const float* x, int64_t ldx, int ntok, ActQ8x16* y, int64_t b0, int64_t b1);
  void (*quantize_q8kx16)(const float* x, int64_t ldx, int ntok, ActQ8Kx16* y, int64_t b0, int64_t b1);
  // Dequantize n elements (a multiple of the block size) of `type` starting at a block boundary.
  void (*dequant)(int type, const uint8_t* src, float* dst, int64_t n);
  void (*rms_norm)(const float* x, const float* w, int64_t dim, float eps, float* out);
  void (*silu_mul)(const float* g, const float* u, int64_t n, float* out);
  void (*add)(const float* a, const float* b, int64_t n, float* out);
  // One logits row for the sampler: its max and the lowest index holding it; argmax -1 when the
  // row has a NaN or +Inf or no value above -Inf (what the sampler refuses).
  void (*scan_row)(const float* x, int64_t n, float* max, int32_t* argmax);
  // Rotate one token's numHeads heads by the precomputed cos/sin tables (ropeDim/2 entries each).
  void (*rope_token)(float* x, int numHeads, int headDim, int ropeDim, const float* cs, const float* sn, int neox);
  void (*attention)(const AttnItem* item, float* scratch);
  // Converts n fp32 values (n a multiple of 32 for Q8_0) to one KV-cache row of `type` (T_F32,
  // T_F16: round to nearest even, T_Q8_0: ggml's reference quantizer, as src/quant/quantize.ts).
  void (*kv_store_row)(int type, const float* x, uint8_t* dst, int64_t n);
  // Sums n bytes (n multiple of 64, p 64-aligned) as 64-bit words: a streaming read for bandwidth.
  uint64_t (*stream_read)(const uint8_t* p, size_t n);
  // Runs a register-resident loop of fp32 FMAs (kind 0) or int8 dots (kind 1: vpdpbusd, or
  // vpmaddubsw + vpmaddwd) on 256-bit vectors, or on 512-bit ones (kinds 2, 3; AVX-512 table only);
  // returns the operations performed (2 per multiply-add), 0 if this table lacks the kind.
  double (*peak_loop)(int kind, int64_t iters);
};

// Per-ISA tables (defined in kernels_*.cc; the x86 ones only on x86-64).
void fill_kernels_scalar(KernelTable* t);
#if defined(__x86_64__) || defined(_M_X64)
void fill_kernels_avx2(KernelTable* t);
void fill_kernels_avx512(KernelTable* t);
#endif

// Scratch floats needed by KernelTable::attention for `numQ` query heads over `numKv` kv heads:
// output sums, a chunk of scores (<= 64 keys) and the running max / sum per head, plus the packed
// (or, for f16 / q8_0 caches, converted) K and V rows of one chunk.
static inline size_t attn_scratch_floats(int numQ, int numKv, int headDim) {
  return (size_t)numQ * (size_t)headDim + (size_t)numQ * 66 + 2 * (size_t)numKv * 64 * (size_t)headDim + 64;
}

}  // namespace fennec
