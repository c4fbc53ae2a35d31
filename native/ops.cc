// Op drivers: ISA selection, work splitting, scratch buffers.
#include "ops.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <vector>

#include "pool.h"

#if defined(__x86_64__) || defined(_M_X64)
#include <cpuid.h>
#define FENNEC_X86 1
#else
#define FENNEC_X86 0
#endif

namespace fennec {
namespace {

struct Tables {
  KernelTable t[ISA_COUNT];
  bool ok[ISA_COUNT];
  int best;
};

#if FENNEC_X86
bool cpu_has_f16c() {
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return false;
  return (c & (1u << 29)) != 0;
}
#endif

Tables* make_tables() {
  Tables* s = new Tables();
  fill_kernels_scalar(&s->t[ISA_SCALAR]);
  s->ok[ISA_SCALAR] = true;
  s->ok[ISA_AVX2] = s->ok[ISA_AVX512] = false;
  s->best = ISA_SCALAR;
#if FENNEC_X86
  __builtin_cpu_init();
  // __builtin_cpu_supports also checks that the OS saves the AVX / AVX-512 register state.
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && cpu_has_f16c();
  const bool avx512 = avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
                      __builtin_cpu_supports("avx512vnni");
  if (avx2) {
    fill_kernels_avx2(&s->t[ISA_AVX2]);
    s->ok[ISA_AVX2] = true;
    s->best = ISA_AVX2;
  }
  if (avx512) {
    fill_kernels_avx512(&s->t[ISA_AVX512]);
    s->ok[ISA_AVX512] = true;
    s->best = ISA_AVX512;
  }
#endif
  return s;
}

Tables* tables() {
  static Tables* s = make_tables();  // thread-safe init; never freed
  return s;
}

// Growable 64-byte-aligned scratch owned by the calling (JS) thread; pool workers only read it
// during the job. One per purpose so a buffer is never reused while still in use.
struct Scratch {
  void* p = nullptr;
  size_t cap = 0;
  void* get(size_t bytes) {
    if (bytes > cap) {
      free(p);
      cap = (bytes + 4095) & ~(size_t)4095;
      p = aligned_alloc(64, cap);
      if (!p) abort();
    }
    return p;
  }
};
thread_local Scratch g_act, g_actk, g_act16, g_actk16, g_gemm, g_attn;

inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// ---- matmul
//
// One job runs one or several weights over the same activations (matmul_many: the q/k/v or
// gate/up projections of a layer): the activations are quantized once per format, and every
// weight's work items go to the pool together, so a layer pays one dispatch and one end-of-job
// wait instead of three. A weight is planned on its own: the register tiles (MatmulKernel::fn,
// work items of rows x tokens) or the batched GEMM (MatmulKernel::gemm, 16-token groups).

struct QuantJob {
  const KernelTable* kt;
  int act;
  const float* x;
  int64_t n, cols;
  uint8_t* dst;
  size_t stride;
};

void quantize_rows(const QuantJob* j, int64_t t0, int64_t t1) {
  for (int64_t t = t0; t < t1; t++) {
    const float* xr = j->x + t * j->cols;
    uint8_t* d = j->dst + (size_t)t * j->stride;
    if (j->act == ACT_Q8) j->kt->quantize_q8(xr, (ActQ8*)d, j->cols);
    else j->kt->quantize_q8k(xr, (ActQ8K*)d, j->cols);
  }
}

void quant_task(void* arg, int64_t t, int) { quantize_rows((const QuantJob*)arg, t, t + 1); }

// 16-token layouts: an item is a range of blocks of one group, so each thread writes whole cache
// lines (per-token items made the threads share every line of a group: slower on 2 threads than 1).
struct X16Job {
  QuantJob q;
  int64_t chunks, chunkBlocks, nb;
};
void x16_task(void* arg, int64_t item, int) {
  const X16Job* j = (const X16Job*)arg;
  const int64_t g = item / j->chunks, c = item % j->chunks;
  const int64_t b0 = c * j->chunkBlocks, b1 = std::min(j->nb, b0 + j->chunkBlocks);
  if (b0 >= b1) return;
  const QuantJob& q = j->q;
  const float* x = q.x + g * 16 * q.cols;
  const int ntok = (int)std::min<int64_t>(16, q.n - g * 16);
  uint8_t* group = q.dst + (size_t)g * q.stride;
  if (q.act == ACT_Q8X16) q.kt->quantize_q8x16(x, q.cols, ntok, (ActQ8x16*)group, b0, b1);
  else q.kt->quantize_q8kx16(x, q.cols, ntok, (ActQ8Kx16*)group, b0, b1);
}


// The activations in each format, quantized on first use.
struct Acts {
  const KernelTable* kt;
  int nth;
  const float* x;
  int64_t n, cols;
  const uint8_t* buf[kActFormats] = {};
  size_t stride[kActFormats] = {};

