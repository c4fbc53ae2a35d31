// What a 512-bit vpdpbusd loop can issue beside its dots on this CPU: the kernels' budget. Built and
// run by bench/ports.ts (`npm run bench:ports`); x86-64 with AVX-512 VNNI only.
//
// Each case times 64 vpdpbusd into 16 independent accumulators (4 per accumulator) plus the named
// extra instructions, in a loop of 2e7 iterations, best of 5; printed as ns per 64 dots and as the
// extras' cost against the dots alone. Registers only, except the loads (distinct addresses in one
// 16 KiB buffer, L1-resident).
#include <chrono>
#include <cstdio>

#define D1(acc, w) "vpdpbusd %%zmm" #w ", %%zmm30, %%zmm" #acc "\n"
#define DOT16 D1(0, 28) D1(1, 28) D1(2, 28) D1(3, 28) D1(4, 28) D1(5, 28) D1(6, 28) D1(7, 28) \
  D1(8, 29) D1(9, 29) D1(10, 29) D1(11, 29) D1(12, 29) D1(13, 29) D1(14, 29) D1(15, 29)
// 512-bit broadcasts of 4 bytes from memory, rows 1344 bytes apart (a 28-block ActQ8 row).
#define BC(r, off) "vpbroadcastd " #off "(%1), %%zmm" #r "\n"
#define BC4 BC(16, 0) BC(17, 1344) BC(18, 2688) BC(19, 4032)
#define BC8 BC4 BC(20, 5376) BC(21, 6720) BC(22, 8064) BC(23, 9408)
#define BC16 BC8 BC(24, 4) BC(25, 1348) BC(26, 2692) BC(27, 4036) BC(16, 5380) BC(17, 6724) BC(18, 8068) BC(19, 9412)
// 512-bit and 256-bit plain loads of consecutive lines.
#define LZ(r, off) "vmovdqu64 " #off "(%1), %%zmm" #r "\n"
#define LZ8 LZ(16, 0) LZ(17, 64) LZ(18, 128) LZ(19, 192) LZ(20, 256) LZ(21, 320) LZ(22, 384) LZ(23, 448)
#define LY(r, off) "vmovdqu64 " #off "(%1), %%ymm" #r "\n"
#define LY8 LY(16, 0) LY(17, 64) LY(18, 128) LY(19, 192) LY(20, 256) LY(21, 320) LY(22, 384) LY(23, 448)
// In-lane dword broadcasts from a register (the kernels' vpshufd).
#define SH(r) "vpshufd $0x55, %%zmm31, %%zmm" #r "\n"
#define SH8 SH(16) SH(17) SH(18) SH(19) SH(20) SH(21) SH(22) SH(23)
#define X4(s) s s s s

alignas(64) static char buf[16384];

template <class F>
static double best_ns(F body, long n) {
  double best = 1e30;
  for (int r = 0; r < 5; r++) {
    const auto t0 = std::chrono::steady_clock::now();
    for (long i = 0; i < n; i++) body();
    const auto t1 = std::chrono::steady_clock::now();
    const double ns = std::chrono::duration<double, std::nano>(t1 - t0).count() / (double)n;
    if (ns < best) best = ns;
  }
  return best;
}

#define CASE(name, body) { name, [] { __asm__ volatile(body : : "r"(0), "r"(buf) : "memory"); } }

int main() {
  __asm__ volatile("vpxord %%zmm28, %%zmm28, %%zmm28\n vpxord %%zmm29, %%zmm29, %%zmm29\n"
                   "vpxord %%zmm30, %%zmm30, %%zmm30\n vpxord %%zmm31, %%zmm31, %%zmm31" ::: "memory");
  struct Case { const char* name; void (*fn)(); };
  const Case cases[] = {
    CASE("64 dots", X4(DOT16)),
    CASE("64 dots + 16 broadcast loads (1:4)", X4(DOT16 BC4)),
    CASE("64 dots + 32 broadcast loads (1:2)", X4(DOT16 BC8)),
    CASE("64 dots + 64 broadcast loads (1:1)", X4(DOT16 BC16)),
    CASE("64 dots + 32 512-bit loads", X4(DOT16 LZ8)),
    CASE("64 dots + 32 256-bit loads", X4(DOT16 LY8)),
    CASE("64 dots + 32 vpshufd (register)", X4(DOT16 SH8)),
    CASE("64 broadcast loads alone", X4(BC16)),
    CASE("64 512-bit loads alone", X4(LZ8 LZ8)),
    CASE("64 256-bit loads alone", X4(LY8 LY8)),
  };
  const long n = 20000000;
  double base = 0;
  printf("%-38s %12s %22s\n", "case", "ns / iter", "extra vs dots alone");
  for (const Case& c : cases) {
    const double ns = best_ns(c.fn, n);
    if (base == 0) base = ns;
    printf("%-38s %12.2f %21.0f%%\n", c.name, ns, 100.0 * (ns - base) / base);
  }
  return 0;
}
