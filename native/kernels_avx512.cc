// Kernel table for AVX-512 F/BW/VL/DQ + VNNI (Ice Lake / Zen 4 and later): int8 dots via vpdpbusd, i16 via vpdpwssd,
// on 256-bit vectors with 32 registers (no 512-bit frequency penalty, bigger register tiles).
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

void fill_kernels_avx512(KernelTable* t) {
  fill_generic(t);
  fill_simd(t);
  t->name = "avx512vnni";
}

}  // namespace fennec
#endif
