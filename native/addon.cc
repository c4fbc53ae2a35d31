// Node-API glue: unpacks typed arrays zero-copy (napi_get_typedarray_info), validates every shape
// and bound so no JS input can make a kernel read or write out of range, then calls the op drivers.
//
// Every op takes `ctx` first: threads | isa << 16 (see src/backend/native/index.ts).
#include <node_api.h>
#include <stdio.h>
#include <string.h>
#if defined(__linux__)
#include <sys/mman.h>
#endif

#include <algorithm>
#include <string>
#include <vector>

#include "fennec.h"
#include "ops.h"
#include "pool.h"

using namespace fennec;

namespace {

constexpr size_t kMaxArgs = 4 + 4 * kMaxMatmulMany;

struct Call {
  napi_env env;
  napi_value argv[kMaxArgs];
  size_t argc = kMaxArgs;
  const char* op;
  bool failed = false;

  Call(napi_env e, napi_callback_info info, const char* name) : env(e), op(name) {
    if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok) fail_type("bad call");
  }

  bool fail_type(const std::string& msg) {
    if (!failed) napi_throw_type_error(env, "ERR_FENNEC_NATIVE_ARG", (std::string(op) + ": " + msg).c_str());
    failed = true;
    return false;
  }
  bool fail_range(const std::string& msg) {
    if (!failed) napi_throw_range_error(env, "ERR_FENNEC_NATIVE_RANGE", (std::string(op) + ": " + msg).c_str());
    failed = true;
    return false;
  }

  napi_value arg(size_t i) {
    if (i >= argc) return nullptr;
    return argv[i];
  }

  template <class T>
  bool typed(size_t i, napi_typedarray_type want, const char* name, T** data, size_t* len) {
    if (failed) return false;
    napi_value v = arg(i);
    bool is = false;
    if (!v || napi_is_typedarray(env, v, &is) != napi_ok || !is) return fail_type(std::string(name) + " must be a typed array");
    napi_typedarray_type type;
    size_t length;
    void* ptr;
    if (napi_get_typedarray_info(env, v, &type, &length, &ptr, nullptr, nullptr) != napi_ok) return fail_type(std::string(name) + ": unreadable typed array");
    if (type != want) {
      const char* names[] = {"Int8Array", "Uint8Array", "Uint8ClampedArray", "Int16Array", "Uint16Array", "Int32Array",
                             "Uint32Array", "Float32Array", "Float64Array", "BigInt64Array", "BigUint64Array"};
      return fail_type(std::string(name) + " must be a " + (want < 11 ? names[want] : "typed array"));
    }
    if (!ptr && length != 0) return fail_type(std::string(name) + ": detached buffer");
    *data = (T*)ptr;
    *len = length;
    return true;
  }
  bool f32(size_t i, const char* name, float** d, size_t* len) { return typed(i, napi_float32_array, name, d, len); }
  bool u8(size_t i, const char* name, uint8_t** d, size_t* len) { return typed(i, napi_uint8_array, name, d, len); }
  bool i32(size_t i, const char* name, int32_t** d, size_t* len) { return typed(i, napi_int32_array, name, d, len); }

  // A KV-cache type (T_F32, T_F16, T_Q8_0).
  bool kv_type(size_t i, int64_t* type) {
    if (!count(i, "kvType", type)) return false;
    if (*type >= kMaxType || !kv_type_ok((int)*type)) return fail_range("kvType " + std::to_string(*type) + " is not a KV-cache type (F32, F16 or Q8_0)");
    return true;
  }
  // A KV cache of `type`: a Float32Array for F32, else a Uint8Array of its rows' bytes.
  bool kv_cache(size_t i, const char* name, int64_t type, uint8_t** d, size_t* bytes) {
    if (failed) return false;
    size_t len;
    if (type == T_F32) {
      float* f;
      if (!f32(i, name, &f, &len)) return false;
      *d = (uint8_t*)f;
      *bytes = len * sizeof(float);
      return true;
    }
    if (!u8(i, name, d, &len)) return false;
    *bytes = len;
    return true;
  }