  void get(int fmt, const uint8_t** p, size_t* st) {
    if (!buf[fmt]) {
      if (fmt == ACT_F32) {
        buf[fmt] = (const uint8_t*)x;
        stride[fmt] = (size_t)cols * sizeof(float);
      } else if (fmt == ACT_Q8X16 || fmt == ACT_Q8KX16) {
        const int64_t groups = (n + 15) / 16;
        stride[fmt] = fmt == ACT_Q8X16 ? (size_t)(cols / 32) * sizeof(ActQ8x16) : (size_t)(cols / 256) * sizeof(ActQ8Kx16);
        uint8_t* b = (uint8_t*)(fmt == ACT_Q8X16 ? g_act16 : g_actk16).get(stride[fmt] * (size_t)groups);
        X16Job q{{kt, fmt, x, n, cols, b, stride[fmt]}, 1, 0, cols / (fmt == ACT_Q8X16 ? 32 : 256)};
        // ~2 items per thread, of at least 8 blocks.
        q.chunks = std::max<int64_t>(1, std::min<int64_t>(ceil_div(2 * (int64_t)nth, groups), q.nb / 8));
        q.chunkBlocks = ceil_div(q.nb, q.chunks);
        pool_for(nth, groups * q.chunks, x16_task, &q);
        buf[fmt] = b;
      } else {
        stride[fmt] = fmt == ACT_Q8 ? (size_t)(cols / 32) * sizeof(ActQ8) : (size_t)(cols / 256) * sizeof(ActQ8K);
        uint8_t* b = (uint8_t*)(fmt == ACT_Q8 ? g_act : g_actk).get(stride[fmt] * (size_t)n);
        QuantJob q{kt, fmt, x, n, cols, b, stride[fmt]};
        if (n >= 4) pool_for(nth, n, quant_task, &q);
        else quantize_rows(&q, 0, n);
        buf[fmt] = b;
      }
    }
    *p = buf[fmt];
    *st = stride[fmt];
  }
};

// One weight's share of a matmul job.
struct MatmulPlan {
  const MatmulKernel* k;
  bool gemm;
  const uint8_t* w;
  size_t rowBytes;
  int64_t rows, cols;
  const uint8_t* x;
  size_t xStride;  // per token (tiles) or per 16-token group (gemm)
  int64_t n;
  float* out;
  int R, T;
  int64_t rowChunk, tokChunk, numTokChunks, numItems;
};

void tile_item(const MatmulPlan* j, int64_t item) {
  const int64_t rc = item / j->numTokChunks, tc = item % j->numTokChunks;
  const int64_t r0 = rc * j->rowChunk, r1 = std::min(j->rows, r0 + j->rowChunk);
  const int64_t t0 = tc * j->tokChunk, t1 = std::min(j->n, t0 + j->tokChunk);
  for (int64_t t = t0; t < t1; t += j->T) {
    const int tn = (int)std::min<int64_t>(j->T, t1 - t);
    for (int64_t r = r0; r < r1; r += j->R) {
      const int rn = (int)std::min<int64_t>(j->R, r1 - r);
      j->k->fn(j->w + (size_t)r * j->rowBytes, j->rowBytes, j->x + (size_t)t * j->xStride, j->xStride, j->cols,
               j->out + (size_t)t * j->rows + r, (size_t)j->rows, rn, tn);
    }
  }
}

void gemm_item(const MatmulPlan* j, int64_t item, void* scratch) {
  const int64_t rc = item / j->numTokChunks, tc = item % j->numTokChunks;
  const int64_t r0 = rc * j->rowChunk, r1 = std::min(j->rows, r0 + j->rowChunk);
  const int64_t t0 = tc * j->tokChunk, t1 = std::min(j->n, t0 + j->tokChunk);
  for (int64_t r = r0; r < r1; r += j->R) {
    const int rn = (int)std::min<int64_t>(j->R, r1 - r);
    j->k->gemm(j->w + (size_t)r * j->rowBytes, j->rowBytes, rn, j->x + (size_t)(t0 / 16) * j->xStride, j->xStride,
               (int)(t1 - t0), j->cols, j->out + (size_t)t0 * j->rows + r, (size_t)j->rows, scratch);
  }
}

// Plans one weight: its kernel path, activations and work items. wantItems: how many items
// this weight's work should be cut into (load balancing across threads).
void plan_matmul(const KernelTable* kt, int type, const uint8_t* w, int64_t rows, int64_t cols, int64_t n, float* out,
                 int64_t wantItems, Acts* acts, MatmulPlan* j) {
  const MatmulKernel* k = &kt->mm[type];
  j->k = k;
  j->w = w;
  j->rowBytes = row_bytes(type, cols);
  j->rows = rows;
  j->cols = cols;
  j->n = n;
  j->out = out;
  j->gemm = k->gemm && n >= k->gemmMinN;
  if (j->gemm) {
    acts->get(k->gemmAct, &j->x, &j->xStride);
    j->R = k->gemmR;
    j->T = 16;
    // Token chunks (whole groups) of <= 256: each tile of rows is unpacked once per chunk and swept
    // over the chunk's groups, which stay in L2 / L3. Tokens are split further only when the rows
    // alone leave threads without enough items.
    const int64_t groups = (n + 15) / 16;
    const int64_t rowTiles = ceil_div(rows, j->R);
    int64_t tokChunk = std::min<int64_t>(groups, 16) * 16;
    if (rowTiles < wantItems) tokChunk = std::max<int64_t>(16, ceil_div(groups, ceil_div(wantItems, rowTiles)) * 16);
    j->tokChunk = tokChunk;
  } else {
    acts->get(k->act, &j->x, &j->xStride);
    // Tiles: R weight rows x T tokens per kernel call.
    j->R = n == 1 ? k->maxR1 : k->maxR;
    j->T = n == 1 ? 1 : k->maxT;
    // Token chunks of <= 64 keep a chunk's activations in L2 while its weight rows are swept.
    j->tokChunk = n <= 64 ? n : 64 / j->T * j->T;
  }
  j->numTokChunks = ceil_div(n, j->tokChunk);
  // Row chunks: enough for dynamic load balancing, and (tiles, for batches) small enough that a
  // chunk's weights stay in L2 across the chunk's token tiles.
  const int64_t wantRowChunks = std::max<int64_t>(1, ceil_div(wantItems, j->numTokChunks));
  int64_t rowChunk = ceil_div(rows, wantRowChunks);
  if (n > 1 && !j->gemm) rowChunk = std::min<int64_t>(rowChunk, std::max<int64_t>(1, (int64_t)(256 * 1024 / j->rowBytes)));
  rowChunk = std::max<int64_t>(j->R, ceil_div(rowChunk, j->R) * j->R);
  j->rowChunk = rowChunk;
  j->numItems = ceil_div(rows, rowChunk) * j->numTokChunks;
}

struct ManyJob {
  const MatmulPlan* plans;
  int count;
  uint8_t* scratch;  // per thread, for the GEMM path
  size_t scratchBytes;
};

void many_task(void* arg, int64_t item, int tid) {
  const ManyJob* j = (const ManyJob*)arg;
  int i = 0;
  while (item >= j->plans[i].numItems) item -= j->plans[i++].numItems;
  const MatmulPlan* p = &j->plans[i];
  if (p->gemm) gemm_item(p, item, j->scratch + (size_t)tid * j->scratchBytes);
  else tile_item(p, item);
}

}  // namespace

const KernelTable* kernel_table(int isa) {
  Tables* s = tables();
  if (isa < 0 || isa >= ISA_COUNT || !s->ok[isa]) return nullptr;
  return &s->t[isa];
}

int best_isa() { return tables()->best; }

const char* isa_name(int isa) {
  switch (isa) {
    case ISA_SCALAR: return "scalar";
    case ISA_AVX2: return "avx2";
    case ISA_AVX512: return "avx512vnni";
    default: return "unknown";
  }
}

void op_matmul_many(const KernelTable* kt, int nth, int count, const MatmulSpec* specs, const float* x, int64_t n, int64_t cols) {
  if (n <= 0 || count <= 0) return;
  Acts acts;
  acts.kt = kt;
  acts.nth = nth;
  acts.x = x;
  acts.n = n;
  acts.cols = cols;
  // Decode streams weights: items in proportion to each weight's bytes (a small k / v projection
  // is one item), about 8 per thread in all, so a stalled vCPU costs little. Batches: 4 per thread
  // per weight.
  double bytes[kMaxMatmulMany];
  double totalBytes = 0;
  for (int i = 0; i < count; i++) {
    bytes[i] = (double)specs[i].rows * (double)row_bytes(specs[i].type, cols);
    totalBytes += bytes[i];
  }
  MatmulPlan plans[kMaxMatmulMany];
  int64_t numItems = 0;
  size_t scratchBytes = 0;
  for (int i = 0; i < count; i++) {
    const MatmulSpec& s = specs[i];
    int64_t want = (int64_t)nth * 4;
    if (n == 1) want = std::max<int64_t>(1, (int64_t)((double)nth * 8 * bytes[i] / totalBytes + 0.5));
    plan_matmul(kt, s.type, s.w, s.rows, cols, n, s.out, want, &acts, &plans[i]);
    numItems += plans[i].numItems;
    if (plans[i].gemm) scratchBytes = (gemm_scratch_bytes(cols) + 63) & ~(size_t)63;
  }
  ManyJob j{plans, count, nullptr, scratchBytes};
  const int use = (int)std::min<int64_t>(nth, numItems);
  if (scratchBytes) j.scratch = (uint8_t*)g_gemm.get(scratchBytes * (size_t)use);
  pool_for(use, numItems, many_task, &j);
}

void op_matmul(const KernelTable* kt, int nth, int type, const uint8_t* w, int64_t rows, int64_t cols,
               const float* x, int64_t n, float* out) {
  if (rows <= 0) return;
  const MatmulSpec s{type, w, rows, out};
  op_matmul_many(kt, nth, 1, &s, x, n, cols);
}

// ---- getRows

namespace {
struct RowsJob {
  const KernelTable* kt;
  int type;
  const uint8_t* w;
  size_t rowBytes;
  int64_t cols;
  const int32_t* ids;
  int64_t n;
  float* out;
};
void rows_task(void* arg, int64_t i, int) {
  const RowsJob* j = (const RowsJob*)arg;
  const int base = x16_base(j->type);
  if (base >= 0) {
    // Gather the row's blocks back into the file's layout and dequantize that (a packed embedding).
    thread_local std::vector<uint8_t> row;
    row.resize(j->rowBytes);
    unpack_x16_row(j->type, j->w, j->rowBytes, j->ids[i], row.data());
    j->kt->dequant(base, row.data(), j->out + i * j->cols, j->cols);
    return;
  }
  j->kt->dequant(j->type, j->w + (size_t)j->ids[i] * j->rowBytes, j->out + i * j->cols, j->cols);
}
}  // namespace

void op_get_rows(const KernelTable* kt, int nth, int type, const uint8_t* w, int64_t cols, const int32_t* ids,
                 int64_t n, float* out) {
  RowsJob j{kt, type, w, row_bytes(type, cols), cols, ids, n, out};
  const bool par = n >= 2 && n * cols >= (1 << 16);
  pool_for(par ? nth : 1, n, rows_task, &j);
}

// ---- rmsNorm

namespace {
struct NormJob {
  const KernelTable* kt;
  const float* x;
  const float* w;
  int64_t n, dim;
  float eps;
  float* out;
};
void norm_task(void* arg, int64_t t, int) {
  const NormJob* j = (const NormJob*)arg;
  j->kt->rms_norm(j->x + t * j->dim, j->w, j->dim, j->eps, j->out + t * j->dim);
}
}  // namespace

void op_rms_norm(const KernelTable* kt, int nth, const float* x, const float* w, int64_t n, int64_t dim, float eps,
                 float* out) {
  NormJob j{kt, x, w, n, dim, eps, out};
  const bool par = n >= 2 && n * dim >= (1 << 16);
  pool_for(par ? nth : 1, n, norm_task, &j);
}

// ---- rope

namespace {
// The cos / sin table of the last call's positions, per calling thread: a forward pass rotates q
// and k of every layer at the same positions, so the angles are computed once per pass (in double,
// 2 * ropeDim / 2 libm calls per token) instead of 2 * numLayers times: at 16 decode tokens on
// qwen2.5-0.5b, cos and sin were ~1.4% of a step (perf). Keyed on the positions and invFreq by
// value, so a different model or batch never reads a stale table.
struct RopeTable {
  std::vector<int32_t> pos;
  std::vector<float> invFreq;
  int ropeDim = 0;
  std::vector<float> tab;  // per token: ropeDim / 2 cos, then ropeDim / 2 sin
};
thread_local RopeTable g_rope_table;

struct RopeJob {
  const KernelTable* kt;
  float* x;
  int numHeads, headDim, ropeDim;
  const int32_t* pos;
  const float* invFreq;
  int neox;
  bool fill;   // compute token t's row of the table first
  float* tab;
};
void rope_task(void* arg, int64_t t, int) {
  const RopeJob* j = (const RopeJob*)arg;
  const int half = j->ropeDim / 2;
  float* cs = j->tab + (size_t)t * j->ropeDim;
  float* sn = cs + half;
  if (j->fill) {
    // Angles in double, as the reference: positions reach 1e5+ and fp32 would lose the phase.
    const double p = (double)j->pos[t];
    for (int i = 0; i < half; i++) {
      const double a = p * (double)j->invFreq[i];
      cs[i] = (float)cos(a);
      sn[i] = (float)sin(a);
    }
  }
  j->kt->rope_token(j->x + (size_t)t * j->numHeads * j->headDim, j->numHeads, j->headDim, j->ropeDim, cs, sn, j->neox);
}
}  // namespace

void op_rope(const KernelTable* kt, int nth, float* x, int64_t n, int numHeads, int headDim, int ropeDim,
             const int32_t* positions, const float* invFreq, int neox) {
  if (ropeDim <= 0 || n <= 0) return;
  const int half = ropeDim / 2;
  RopeTable& rt = g_rope_table;
  const bool hit = rt.ropeDim == ropeDim && rt.pos.size() == (size_t)n && rt.invFreq.size() == (size_t)half &&
                   memcmp(rt.pos.data(), positions, (size_t)n * sizeof(int32_t)) == 0 &&
                   memcmp(rt.invFreq.data(), invFreq, (size_t)half * sizeof(float)) == 0;
  if (!hit) {
    rt.pos.assign(positions, positions + n);
    rt.invFreq.assign(invFreq, invFreq + half);
    rt.ropeDim = ropeDim;
    rt.tab.resize((size_t)n * ropeDim);
  }
  const int use = n >= 8 ? (int)std::min<int64_t>(nth, n) : 1;
  RopeJob j{kt, x, numHeads, headDim, ropeDim, positions, invFreq, neox, !hit, rt.tab.data()};
  pool_for(use, n, rope_task, &j);
}

// ---- attention
//
// Work items are (token, key range) over all heads: each cache slot's K/V row (all kv heads) is
// read once, contiguously, for every query head (paged rows are kvDim apart; reading one kv head's
// slice per slot was TLB- and prefetch-bound). When the tokens leave threads idle (decode), a
// token's keys are split into ranges whose partial softmax states are merged afterwards (split-K,
// as flash-decoding).

namespace {
constexpr int kMinSplitKeys = 256;

struct AttnWork {
  int64_t t;  // batch row
  const int32_t* table;
  int keyBegin, keyEnd;
  int64_t partial;  // index of its partial state, or -1: normalizes straight into out
  int kvBegin, kvEnd;  // its kv heads (and their query heads); all of them when partial >= 0
};
struct AttnJob {
  const KernelTable* kt;
  const AttnArgs* a;
  const AttnWork* work;
  float* partials;
  size_t partialFloats;
  float* scratch;
  size_t scratchFloats;
};
void attn_task(void* arg, int64_t item, int tid) {
  const AttnJob* j = (const AttnJob*)arg;
  const AttnArgs* a = j->a;
  const AttnWork& w = j->work[item];
  const int64_t qDim = (int64_t)a->numHeads * a->headDim;
  const int G = a->numHeads / a->numKvHeads;
  const int64_t q0 = (int64_t)w.kvBegin * G * a->headDim;  // first query head's offset in the token's row
  const size_t headBytes = row_bytes(a->kvType, a->headDim);
  AttnItem it;
  it.q = a->q + w.t * qDim + q0;
  it.out = a->out + w.t * qDim + q0;
  it.partial = w.partial >= 0 ? j->partials + (size_t)w.partial * j->partialFloats : nullptr;
  it.numQ = (w.kvEnd - w.kvBegin) * G;
  it.groupSize = G;
  it.keyBegin = w.keyBegin;
  it.keyEnd = w.keyEnd;
  it.blockTable = w.table;
  it.blockSize = a->blockSize;
  // A slot's kv heads from kvBegin on: the row stride stays the whole slot's.
  it.k = a->k + (size_t)w.kvBegin * headBytes;
  it.v = a->v + (size_t)w.kvBegin * headBytes;
  it.kvType = a->kvType;
  it.kvDim = (int64_t)(w.kvEnd - w.kvBegin) * a->headDim;
  it.rowBytes = row_bytes(a->kvType, (int64_t)a->numKvHeads * a->headDim);
  it.headBytes = headBytes;
  it.headDim = a->headDim;
  it.scale = a->scale;
  j->kt->attention(&it, j->scratch + (size_t)tid * j->scratchFloats);
}

// Combines `splits` partial states (consecutive, each [G*D sums | G maxima | G exp-sums], G heads) into out.
void merge_partials(const float* parts, size_t partFloats, int splits, int G, int D, float* out) {
  for (int h = 0; h < G; h++) {
    float m = -INFINITY;
    for (int s = 0; s < splits; s++) m = std::max(m, parts[s * partFloats + (size_t)G * D + h]);
    float l = 0.0f;
    float* o = out + (size_t)h * D;
    for (int d = 0; d < D; d++) o[d] = 0.0f;
    for (int s = 0; s < splits; s++) {
      const float* p = parts + s * partFloats;
      const float ls = p[(size_t)G * D + G + h];
      if (ls == 0.0f) continue;  // an empty range
      const float c = expf(p[(size_t)G * D + h] - m);
      l += ls * c;
      for (int d = 0; d < D; d++) o[d] += c * p[(size_t)h * D + d];
    }
    const float inv = l > 0.0f ? 1.0f / l : 0.0f;
    for (int d = 0; d < D; d++) o[d] *= inv;
  }
}
}  // namespace

void op_attention(const KernelTable* kt, int nth, const AttnArgs& a) {
  int64_t numTokens = 0;
  for (int64_t s = 0; s < a.numSeqs; s++) numTokens += a.seqs[s].queryLen;
  if (numTokens == 0) return;
  const int H = a.numHeads, D = a.headDim, numKv = a.numKvHeads;
  const int64_t wantItems = 4 * (int64_t)nth;
  const int64_t splitsWanted = numTokens >= wantItems ? 1 : (wantItems + numTokens - 1) / numTokens;
  // Fewer tokens than threads and a context too short to split (a decode step of one or two
  // sequences): the kv heads (with their query heads) are split instead, so no thread sits idle.
  const int headSplits = numTokens >= nth ? 1 : (int)std::min<int64_t>(numKv, ceil_div((int64_t)nth, numTokens));

  thread_local std::vector<AttnWork> work;
  work.clear();
  int64_t numPartials = 0;
  for (int64_t s = 0; s < a.numSeqs; s++) {
    const SeqDesc& sd = a.seqs[s];
    const int64_t first = sd.contextLen - sd.queryLen;  // position of the first query token
    for (int64_t i = 0; i < sd.queryLen; i++) {
      const int numKeys = (int)(first + i + 1);
      const int splits = (int)std::max<int64_t>(1, std::min<int64_t>(splitsWanted, numKeys / kMinSplitKeys));
      const int len = (numKeys + splits - 1) / splits;
      if (splits == 1 && headSplits > 1) {
        for (int g = 0; g < headSplits; g++)
          work.push_back(AttnWork{sd.queryStart + i, sd.blockTable, 0, numKeys, -1, g * numKv / headSplits, (g + 1) * numKv / headSplits});
        continue;
      }
      for (int k = 0; k < splits; k++)
        work.push_back(AttnWork{sd.queryStart + i, sd.blockTable, k * len, std::min(numKeys, (k + 1) * len),
                                splits > 1 ? numPartials++ : -1, 0, numKv});
    }
  }
  AttnJob j;
  j.kt = kt;
  j.a = &a;
  j.work = work.data();
  j.partialFloats = ((size_t)H * D + 2 * (size_t)H + 15) & ~(size_t)15;
  j.scratchFloats = (attn_scratch_floats(H, a.numKvHeads, D) + 15) & ~(size_t)15;
  const int64_t numItems = (int64_t)work.size();
  const int use = (int)std::min<int64_t>(nth, numItems);
  float* buf = (float*)g_attn.get(((size_t)use * j.scratchFloats + (size_t)numPartials * j.partialFloats) * sizeof(float));
  j.scratch = buf;
  j.partials = buf + (size_t)use * j.scratchFloats;
  pool_for(use, numItems, attn_task, &j);
  if (numPartials == 0) return;
  // The ranges of a split token are consecutive items, as are their partial states.
  for (size_t i = 0; i < work.size();) {
    size_t e = i + 1;
    while (e < work.size() && work[e].t == work[i].t) e++;
    if (work[i].partial >= 0)
      merge_partials(j.partials + (size_t)work[i].partial * j.partialFloats, j.partialFloats, (int)(e - i), H, D, a.out + work[i].t * (int64_t)H * D);
    i = e;
  }
}

// ---- KV store

namespace {
struct StoreKvJob {
  const KernelTable* kt;
  int type;
  uint8_t* kc;
  uint8_t* vc;
  const float* k;
  const float* v;
  int64_t kvDim;
  size_t rowBytes;
  const int32_t* slots;
};
void store_kv_task(void* arg, int64_t t, int) {
  const StoreKvJob* j = (const StoreKvJob*)arg;
  const size_t off = (size_t)j->slots[t] * j->rowBytes;
  j->kt->kv_store_row(j->type, j->k + t * j->kvDim, j->kc + off, j->kvDim);
  j->kt->kv_store_row(j->type, j->v + t * j->kvDim, j->vc + off, j->kvDim);
}
}  // namespace

void op_store_kv(const KernelTable* kt, int nth, int kvType, uint8_t* kc, uint8_t* vc, const float* k, const float* v,
                 int64_t n, int64_t kvDim, const int32_t* slots) {
  if (n <= 0 || kvDim <= 0) return;
  StoreKvJob j{kt, kvType, kc, vc, k, v, kvDim, row_bytes(kvType, kvDim), slots};
  // A prefill's rows are worth spreading when quantizing (q8_0 is scalar double math); a decode
  // token's are not. Two tokens mapped to one slot would race: the caller maps each to its own.
  const bool par = n >= 2 && kvType != T_F32 && n * kvDim >= (1 << 14);
  pool_for(par ? nth : 1, n, store_kv_task, &j);
}

// ---- elementwise

namespace {
struct EwJob {
  const KernelTable* kt;
  int op;  // 0 silu_mul, 1 add
  const float* a;
  const float* b;
  int64_t n;
  float* out;
  int64_t chunk;
};
constexpr int64_t kEwChunk = 1 << 14;
void ew_task(void* arg, int64_t item, int) {
  const EwJob* j = (const EwJob*)arg;
  const int64_t lo = item * j->chunk, hi = std::min(j->n, lo + j->chunk);
  if (j->op == 0) j->kt->silu_mul(j->a + lo, j->b + lo, hi - lo, j->out + lo);
  else j->kt->add(j->a + lo, j->b + lo, hi - lo, j->out + lo);
}
constexpr int64_t kParallelElems = 1 << 16;
void run_ew(const KernelTable* kt, int nth, int op, const float* a, const float* b, int64_t n, float* out) {
  // Items of about kEwChunk values, a multiple of the threads in number and equal in size (64-value
  // multiples): 16 x 4864 in 5 items of 2^14 kept one thread on 3 while the other waited.
  const bool par = n >= kParallelElems && nth > 1;
  const int64_t items = par ? nth * ceil_div(n, nth * kEwChunk) : ceil_div(n, kEwChunk);
  EwJob j{kt, op, a, b, n, out, ceil_div(ceil_div(n, items), 64) * 64};
  pool_for(par ? nth : 1, ceil_div(n, j.chunk), ew_task, &j);
}

struct BiasJob {
  const KernelTable* kt;
  float* x;
  const float* bias;
  int64_t n, dim;
};
void bias_task(void* arg, int64_t t, int) {
  const BiasJob* j = (const BiasJob*)arg;
  j->kt->add(j->x + t * j->dim, j->bias, j->dim, j->x + t * j->dim);
}

struct ScanJob {
  const KernelTable* kt;
  const float* x;
  int64_t dim;
  float* max;
  int32_t* argmax;
};
void scan_task(void* arg, int64_t t, int) {
  const ScanJob* j = (const ScanJob*)arg;
  j->kt->scan_row(j->x + t * j->dim, j->dim, j->max + t, j->argmax + t);
}
}  // namespace

void op_silu_mul(const KernelTable* kt, int nth, const float* g, const float* u, int64_t n, float* out) {
  run_ew(kt, nth, 0, g, u, n, out);
}
void op_add(const KernelTable* kt, int nth, const float* a, const float* b, int64_t n, float* out) {
  run_ew(kt, nth, 1, a, b, n, out);
}
void op_add_bias(const KernelTable* kt, int nth, float* x, const float* bias, int64_t n, int64_t dim) {
  BiasJob j{kt, x, bias, n, dim};
  const bool par = n >= 2 && n * dim >= kParallelElems;
  pool_for(par ? nth : 1, n, bias_task, &j);
}
void op_scan_rows(const KernelTable* kt, int nth, const float* x, int64_t n, int64_t dim, float* max, int32_t* argmax) {
  ScanJob j{kt, x, dim, max, argmax};
  pool_for(n >= 2 && n * dim >= kParallelElems ? nth : 1, n, scan_task, &j);
}

// ---- measurements

namespace {
volatile uint64_t g_stream_sink;
double now_s() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}
struct StreamJob {
  const KernelTable* kt;
  const uint8_t* p;
  size_t n;
  std::atomic<uint64_t> sink;
};
constexpr int64_t kStreamChunk = 1 << 20;
void stream_task(void* arg, int64_t item, int) {
  StreamJob* j = (StreamJob*)arg;
  const int64_t lo = item * kStreamChunk, hi = std::min((int64_t)j->n, lo + kStreamChunk);
  if (hi > lo) j->sink.fetch_add(j->kt->stream_read(j->p + lo, (size_t)(hi - lo)), std::memory_order_relaxed);
}
struct FmaJob {
  const KernelTable* kt;
  int kind;
  int64_t iters;
  std::atomic<int64_t> flops;
};
void fma_task(void* arg, int64_t, int) {
  FmaJob* j = (FmaJob*)arg;
  j->flops.fetch_add((int64_t)j->kt->peak_loop(j->kind, j->iters), std::memory_order_relaxed);
}
}  // namespace

double op_stream_read(const KernelTable* kt, int nth, const uint8_t* p, size_t n) {
  StreamJob j;
  j.kt = kt;
  j.p = p;
  j.n = n;
  j.sink.store(0);
  const double t0 = now_s();
  pool_for(nth, ceil_div((int64_t)n, kStreamChunk), stream_task, &j);
  const double t1 = now_s();
  g_stream_sink = j.sink.load();  // keeps the reads observable
  return t1 - t0;
}

double op_peak(const KernelTable* kt, int nth, int kind, int64_t iters) {
  FmaJob j;
  j.kt = kt;
  j.kind = kind;
  j.iters = iters;
  j.flops.store(0);
  const double t0 = now_s();
  pool_for(nth, nth, fma_task, &j);
  const double t1 = now_s();
  return (double)j.flops.load() / (t1 - t0);
}

}  // namespace fennec
