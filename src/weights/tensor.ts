import type { GgmlType } from "../quant/formats.js";

/**
 * One weight tensor, in ggml conventions: `dims[0]` is the innermost (contiguous) dimension, so a
 * matrix with `dims = [cols, rows]` stores `rows` rows of `cols` elements. `data` holds the raw
 * bytes in `type`'s layout (outside the JS heap: a Buffer read from the file, or a mapping).
 */
export interface WeightTensor {
  readonly name: string;
  readonly type: GgmlType;
  readonly dims: readonly number[];
  readonly data: Uint8Array;
  /**
   * Set when a backend rewrote `data` into a layout of its own at load (Backend.packWeight); only
   * that backend reads it. "x16": rows interleaved by 16 in the native backend's layout for `type`
   * (Q8_0, Q4_K, Q6_K, Q5_0 on AVX-512 VNNI; native/fennec.h).
   */
  readonly packing?: "x16";
}

export function numElements(dims: readonly number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}