  // A non-negative integer (up to 2^53).
  bool count(size_t i, const char* name, int64_t* out) {
    if (failed) return false;
    double v;
    napi_value a = arg(i);
    if (!a || napi_get_value_double(env, a, &v) != napi_ok) return fail_type(std::string(name) + " must be a number");
    if (!(v >= 0 && v <= 9007199254740991.0) || v != (double)(int64_t)v) return fail_range(std::string(name) + " must be a non-negative integer, got " + std::to_string(v));
    *out = (int64_t)v;
    return true;
  }
  bool number(size_t i, const char* name, double* out) {
    if (failed) return false;
    napi_value a = arg(i);
    if (!a || napi_get_value_double(env, a, out) != napi_ok) return fail_type(std::string(name) + " must be a number");
    return true;
  }

  // ctx = threads | isa << 16
  bool ctx(size_t i, const KernelTable** kt, int* nth) {
    int64_t c;
    if (!count(i, "ctx", &c)) return false;
    const int isa = (int)(c >> 16);
    *nth = (int)(c & 0xFFFF);
    if (*nth < 1) *nth = 1;
    *kt = kernel_table(isa);
    if (!*kt) return fail_range(std::string("ISA ") + isa_name(isa) + " is not available on this CPU");
    return true;
  }

  napi_value undef() {
    napi_value u;
    napi_get_undefined(env, &u);
    return u;
  }
  napi_value num(double d) {
    napi_value v;
    napi_create_double(env, d, &v);
    return v;
  }
};

std::string type_label(int64_t type) {
  const int base = type >= 0 && type < kMaxType ? x16_base((int)type) : -1;
  if (base >= 0) return "type " + std::to_string(type) + " (ggml type " + std::to_string(base) + " packed by 16 rows)";
  return "ggml type " + std::to_string(type);
}

// Validates a weight: type handled natively, cols a multiple of its block size, bytes present.
bool check_weight(Call& c, int64_t type, int64_t cols, int64_t rows, size_t bytes, size_t* rowBytes) {
  if (c.failed) return false;
  const TypeInfo ti = type < kMaxType ? type_info((int)type) : TypeInfo{0, 0};
  if (ti.blockSize == 0) return c.fail_range(type_label(type) + " is not supported by the native backend");
  if (cols <= 0 || cols % ti.blockSize != 0)
    return c.fail_range("weight rows of " + std::to_string(cols) + " elements are not a multiple of the block size " +
                        std::to_string(ti.blockSize) + " of " + type_label(type));
  if (x16_base((int)type) >= 0 && rows % kPackRows != 0)
    return c.fail_range("a weight of " + type_label(type) + " has whole tiles of " + std::to_string(kPackRows) + " rows, got " + std::to_string(rows));
  *rowBytes = row_bytes((int)type, cols);
  if ((double)*rowBytes * (double)rows > (double)bytes)
    return c.fail_range("weight data has " + std::to_string(bytes) + " bytes, " + std::to_string(rows) + " rows need " +
                        std::to_string(*rowBytes * (size_t)rows));
  return true;
}

// A matmul kernel for `type` in this ISA's table (a packed type has one only where packWeight made it).
bool has_kernel(Call& c, const KernelTable* kt, int64_t type) {
  if (c.failed) return false;
  if (!kt->mm[type].fn) return c.fail_range(type_label(type) + " has no " + kt->name + " matmul kernel (packed for another ISA?)");
  return true;
}

bool need(Call& c, const char* name, size_t have, double want) {
  if (c.failed) return false;
  if ((double)have < want)
    return c.fail_range(std::string(name) + " has " + std::to_string(have) + " elements, needs " + std::to_string((int64_t)want));
  return true;
}

// matmul(ctx, w, type, cols, rows, x, n, out)
napi_value Matmul(napi_env env, napi_callback_info info) {
  Call c(env, info, "matmul");
  const KernelTable* kt; int nth;
  uint8_t* w; size_t wLen; float* x; size_t xLen; float* out; size_t outLen;
  int64_t type, cols, rows, n;
  size_t rowBytes;
  if (!c.ctx(0, &kt, &nth) || !c.u8(1, "w", &w, &wLen) || !c.count(2, "type", &type) || !c.count(3, "cols", &cols) ||
      !c.count(4, "rows", &rows) || !c.f32(5, "x", &x, &xLen) || !c.count(6, "n", &n) || !c.f32(7, "out", &out, &outLen) ||
      !check_weight(c, type, cols, rows, wLen, &rowBytes) || !has_kernel(c, kt, type) || !need(c, "x", xLen, (double)n * cols) ||
      !need(c, "out", outLen, (double)n * rows))
    return nullptr;
  op_matmul(kt, nth, (int)type, w, rows, cols, x, n, out);
  return c.undef();
}

