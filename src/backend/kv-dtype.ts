/**
 * Storage types of the paged KV cache. Attention always computes in fp32; the cache may hold K and
 * V more compactly, as llama.cpp does (`--cache-type-k/v`):
 *  - f32:  4 bytes per value, exact.
 *  - f16:  2 bytes per value, IEEE half rounded to nearest even (llama.cpp's default cache type):
 *          relative error <= 2^-11 per value, half the memory of f32.
 *  - q8_0: ggml Q8_0 blocks (32 values as 32 int8 and one fp16 scale = amax / 127, 34 bytes):
 *          1.0625 bytes per value, ~3.76x the tokens of f32 in the same memory, error <= amax / 254
 *          per block. A block must not straddle two heads (each head is read on its own), so q8_0
 *          needs headDim % 32 == 0.
 * Each slot of a layer's cache is one row of kvDim = numKvHeads * headDim values in that type.
 */
import type { KvLayer } from "./backend.js";
import { InvalidArgumentError } from "../errors.js";
import { GgmlType, rowBytes } from "../quant/formats.js";

export type KvDtype = "f32" | "f16" | "q8_0";

export const KV_DTYPES: readonly KvDtype[] = ["f32", "f16", "q8_0"];

/** f16 halves the memory of f32 at no measurable quality cost; it is llama.cpp's default too. */
export const DEFAULT_KV_DTYPE: KvDtype = "f16";

/** The ggml type each KV dtype stores (the native addon takes these numbers). */
export const KV_GGML_TYPE: Readonly<Record<KvDtype, GgmlType>> = { f32: GgmlType.F32, f16: GgmlType.F16, q8_0: GgmlType.Q8_0 };

export function isKvDtype(v: unknown): v is KvDtype {
  return typeof v === "string" && (KV_DTYPES as readonly string[]).includes(v);
}

/** A KV dtype from a flag or option value; anything else is an InvalidArgumentError naming `param`. */
export function parseKvDtype(param: string, raw: unknown): KvDtype {
  if (isKvDtype(raw)) return raw;
  throw new InvalidArgumentError(param, `expected ${KV_DTYPES.join(", ")}, got ${JSON.stringify(raw)}`);
}

/** Bytes of one cache row of n values (n a multiple of 32 for q8_0). */
export function kvRowBytes(dtype: KvDtype, n: number): number {
  return rowBytes(KV_GGML_TYPE[dtype], n);
}

/**
 * Throws unless `dtype` can store rows of numKvHeads heads of headDim values: a Q8_0 block of 32
 * must lie within one head, since attention reads each kv head's slice of a row separately.
 */
export function checkKvDtype(dtype: KvDtype, numKvHeads: number, headDim: number, param = "kvCacheDtype"): void {
  if (!isKvDtype(dtype)) parseKvDtype(param, dtype);
  // headDim % 32 == 0 also makes every row (numKvHeads heads) a whole number of blocks.
  if (dtype === "q8_0" && headDim % 32 !== 0) {
    throw new InvalidArgumentError(param, `q8_0 stores blocks of 32 values within a head, but this model's headDim is ${headDim} ` +
      `(not a multiple of 32): use f16 (or f32)`);
  }
}

/** One layer's cache of `slots` rows of kvDim values, zeroed. */
export function allocKvLayer(dtype: KvDtype, slots: number, kvDim: number): KvLayer {
  if (dtype === "f32") return { dtype, k: new Float32Array(slots * kvDim), v: new Float32Array(slots * kvDim) };
  const bytes = slots * kvRowBytes(dtype, kvDim);
  return { dtype, k: new Uint8Array(bytes), v: new Uint8Array(bytes) };
}
