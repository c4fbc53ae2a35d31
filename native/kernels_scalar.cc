// Portable kernel table: plain C++ (generic.inc) for every op; matmul dequantizes each weight row
// and dots it in fp32. Used on non-x86 machines, on x86 without AVX2+FMA+F16C, or when forced
// (FENNEC_ISA=scalar / createNativeBackend({ isa: "scalar" })).
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <algorithm>

#include "fennec.h"

namespace fennec {
namespace {
#include "generic.inc"
}  // namespace

void fill_kernels_scalar(KernelTable* t) {
  fill_generic(t);
  t->name = "scalar";
}

}  // namespace fennec