// matmulMany(ctx, x, n, cols, w0, type0, rows0, out0, w1, type1, rows1, out1, ...): up to
// kMaxMatmulMany weights of the same row length over the same activations, in one pool job.
napi_value MatmulMany(napi_env env, napi_callback_info info) {
  Call c(env, info, "matmulMany");
  const KernelTable* kt; int nth;
  float* x; size_t xLen;
  int64_t n, cols;
  if (!c.ctx(0, &kt, &nth) || !c.f32(1, "x", &x, &xLen) || !c.count(2, "n", &n) || !c.count(3, "cols", &cols) ||
      !need(c, "x", xLen, (double)n * cols))
    return nullptr;
  if (c.argc < 8 || c.argc > kMaxArgs || (c.argc - 4) % 4 != 0) return c.fail_type("expected 1 to " + std::to_string(kMaxMatmulMany) + " (w, type, rows, out) groups"), nullptr;
  MatmulSpec specs[kMaxMatmulMany];
  const int count = (int)((c.argc - 4) / 4);
  for (int i = 0; i < count; i++) {
    uint8_t* w; size_t wLen; float* out; size_t outLen;
    int64_t type, rows;
    size_t rowBytes;
    const size_t a = 4 + 4 * (size_t)i;
    if (!c.u8(a, "w", &w, &wLen) || !c.count(a + 1, "type", &type) || !c.count(a + 2, "rows", &rows) ||
        !c.f32(a + 3, "out", &out, &outLen) || !check_weight(c, type, cols, rows, wLen, &rowBytes) || !has_kernel(c, kt, type) ||
        !need(c, "out", outLen, (double)n * rows))
      return nullptr;
    specs[i] = MatmulSpec{(int)type, w, rows, out};
  }
  op_matmul_many(kt, nth, count, specs, x, n, cols);
  return c.undef();
}

// getRows(ctx, w, type, cols, rows, ids, out)
napi_value GetRows(napi_env env, napi_callback_info info) {
  Call c(env, info, "getRows");
  const KernelTable* kt; int nth;
  uint8_t* w; size_t wLen; int32_t* ids; size_t idsLen; float* out; size_t outLen;
  int64_t type, cols, rows;
  size_t rowBytes;
  if (!c.ctx(0, &kt, &nth) || !c.u8(1, "w", &w, &wLen) || !c.count(2, "type", &type) || !c.count(3, "cols", &cols) ||
      !c.count(4, "rows", &rows) || !c.i32(5, "ids", &ids, &idsLen) || !c.f32(6, "out", &out, &outLen) ||
      !check_weight(c, type, cols, rows, wLen, &rowBytes) || !need(c, "out", outLen, (double)idsLen * cols))
    return nullptr;
  for (size_t i = 0; i < idsLen; i++)
    if (ids[i] < 0 || ids[i] >= rows)
      return c.fail_range("id " + std::to_string(ids[i]) + " out of range [0, " + std::to_string(rows) + ")"), nullptr;
  op_get_rows(kt, nth, (int)type, w, cols, ids, (int64_t)idsLen, out);
  return c.undef();
}

// rmsNorm(ctx, x, weight, n, dim, eps, out)
napi_value RmsNorm(napi_env env, napi_callback_info info) {
  Call c(env, info, "rmsNorm");
  const KernelTable* kt; int nth;
  float *x, *w, *out; size_t xLen, wLen, outLen;
  int64_t n, dim; double eps;
  if (!c.ctx(0, &kt, &nth) || !c.f32(1, "x", &x, &xLen) || !c.f32(2, "weight", &w, &wLen) || !c.count(3, "n", &n) ||
      !c.count(4, "dim", &dim) || !c.number(5, "eps", &eps) || !c.f32(6, "out", &out, &outLen) ||
      !need(c, "x", xLen, (double)n * dim) || !need(c, "weight", wLen, (double)dim) || !need(c, "out", outLen, (double)n * dim))
    return nullptr;
  if (dim > 0) op_rms_norm(kt, nth, x, w, n, dim, (float)eps, out);
  return c.undef();
}

