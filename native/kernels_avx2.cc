// Kernel table for AVX2 + FMA + F16C (Haswell / Zen 1 and later): int8 dots via vpmaddubsw + vpmaddwd.
// Compiled with its own -m flags (binding.gyp); only called after a runtime CPU check.
#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <algorithm>
#include <type_traits>

#include "fennec.h"

namespace fennec {
namespace {
#include "generic.inc"
#include "simd_x86.inc"
}  // namespace

void fill_kernels_avx2(KernelTable* t) {
  fill_generic(t);
  fill_simd(t);
  t->name = "avx2";
}

}  // namespace fennec
#endif
