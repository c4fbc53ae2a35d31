/**
 * Model file types ("q4_k_m", "q8_0", ...) as data, and the per-tensor type choice llama.cpp's
 * `llama-quantize` makes for them (src/llama-quant.cpp, `llama_tensor_get_type`), so a file Fennec
 * writes has the same tensor types as one llama.cpp would write:
 *
 *  - only weights with 2+ dims are quantized; norms, biases and rope_freqs (1-D) stay as they are;
 *  - output.weight (and token_embd.weight when tied, since it is also the output) -> Q6_K for every
 *    quantized type except Q8_0 (Q8_0 if its rows are not a multiple of 256);
 *  - Q4_K_M / Q5_K_M: attn_v and ffn_down -> Q6_K in the layers where `useMoreBits` (the first and
 *    last eighth, and every third layer in between);
 *  - Q4_K_S: attn_v of layers 0..3 and ffn_down of the first eighth -> Q5_K;
 *  - a row length that is not a multiple of the chosen type's block size falls back:
 *    Q2_K/Q3_K -> Q4_0, Q4_K -> Q5_0, Q5_K -> Q5_1, Q6_K -> Q8_0, and to F16 if even that does not
 *    divide (llama.cpp refuses the 32-element types outright; Fennec falls back to F16 with a note).
 *
 * "Pure" types (q2_k, q3_k, q4_k, q5_k, or any type with `pure`) put every quantizable weight in the
 * base type, like `llama-quantize --pure`.
 */
import { FORMATS, GgmlType, typeName } from "./formats.js";

export interface FileType {
  /** Lower-case name on the command line: "q4_k_m". */
  readonly name: string;
  /** llama.cpp's `enum llama_ftype`, stored as `general.file_type`. */
  readonly ftype: number;
  /** The type most weights get. */
  readonly base: GgmlType;
  readonly mix: "none" | "output" | "q4_k_s" | "q4_k_m" | "q5_k_m";
}

const ft = (name: string, ftype: number, base: GgmlType, mix: FileType["mix"]): FileType => ({ name, ftype, base, mix });

/** Every type `fennec quantize` / `fennec synth` can write. */
export const FILE_TYPES: readonly FileType[] = [
  ft("f32", 0, GgmlType.F32, "none"),
  ft("f16", 1, GgmlType.F16, "none"),
  ft("bf16", 32, GgmlType.BF16, "none"),
  ft("q8_0", 7, GgmlType.Q8_0, "output"),
  ft("q4_0", 2, GgmlType.Q4_0, "output"),
  ft("q4_1", 3, GgmlType.Q4_1, "output"),
  ft("q5_0", 8, GgmlType.Q5_0, "output"),
  ft("q5_1", 9, GgmlType.Q5_1, "output"),
  ft("q6_k", 18, GgmlType.Q6_K, "output"),
  ft("q4_k_s", 14, GgmlType.Q4_K, "q4_k_s"),
  ft("q4_k_m", 15, GgmlType.Q4_K, "q4_k_m"),
  ft("q5_k_s", 16, GgmlType.Q5_K, "output"),
  ft("q5_k_m", 17, GgmlType.Q5_K, "q5_k_m"),
  // Pure K types (llama.cpp has only mixes of these; the ftype is the closest mix's).
  ft("q2_k", 10, GgmlType.Q2_K, "none"),
  ft("q3_k", 11, GgmlType.Q3_K, "none"),
  ft("q4_k", 14, GgmlType.Q4_K, "none"),
  ft("q5_k", 16, GgmlType.Q5_K, "none"),
];

export const FILE_TYPE_NAMES: readonly string[] = FILE_TYPES.map((t) => t.name);

export function fileType(name: string): FileType | undefined {
  return FILE_TYPES.find((t) => t.name === name.toLowerCase());
}

/** What the rules need to know about the model (not the weights). */
export interface TypeRuleContext {
  readonly numLayers: number;
  /** Whether the model has its own output.weight (otherwise token_embd is the output too). */
  readonly hasOutput: boolean;
}