// rope(ctx, x, n, numHeads, headDim, ropeDim, positions, invFreq, neox)
napi_value Rope(napi_env env, napi_callback_info info) {
  Call c(env, info, "rope");
  const KernelTable* kt; int nth;
  float *x, *inv; int32_t* pos; size_t xLen, invLen, posLen;
  int64_t n, numHeads, headDim, ropeDim, neox;
  if (!c.ctx(0, &kt, &nth) || !c.f32(1, "x", &x, &xLen) || !c.count(2, "n", &n) || !c.count(3, "numHeads", &numHeads) ||
      !c.count(4, "headDim", &headDim) || !c.count(5, "ropeDim", &ropeDim) || !c.i32(6, "positions", &pos, &posLen) ||
      !c.f32(7, "invFreq", &inv, &invLen) || !c.count(8, "neox", &neox) || !need(c, "x", xLen, (double)n * numHeads * headDim) ||
      !need(c, "positions", posLen, (double)n) || !need(c, "invFreq", invLen, (double)(ropeDim / 2)))
    return nullptr;
  if (ropeDim % 2 != 0 || ropeDim > headDim || headDim > (1 << 20) || numHeads > (1 << 20))
    return c.fail_range("ropeDim " + std::to_string(ropeDim) + " must be even and <= headDim " + std::to_string(headDim)), nullptr;
  op_rope(kt, nth, x, n, (int)numHeads, (int)headDim, (int)ropeDim, pos, inv, neox ? 1 : 0);
  return c.undef();
}

// storeKv(ctx, kvType, kCache, vCache, k, v, n, kvDim, slotMapping)
napi_value StoreKv(napi_env env, napi_callback_info info) {
  Call c(env, info, "storeKv");
  const KernelTable* kt; int nth;
  uint8_t *kc, *vc; float *k, *v; size_t kcBytes, vcBytes, kLen, vLen; int32_t* slots; size_t slotsLen;
  int64_t kvType, n, kvDim;
  if (!c.ctx(0, &kt, &nth) || !c.kv_type(1, &kvType) || !c.kv_cache(2, "kv.k", kvType, &kc, &kcBytes) ||
      !c.kv_cache(3, "kv.v", kvType, &vc, &vcBytes) || !c.f32(4, "k", &k, &kLen) || !c.f32(5, "v", &v, &vLen) ||
      !c.count(6, "n", &n) || !c.count(7, "kvDim", &kvDim) || !c.i32(8, "slotMapping", &slots, &slotsLen) ||
      !need(c, "k", kLen, (double)n * kvDim) || !need(c, "v", vLen, (double)n * kvDim) || !need(c, "slotMapping", slotsLen, (double)n))
    return nullptr;
  if (kvType == T_Q8_0 && kvDim % 32 != 0)
    return c.fail_range("q8_0 cache rows need kvDim a multiple of 32, got " + std::to_string(kvDim)), nullptr;
  const size_t rowBytes = row_bytes((int)kvType, kvDim);
  const size_t numSlots = rowBytes > 0 ? std::min(kcBytes, vcBytes) / rowBytes : 0;
  for (int64_t t = 0; t < n; t++)
    if (slots[t] < 0 || (size_t)slots[t] >= numSlots)
      return c.fail_range("slot " + std::to_string(slots[t]) + " out of range [0, " + std::to_string(numSlots) + ")"), nullptr;
  op_store_kv(kt, nth, (int)kvType, kc, vc, k, v, n, kvDim, slots);
  return c.undef();
}

