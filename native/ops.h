// Op drivers: argument-checked entry points that pick a kernel table, split the work and run it on
// the thread pool. Callers (addon.cc) have validated shapes and bounds.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "fennec.h"

namespace fennec {

enum Isa : int { ISA_SCALAR = 0, ISA_AVX2 = 1, ISA_AVX512 = 2, ISA_COUNT = 3 };

// The kernel table for `isa`, or null if this CPU (or this build) cannot run it.
const KernelTable* kernel_table(int isa);
// The best ISA this CPU supports.
int best_isa();
const char* isa_name(int isa);

void op_matmul(const KernelTable* kt, int nth, int type, const uint8_t* w, int64_t rows, int64_t cols,
               const float* x, int64_t n, float* out);
// Several weights with the same row length over the same activations, as one job (fused q/k/v or
// gate/up): out_i[n, rows_i] = x[n, cols] . W_i^T.
struct MatmulSpec {
  int type;
  const uint8_t* w;
  int64_t rows;
  float* out;
};
constexpr int kMaxMatmulMany = 8;
void op_matmul_many(const KernelTable* kt, int nth, int count, const MatmulSpec* specs, const float* x, int64_t n,
                    int64_t cols);
void op_get_rows(const KernelTable* kt, int nth, int type, const uint8_t* w, int64_t cols,
                 const int32_t* ids, int64_t n, float* out);
// (pack.cc) Rows [rows, cols] of x16_base(packed) (rows a multiple of kPackRows) rewritten in place
// as the packed type, and one row of a packed weight gathered back into the base type's layout
// (rowBytes bytes at dst).
void pack_x16(int packed, uint8_t* w, int64_t rows, int64_t cols);
void unpack_x16_row(int packed, const uint8_t* w, size_t rowBytes, int64_t row, uint8_t* dst);
void op_rms_norm(const KernelTable* kt, int nth, const float* x, const float* w, int64_t n, int64_t dim,
                 float eps, float* out);
void op_rope(const KernelTable* kt, int nth, float* x, int64_t n, int numHeads, int headDim, int ropeDim,
             const int32_t* positions, const float* invFreq, int neox);

// One sequence of an attention batch (see AttentionSeq in backend.ts).
struct SeqDesc {
  int64_t queryStart;
  int64_t queryLen;
  int64_t contextLen;
  const int32_t* blockTable;
};
struct AttnArgs {
  const float* q;
  float* out;
  const uint8_t* k;  // cache rows of kvType (see AttnItem)
  const uint8_t* v;
  int kvType;
  int numHeads, numKvHeads, headDim, blockSize;
  float scale;
  const SeqDesc* seqs;
  int64_t numSeqs;
};
void op_attention(const KernelTable* kt, int nth, const AttnArgs& a);

// Row t of k and v ([n, kvDim] fp32) to cache slot slots[t] of kc / vc, as rows of kvType.
void op_store_kv(const KernelTable* kt, int nth, int kvType, uint8_t* kc, uint8_t* vc, const float* k, const float* v,
                 int64_t n, int64_t kvDim, const int32_t* slots);

void op_silu_mul(const KernelTable* kt, int nth, const float* g, const float* u, int64_t n, float* out);
void op_add(const KernelTable* kt, int nth, const float* a, const float* b, int64_t n, float* out);
// Per row of x [n, dim]: max[t] and argmax[t] (KernelTable::scan_row), rows spread over the threads.
void op_scan_rows(const KernelTable* kt, int nth, const float* x, int64_t n, int64_t dim, float* max, int32_t* argmax);
void op_add_bias(const KernelTable* kt, int nth, float* x, const float* bias, int64_t n, int64_t dim);

// Seconds for one parallel read of p[0, n) (p 64-aligned, n a multiple of 64 * nth).
double op_stream_read(const KernelTable* kt, int nth, const uint8_t* p, size_t n);
// Operations per second over `nth` threads running a register-resident loop (KernelTable::peak_loop).
double op_peak(const KernelTable* kt, int nth, int kind, int64_t iters);

}  // namespace fennec
