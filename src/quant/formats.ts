/**
 * Tensor element types as data, numbered exactly as ggml's `enum ggml_type` (the numbers are what
 * GGUF files store). A block-quantized type packs `blockSize` weights into `typeSize` bytes; plain
 * types have blockSize 1. The byte layouts of each block are documented next to their dequantizer
 * in `dequant.ts`.
 */
export const GgmlType = {
  F32: 0, F16: 1, Q4_0: 2, Q4_1: 3, Q5_0: 6, Q5_1: 7, Q8_0: 8, Q8_1: 9,
  Q2_K: 10, Q3_K: 11, Q4_K: 12, Q5_K: 13, Q6_K: 14, Q8_K: 15,
  IQ2_XXS: 16, IQ2_XS: 17, IQ3_XXS: 18, IQ1_S: 19, IQ4_NL: 20, IQ3_S: 21, IQ2_S: 22, IQ4_XS: 23,
  I8: 24, I16: 25, I32: 26, I64: 27, F64: 28, IQ1_M: 29, BF16: 30,
  TQ1_0: 34, TQ2_0: 35, MXFP4: 39,
} as const;
export type GgmlType = (typeof GgmlType)[keyof typeof GgmlType];

export interface TypeFormat {
  readonly type: GgmlType;
  readonly name: string;
  /** Number of weights in one block. */
  readonly blockSize: number;
  /** Bytes of one block. */
  readonly typeSize: number;
  /** Whether Fennec can compute with this type (dequantize it / use it as a weight). */
  readonly supported: boolean;
}

const t = (type: GgmlType, name: string, blockSize: number, typeSize: number, supported: boolean): TypeFormat =>
  ({ type, name, blockSize, typeSize, supported });

/** The block table. Sizes of unsupported types are still listed so files using them parse and fail clearly. */
export const FORMATS: ReadonlyMap<number, TypeFormat> = new Map<number, TypeFormat>([
  t(GgmlType.F32, "F32", 1, 4, true),
  t(GgmlType.F16, "F16", 1, 2, true),
  t(GgmlType.BF16, "BF16", 1, 2, true),
  t(GgmlType.Q4_0, "Q4_0", 32, 18, true),
  t(GgmlType.Q4_1, "Q4_1", 32, 20, true),
  t(GgmlType.Q5_0, "Q5_0", 32, 22, true),
  t(GgmlType.Q5_1, "Q5_1", 32, 24, true),
  t(GgmlType.Q8_0, "Q8_0", 32, 34, true),
  t(GgmlType.Q8_1, "Q8_1", 32, 36, false),
  t(GgmlType.Q2_K, "Q2_K", 256, 84, true),
  t(GgmlType.Q3_K, "Q3_K", 256, 110, true),
  t(GgmlType.Q4_K, "Q4_K", 256, 144, true),
  t(GgmlType.Q5_K, "Q5_K", 256, 176, true),
  t(GgmlType.Q6_K, "Q6_K", 256, 210, true),
  t(GgmlType.Q8_K, "Q8_K", 256, 292, false),
  t(GgmlType.IQ2_XXS, "IQ2_XXS", 256, 66, false),
  t(GgmlType.IQ2_XS, "IQ2_XS", 256, 74, false),
  t(GgmlType.IQ3_XXS, "IQ3_XXS", 256, 98, false),
  t(GgmlType.IQ1_S, "IQ1_S", 256, 50, false),
  t(GgmlType.IQ4_NL, "IQ4_NL", 32, 18, false),
  t(GgmlType.IQ3_S, "IQ3_S", 256, 110, false),
  t(GgmlType.IQ2_S, "IQ2_S", 256, 82, false),
  t(GgmlType.IQ4_XS, "IQ4_XS", 256, 136, false),
  t(GgmlType.I8, "I8", 1, 1, false),
  t(GgmlType.I16, "I16", 1, 2, false),
  t(GgmlType.I32, "I32", 1, 4, false),
  t(GgmlType.I64, "I64", 1, 8, false),
  t(GgmlType.F64, "F64", 1, 8, false),
  t(GgmlType.IQ1_M, "IQ1_M", 256, 56, false),
  t(GgmlType.TQ1_0, "TQ1_0", 256, 54, false),
  t(GgmlType.TQ2_0, "TQ2_0", 256, 66, false),
  t(GgmlType.MXFP4, "MXFP4", 32, 17, false),
].map((f) => [f.type, f]));

export function formatOf(type: number): TypeFormat | undefined {
  return FORMATS.get(type);
}

export function typeName(type: number): string {
  return FORMATS.get(type)?.name ?? `unknown type ${type}`;
}

/** Bytes taken by a row of `n` elements of `type` (n must be a multiple of the block size). */
export function rowBytes(type: GgmlType, n: number): number {
  const f = FORMATS.get(type);
  if (!f) throw new Error(`unknown ggml type ${type}`);
  return (n / f.blockSize) * f.typeSize;
}