// attention(ctx, q, kvType, kCache, vCache, numHeads, numKvHeads, headDim, blockSize, scale, seqMeta, blockTables, out)
// seqMeta: 5 int32 per sequence: queryStart, queryLen, contextLen, tableOffset, tableLen.
napi_value Attention(napi_env env, napi_callback_info info) {
  Call c(env, info, "attention");
  const KernelTable* kt; int nth;
  float *q, *out; uint8_t *kc, *vc; size_t qLen, kcBytes, vcBytes, outLen;
  int32_t *meta, *tables; size_t metaLen, tablesLen;
  int64_t kvType, numHeads, numKvHeads, headDim, blockSize; double scale;
  if (!c.ctx(0, &kt, &nth) || !c.f32(1, "q", &q, &qLen) || !c.kv_type(2, &kvType) || !c.kv_cache(3, "kv.k", kvType, &kc, &kcBytes) ||
      !c.kv_cache(4, "kv.v", kvType, &vc, &vcBytes) || !c.count(5, "numHeads", &numHeads) || !c.count(6, "numKvHeads", &numKvHeads) ||
      !c.count(7, "headDim", &headDim) || !c.count(8, "blockSize", &blockSize) || !c.number(9, "scale", &scale) ||
      !c.i32(10, "seqMeta", &meta, &metaLen) || !c.i32(11, "blockTables", &tables, &tablesLen) || !c.f32(12, "out", &out, &outLen))
    return nullptr;
  if (numKvHeads < 1 || numHeads < 1 || numHeads % numKvHeads != 0 || headDim < 1 || blockSize < 1 ||
      numHeads > (1 << 16) || headDim > (1 << 16) || blockSize > (1 << 24))
    return c.fail_range("bad shape: numHeads " + std::to_string(numHeads) + ", numKvHeads " + std::to_string(numKvHeads) +
                        ", headDim " + std::to_string(headDim) + ", blockSize " + std::to_string(blockSize)), nullptr;
  // A head's slice of a row is read on its own: Q8_0 blocks must not straddle heads.
  if (kvType == T_Q8_0 && headDim % 32 != 0)
    return c.fail_range("q8_0 cache needs headDim a multiple of 32, got " + std::to_string(headDim)), nullptr;
  if (metaLen % 5 != 0) return c.fail_range("seqMeta length must be a multiple of 5"), nullptr;
  const int64_t qDim = numHeads * headDim, kvDim = numKvHeads * headDim;
  const int64_t cacheSlots = (int64_t)(std::min(kcBytes, vcBytes) / row_bytes((int)kvType, kvDim));
  std::vector<SeqDesc> seqs(metaLen / 5);
  for (size_t s = 0; s < seqs.size(); s++) {
    const int32_t* m = meta + 5 * s;
    const int64_t qs = m[0], ql = m[1], cl = m[2], to = m[3], tl = m[4];
    const std::string where = "sequence " + std::to_string(s) + ": ";
    if (qs < 0 || ql < 0 || cl < ql || to < 0 || tl < 0 || (size_t)(to + tl) > tablesLen)
      return c.fail_range(where + "bad queryStart/queryLen/contextLen/blockTable"), nullptr;
    if ((double)(qs + ql) * qDim > (double)std::min(qLen, outLen))
      return c.fail_range(where + "query rows beyond q/out"), nullptr;
    const int64_t blocks = (cl + blockSize - 1) / blockSize;
    if (blocks > tl) return c.fail_range(where + "block table too short for contextLen " + std::to_string(cl)), nullptr;
    for (int64_t b = 0; b < blocks; b++) {
      const int64_t id = tables[to + b];
      if (id < 0 || (id + 1) * blockSize > cacheSlots)
        return c.fail_range(where + "block id " + std::to_string(id) + " outside the KV cache"), nullptr;
    }
    seqs[s] = SeqDesc{qs, ql, cl, tables + to};
  }
  AttnArgs a{q, out, kc, vc, (int)kvType, (int)numHeads, (int)numKvHeads, (int)headDim, (int)blockSize, (float)scale, seqs.data(), (int64_t)seqs.size()};
  op_attention(kt, nth, a);
  return c.undef();
}