export interface TensorTypeChoice {
  readonly type: GgmlType;
  /** Set when the row length forced a fallback: says from what and why. */
  readonly note?: string;
}

/** Whether a tensor is a weight llama.cpp quantizes (2+ dims, a `.weight`, not a norm). */
export function isQuantizable(name: string, dims: readonly number[]): boolean {
  return dims.length >= 2 && name.endsWith(".weight") && !name.endsWith("_norm.weight");
}

/** llama.cpp's use_more_bits: the first and last eighth of the layers, and every third one between. */
export function useMoreBits(layer: number, numLayers: number): boolean {
  const e = Math.floor(numLayers / 8);
  return layer < e || layer >= Math.floor((7 * numLayers) / 8) || (layer - e) % 3 === 2;
}

function layerOf(name: string): number | undefined {
  const m = /^blk\.(\d+)\./.exec(name);
  return m ? Number(m[1]) : undefined;
}

/** The type llama.cpp's mix gives this weight, before any row-length fallback. */
function mixedType(ft: FileType, name: string, cols: number, ctx: TypeRuleContext, pure: boolean): GgmlType {
  if (pure || ft.mix === "none") return ft.base;
  const isOutput = name === "output.weight" || (!ctx.hasOutput && name === "token_embd.weight");
  if (isOutput) {
    if (cols % 256 !== 0) return GgmlType.Q8_0;
    return ft.base === GgmlType.Q8_0 ? GgmlType.Q8_0 : GgmlType.Q6_K;
  }
  const layer = layerOf(name);
  if (layer === undefined) return ft.base;
  const n = ctx.numLayers;
  const isV = name.endsWith(".attn_v.weight");
  const isDown = name.endsWith(".ffn_down.weight");
  if (ft.mix === "q4_k_m" || ft.mix === "q5_k_m") {
    if ((isV || isDown) && useMoreBits(layer, n)) return GgmlType.Q6_K;
  } else if (ft.mix === "q4_k_s") {
    if (isV && layer < 4) return GgmlType.Q5_K;
    if (isDown && layer < Math.floor(n / 8)) return GgmlType.Q5_K;
  }
  return ft.base;
}

const FALLBACK: ReadonlyMap<GgmlType, GgmlType> = new Map<GgmlType, GgmlType>([
  [GgmlType.Q2_K, GgmlType.Q4_0],
  [GgmlType.Q3_K, GgmlType.Q4_0],
  [GgmlType.Q4_K, GgmlType.Q5_0],
  [GgmlType.Q5_K, GgmlType.Q5_1],
  [GgmlType.Q6_K, GgmlType.Q8_0],
]);

const fits = (type: GgmlType, cols: number): boolean => cols % (FORMATS.get(type)?.blockSize ?? 1) === 0;

/**
 * The type a tensor gets in a file of type `ft`. 1-D tensors and non-weights keep `sourceType`
 * (a 1-D F16/BF16 tensor becomes F32, which every reader handles); `dims[0]` is the row length.
 */
export function chooseTensorType(
  ft: FileType, name: string, dims: readonly number[], sourceType: GgmlType, ctx: TypeRuleContext, pure = false,
): TensorTypeChoice {
  if (!isQuantizable(name, dims)) {
    const keep = sourceType === GgmlType.F32 || sourceType === GgmlType.F16 || sourceType === GgmlType.BF16 ? GgmlType.F32 : sourceType;
    return { type: dims.length >= 2 ? sourceType : keep };
  }
  const cols = dims[0] ?? 1;
  const want = mixedType(ft, name, cols, ctx, pure);
  if (fits(want, cols)) return { type: want };
  let type = FALLBACK.get(want) ?? GgmlType.F16;
  if (!fits(type, cols)) type = GgmlType.F16;
  return {
    type,
    note: `${name}: rows of ${cols} are not a multiple of the ${typeName(want)} block size (${FORMATS.get(want)?.blockSize ?? "?"}); using ${typeName(type)}`,
  };
}
