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
}

export function numElements(dims: readonly number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}