// siluMul(ctx, gate, up, len, out) / add(ctx, a, b, len, out)
napi_value Elementwise(napi_env env, napi_callback_info info, const char* name, bool silu) {
  Call c(env, info, name);
  const KernelTable* kt; int nth;
  float *a, *b, *out; size_t aLen, bLen, outLen; int64_t len;
  if (!c.ctx(0, &kt, &nth) || !c.f32(1, "a", &a, &aLen) || !c.f32(2, "b", &b, &bLen) || !c.count(3, "len", &len) ||
      !c.f32(4, "out", &out, &outLen) || !need(c, "a", aLen, (double)len) || !need(c, "b", bLen, (double)len) ||
      !need(c, "out", outLen, (double)len))
    return nullptr;
  if (silu) op_silu_mul(kt, nth, a, b, len, out);
  else op_add(kt, nth, a, b, len, out);
  return c.undef();
}
napi_value SiluMul(napi_env env, napi_callback_info info) { return Elementwise(env, info, "siluMul", true); }
napi_value Add(napi_env env, napi_callback_info info) { return Elementwise(env, info, "add", false); }

// addBias(ctx, x, bias, n)
napi_value AddBias(napi_env env, napi_callback_info info) {
  Call c(env, info, "addBias");
  const KernelTable* kt; int nth;
  float *x, *bias; size_t xLen, biasLen; int64_t n;
  if (!c.ctx(0, &kt, &nth) || !c.f32(1, "x", &x, &xLen) || !c.f32(2, "bias", &bias, &biasLen) || !c.count(3, "n", &n) ||
      !need(c, "x", xLen, (double)n * biasLen))
    return nullptr;
  op_add_bias(kt, nth, x, bias, n, (int64_t)biasLen);
  return c.undef();
}

// scanRows(ctx, x, n, dim, max, argmax): per row of x [n, dim], its max and first argmax (-1: the
// row has a NaN or +Inf, or nothing above -Inf)
napi_value ScanRows(napi_env env, napi_callback_info info) {
  Call c(env, info, "scanRows");
  const KernelTable* kt; int nth;
  float *x, *max; int32_t* argmax; size_t xLen, maxLen, argLen; int64_t n, dim;
  if (!c.ctx(0, &kt, &nth) || !c.f32(1, "x", &x, &xLen) || !c.count(2, "n", &n) || !c.count(3, "dim", &dim) ||
      !c.f32(4, "max", &max, &maxLen) || !c.i32(5, "argmax", &argmax, &argLen) || !need(c, "x", xLen, (double)n * dim) ||
      !need(c, "max", maxLen, (double)n) || !need(c, "argmax", argLen, (double)n))
    return nullptr;
  if (dim > INT32_MAX) return c.fail_range("dim must fit an int32 index"), nullptr;
  op_scan_rows(kt, nth, x, n, dim, max, argmax);
  return c.undef();
}

// streamRead(ctx, buf) -> seconds for one parallel pass (buf: 64-byte aligned part is read)
napi_value StreamRead(napi_env env, napi_callback_info info) {
  Call c(env, info, "streamRead");
  const KernelTable* kt; int nth; uint8_t* p; size_t len;
  if (!c.ctx(0, &kt, &nth) || !c.u8(1, "buf", &p, &len)) return nullptr;
  const size_t skip = (64 - ((uintptr_t)p & 63)) & 63;
  if (len < skip + 4096 * (size_t)nth) return c.fail_range("buffer too small"), nullptr;
  const size_t n = (len - skip) / (4096 * (size_t)nth) * (4096 * (size_t)nth);
  const double secs = op_stream_read(kt, nth, p + skip, n);
  napi_value obj;
  napi_create_object(env, &obj);
  napi_set_named_property(env, obj, "seconds", c.num(secs));
  napi_set_named_property(env, obj, "bytes", c.num((double)n));
  return obj;
}

// adviseHugePages(buf) -> bytes advised: asks Linux to back the 2 MiB-aligned interior of buf with
// transparent huge pages (MADV_HUGEPAGE; effective for pages not yet touched). 0 where unsupported.
napi_value AdviseHugePages(napi_env env, napi_callback_info info) {
  Call c(env, info, "adviseHugePages");
  uint8_t* p; size_t len;
  if (!c.u8(0, "buf", &p, &len)) return nullptr;
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  constexpr uintptr_t kHuge = (uintptr_t)2 << 20;
  const uintptr_t b = ((uintptr_t)p + kHuge - 1) & ~(kHuge - 1), e = ((uintptr_t)p + len) & ~(kHuge - 1);
  if (e > b && madvise((void*)b, e - b, MADV_HUGEPAGE) == 0) return c.num((double)(e - b));
#endif
  return c.num(0);
}

