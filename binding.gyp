# Fennec native addon (Node-API, no node-addon-api). Built by scripts/build-native.mjs.
# The x86 kernel files are static libraries so each gets its own -m flags; ops.cc picks one at
# run time (__builtin_cpu_supports). No -march=native: the binary runs on any x86-64 CPU.
{
  "target_defaults": {
    "cflags": ["-O3", "-fPIC", "-fno-strict-aliasing", "-fopenmp-simd", "-Wno-unused-function"],
    "cflags_cc": ["-std=c++17", "-fno-exceptions", "-fno-rtti"],
    "cflags!": ["-O2", "-Os", "-O0"],
    "cflags_cc!": ["-std=gnu++17", "-std=gnu++1y", "-std=gnu++14", "-fexceptions"],
    "defines": ["NAPI_VERSION=8", "NDEBUG"],
    "xcode_settings": {
      "OTHER_CFLAGS": ["-O3", "-fopenmp-simd"],
      "CLANG_CXX_LANGUAGE_STANDARD": "c++17"
    }
  },
  "targets": [
    {
      "target_name": "fennec_native",
      "sources": ["native/addon.cc", "native/ops.cc", "native/pack.cc", "native/pool.cc", "native/kernels_scalar.cc"],
      "libraries": ["-lpthread"],
      "conditions": [
        ["target_arch=='x64'", {
          "dependencies": ["fennec_kernels_avx2", "fennec_kernels_avx512"]
        }]
      ]
    }
  ],
  "conditions": [
    ["target_arch=='x64'", {
      "targets": [
        {
          "target_name": "fennec_kernels_avx2",
          "type": "static_library",
          "sources": ["native/kernels_avx2.cc"],
          "cflags": ["-mavx2", "-mfma", "-mf16c"],
          "xcode_settings": { "OTHER_CFLAGS": ["-O3", "-fopenmp-simd", "-mavx2", "-mfma", "-mf16c"] }
        },
        {
          "target_name": "fennec_kernels_avx512",
          "type": "static_library",
          "sources": ["native/kernels_avx512.cc"],
          "cflags": ["-mavx2", "-mfma", "-mf16c", "-mavx512f", "-mavx512bw", "-mavx512vl", "-mavx512dq", "-mavx512vnni"],
          "xcode_settings": { "OTHER_CFLAGS": ["-O3", "-fopenmp-simd", "-mavx2", "-mfma", "-mf16c", "-mavx512f", "-mavx512bw", "-mavx512vl", "-mavx512dq", "-mavx512vnni"] }
        }
      ]
    }]
  ]
}