// packWeight(ctx, w, type, cols, rows) -> the packed type now in w (rewritten in place), or -1 when
// this ISA has no packed layout for it (w untouched): Q8_0, Q4_K, Q6_K and Q5_0 with rows a multiple
// of 16, on AVX-512 VNNI.
napi_value PackWeight(napi_env env, napi_callback_info info) {
  Call c(env, info, "packWeight");
  const KernelTable* kt; int nth;
  uint8_t* w; size_t wLen;
  int64_t type, cols, rows;
  size_t rowBytes;
  if (!c.ctx(0, &kt, &nth) || !c.u8(1, "w", &w, &wLen) || !c.count(2, "type", &type) || !c.count(3, "cols", &cols) ||
      !c.count(4, "rows", &rows) || !check_weight(c, type, cols, rows, wLen, &rowBytes))
    return nullptr;
  const int packed = x16_of((int)type);
  if (packed < 0 || rows % kPackRows != 0 || !kt->mm[packed].fn) return c.num(-1);
  pack_x16(packed, w, rows, cols);
  return c.num(packed);
}

// peak(ctx, kind, iters) -> operations per second (kind 0: fp32 FMA flops, 1: int8 dot ops, both on
// 256-bit vectors; 2, 3: the same on 512-bit vectors; 4, 5, 6: 512-bit int8 dot ops with one FMA,
// vaddps or vpmulld per 4 vpdpbusd interleaved; 0 when the kernel set has none)
napi_value Peak(napi_env env, napi_callback_info info) {
  Call c(env, info, "peak");
  const KernelTable* kt; int nth; int64_t kind, iters;
  if (!c.ctx(0, &kt, &nth) || !c.count(1, "kind", &kind) || !c.count(2, "iters", &iters)) return nullptr;
  if (kind > 6) return c.fail_range("kind must be 0..6"), nullptr;
  return c.num(op_peak(kt, nth, (int)kind, iters));
}

// info() -> { isas: string[] (usable here, worst to best), best: string, hwThreads, compiler }
napi_value Info(napi_env env, napi_callback_info) {
  napi_value obj, arr, v;
  napi_create_object(env, &obj);
  napi_create_array(env, &arr);
  uint32_t k = 0;
  for (int i = 0; i < ISA_COUNT; i++) {
    if (!kernel_table(i)) continue;
    napi_create_string_utf8(env, isa_name(i), NAPI_AUTO_LENGTH, &v);
    napi_set_element(env, arr, k++, v);
  }
  napi_set_named_property(env, obj, "isas", arr);
  napi_create_string_utf8(env, isa_name(best_isa()), NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, obj, "best", v);
  napi_create_int32(env, pool_hw_threads(), &v);
  napi_set_named_property(env, obj, "hwThreads", v);
#if defined(__clang__)
  const std::string compiler = std::string("clang ") + __clang_version__;
#elif defined(__GNUC__)
  const std::string compiler = std::string("gcc ") + __VERSION__;
#else
  const std::string compiler = "unknown";
#endif
  napi_create_string_utf8(env, compiler.c_str(), NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, obj, "compiler", v);
  return obj;
}

}  // namespace

NAPI_MODULE_INIT() {
  const struct { const char* name; napi_callback cb; } fns[] = {
      {"info", Info},       {"matmul", Matmul},   {"matmulMany", MatmulMany},   {"getRows", GetRows}, {"rmsNorm", RmsNorm},
      {"rope", Rope},       {"storeKv", StoreKv}, {"attention", Attention}, {"siluMul", SiluMul},
      {"add", Add},         {"addBias", AddBias}, {"scanRows", ScanRows}, {"streamRead", StreamRead},
      {"peak", Peak},       {"adviseHugePages", AdviseHugePages}, {"packWeight", PackWeight},
  };
  for (const auto& f : fns) {
    napi_value fn;
    if (napi_create_function(env, f.name, NAPI_AUTO_LENGTH, f.cb, nullptr, &fn) != napi_ok) return nullptr;
    if (napi_set_named_property(env, exports, f.name, fn) != napi_ok) return nullptr;
  }
  return exports;
}
