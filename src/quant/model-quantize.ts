/**
 * Whole-model quantization, two ways:
 *  - `quantizeModelFiles(files, "q8_0")`: the same ModelFiles with every weight converted on first
 *    use (load-time quantization: `loadModel(path, { quantize })`, `fennec run --quantize`);
 *  - `writeQuantizedGguf(files, out, "q4_k_m")`: a GGUF file llama.cpp reads (`fennec quantize`),
 *    written one tensor at a time, quantized on a worker pool.
 * Each tensor's type follows llama.cpp's rules for the file type (file-types.ts). Sources may be
 * GGUF (metadata copied, file type updated), Hugging Face directories (metadata from the config,
 * tokenizer from tokenizer.json, Llama Q/K un-permuted to the GGUF layout) or llama2.c checkpoints.
 * A source tensor already in its target type is copied bit for bit; otherwise it is dequantized to
 * fp32 and quantized (requantizing an already-quantized model loses precision, as in llama.cpp).
 */
import { InvalidArgumentError } from "../errors.js";
import type { ModelFiles } from "../weights/model-files.js";
import type { WeightTensor } from "../weights/tensor.js";
import { numElements } from "../weights/tensor.js";
import { unpermuteQK } from "../weights/hf.js";
import { readGguf, readTensors } from "../weights/gguf.js";
import { createWeightHeap, type WeightHeap } from "../weights/file-io.js";
import { metadataEntries, kv, type GgufKv } from "../weights/gguf-writer.js";
import { writeGgufStreaming, type GgufTensorSpec } from "../weights/gguf-stream-writer.js";
import { tokenizerKvs } from "../weights/tokenizer-gguf.js";
import { configKvs, ropeFreqsTensor } from "../weights/model-metadata.js";
import { dequantize } from "./dequant.js";
import { quantizeInto } from "./quantize.js";
import { FILE_TYPE_NAMES, chooseTensorType, fileType, type FileType } from "./file-types.js";
import { createQuantizePool, type QuantizePool } from "./quantize-pool.js";
import { GgmlType, rowBytes, typeName, type GgmlType as GgmlTypeT } from "./formats.js";

export interface PlannedTensor {
  readonly name: string;
  readonly dims: readonly number[];
  readonly sourceType: GgmlTypeT;
  readonly type: GgmlTypeT;
  /** Why the type differs from the file type's choice (row length fallback). */
  readonly note?: string;
}

export interface QuantizePlanOptions {
  /** Every quantizable weight in the base type (llama-quantize --pure). */
  readonly pure?: boolean;
}

/** The file type for a name, or an InvalidArgumentError listing the valid ones. */
export function resolveFileType(name: string, param = "type"): FileType {
  const ft = fileType(name);
  if (!ft) throw new InvalidArgumentError(param, `unknown quantization type ${JSON.stringify(name)} (expected one of: ${FILE_TYPE_NAMES.join(", ")})`);
  return ft;
}

/** Canonical GGUF order: token_embd, layers in order, output_norm, output, the rest. */
function tensorOrder(name: string): [number, number, string] {
  if (name === "token_embd.weight") return [0, 0, name];
  const m = /^blk\.(\d+)\.(.+)$/.exec(name);
  if (m) return [1, Number(m[1]), m[2] ?? ""];
  if (name === "output_norm.weight") return [2, 0, name];
  if (name === "output.weight") return [3, 0, name];
  return [4, 0, name];
}

const PER_LAYER_ORDER = ["attn_norm.weight", "attn_q.weight", "attn_q.bias", "attn_k.weight", "attn_k.bias", "attn_v.weight",
  "attn_v.bias", "attn_output.weight", "ffn_norm.weight", "ffn_gate.weight", "ffn_up.weight", "ffn_down.weight"];

export function compareTensorNames(a: string, b: string): number {
  const [ga, la, ra] = tensorOrder(a);
  const [gb, lb, rb] = tensorOrder(b);
  if (ga !== gb) return ga - gb;
  if (la !== lb) return la - lb;
  const ia = PER_LAYER_ORDER.indexOf(ra);
  const ib = PER_LAYER_ORDER.indexOf(rb);
  if (ia !== ib) return (ia < 0 ? 99 : ia) - (ib < 0 ? 99 : ib);
  return ra < rb ? -1 : ra > rb ? 1 : 0;
}

/** The type of every tensor of `files` in a `ft` file, in canonical order. */
export function planQuantization(files: ModelFiles, ft: FileType, opts: QuantizePlanOptions = {}): PlannedTensor[] {
  const ctx = { numLayers: files.config.numLayers, hasOutput: files.tensorInfos.some((t) => t.name === "output.weight") };
  return [...files.tensorInfos]
    .sort((a, b) => compareTensorNames(a.name, b.name))
    .map((t) => {
      const choice = chooseTensorType(ft, t.name, t.dims, t.type as GgmlTypeT, ctx, opts.pure ?? false);
      return { name: t.name, dims: t.dims, sourceType: t.type as GgmlTypeT, type: choice.type, ...(choice.note !== undefined ? { note: choice.note } : {}) };
    });
}

/** A tensor as fp32 (any stored type). `into` may be a shared buffer from the quantize pool. */
export function tensorToF32(t: WeightTensor, into?: Float32Array): Float32Array {
  const n = numElements(t.dims);
  const out = into ?? new Float32Array(n);
  dequantize(t.type, t.data, n, out);
  return out;
}

/** Convert one tensor to `type` on this thread. */
export function convertTensor(t: WeightTensor, type: GgmlTypeT, alloc: WeightHeap = (bytes) => new Uint8Array(bytes)): WeightTensor {
  if (t.type === type) return t;
  const n = numElements(t.dims);
  const data = alloc(rowBytes(type, n));
  quantizeInto(type, tensorToF32(t), 0, n, data, 0);
  return { name: t.name, type, dims: t.dims, data };
}

/** Convert one tensor to `type` on the pool's threads. */
async function convertTensorPooled(t: WeightTensor, type: GgmlTypeT, pool: QuantizePool): Promise<Uint8Array> {
  if (t.type === type) return t.data;
  const n = numElements(t.dims);
  const cols = t.dims[0] ?? 1;
  const src = tensorToF32(t, pool.allocSource(n));
  return pool.quantize(type, src, n / cols, cols);
}

/**
 * `files` with every weight in the type llama.cpp's `type` mix gives it, converted when first
 * fetched (the result is kept, the source bytes are dropped). The config and tensor layout are unchanged (HF Q/K stay permuted).
 */
export function quantizeModelFiles(files: ModelFiles, type: string, opts: QuantizePlanOptions = {}): ModelFiles {
  const ft = resolveFileType(type, "quantize");
  const plan = new Map(planQuantization(files, ft, opts).map((p) => [p.name, p]));
  const converted = new Map<string, WeightTensor>();
  const heap = createWeightHeap();  // the converted weights share huge-page chunks, as a loaded GGUF's
  return {
    ...files,
    tensorInfos: [...plan.values()].map((p) => ({ name: p.name, type: p.type, dims: p.dims })),
    getTensor(name: string): WeightTensor | undefined {
      const hit = converted.get(name);
      if (hit) return hit;
      const src = files.getTensor(name);
      const p = plan.get(name);
      if (!src || !p) return src;
      const t = convertTensor(src, p.type, heap);
      converted.set(name, t);
      // The source stays cached only when it is the result (already in the target type).
      if (t !== src) files.forgetTensor(name);
      return t;
    },
    forgetTensor(name: string): void {
      converted.delete(name);
      files.forgetTensor(name);
    },
    info: { ...files.info, fileType: ft.ftype, quantizedAtLoad: ft.name },
  };
}

function uncachedGgufReader(file: string): (name: string) => WeightTensor | undefined {
  const g = readGguf(file);
  const infos = new Map(g.tensors.map((t) => [t.name, t]));
  return (name) => {
    const info = infos.get(name);
    return info ? readTensors(g, [info]).get(name) : undefined;
  };
}

/** Whether the source stores Llama Q/K in HF's rotate-half layout (which GGUF files do not). */
function needsUnpermute(files: ModelFiles): boolean {
  return files.format === "hf" && files.config.arch === "llama" && files.config.ropeStyle === "neox";
}

/** GGUF metadata for `files` written as `ft`. */
export function quantizedMetadata(files: ModelFiles, ft: FileType, anyQuantized: boolean): GgufKv[] {
  const replaced = new Set(["general.file_type", "general.quantization_version", "general.alignment"]);
  let out: GgufKv[];
  const src = files.tokenizerSource;
  if (files.format === "gguf" && src?.kind === "gguf") {
    out = metadataEntries(src.file).filter((e) => !replaced.has(e.key));
  } else {
    const name = typeof files.info["name"] === "string" && files.info["name"] !== "" ? files.info["name"] : files.config.arch;
    out = configKvs(files.config, name);
    if (src) out.push(...tokenizerKvs(src, files.config.vocabSize, files.chatTemplate));
  }
  out.push(kv.u32("general.file_type", ft.ftype));
  if (anyQuantized) out.push(kv.u32("general.quantization_version", 2));
  return out;
}

export interface QuantizeProgress {
  /** 1-based index of the tensor just written, and the total. */
  readonly index: number;
  readonly total: number;
  readonly tensor: PlannedTensor;
  readonly seconds: number;
}

export interface WriteQuantizedOptions extends QuantizePlanOptions {
  /** Worker threads for the quantizers (default: all cores). */
  readonly threads?: number;
  readonly onProgress?: (p: QuantizeProgress) => void;
}

export interface WriteQuantizedResult {
  readonly fileType: FileType;
  readonly tensors: readonly PlannedTensor[];
  readonly bytes: number;
  readonly seconds: number;
  /** Count of tensors per output type name. */
  readonly typeCounts: Readonly<Record<string, number>>;
}

/** Write `files` as a GGUF of file type `type` to `outPath`. */
export async function writeQuantizedGguf(files: ModelFiles, outPath: string, type: string, opts: WriteQuantizedOptions = {}): Promise<WriteQuantizedResult> {
  const ft = resolveFileType(type);
  const plan = planQuantization(files, ft, opts);
  const ropeFreqs = files.format === "gguf" || plan.some((p) => p.name === "rope_freqs.weight") ? undefined : ropeFreqsTensor(files.config);
  const tensors: PlannedTensor[] = ropeFreqs
    ? [...plan, { name: ropeFreqs.name, dims: ropeFreqs.dims, sourceType: GgmlType.F32, type: GgmlType.F32 }]
    : plan;
  const anyQuantized = tensors.some((t) => t.type !== GgmlType.F32 && t.type !== GgmlType.F16 && t.type !== GgmlType.BF16);
  const metadata = quantizedMetadata(files, ft, anyQuantized);
  const unpermute = needsUnpermute(files);
  const c = files.config;
  // ModelFiles keeps every tensor it has read; reading a GGUF source directly keeps only the one
  // being converted in memory.
  const readUncached = files.format === "gguf" ? uncachedGgufReader(files.path) : undefined;
  const pool = createQuantizePool(opts.threads);
  const t0 = performance.now();
  try {
    const specs: GgufTensorSpec[] = tensors.map((t) => ({ name: t.name, type: t.type, dims: t.dims }));
    const bytes = await writeGgufStreaming(outPath, metadata, specs, async (i) => {
      const p = tensors[i] as PlannedTensor;
      const t1 = performance.now();
      let src = p.name === "rope_freqs.weight" && ropeFreqs ? ropeFreqs : (readUncached?.(p.name) ?? files.getTensor(p.name));
      if (!src) throw new Error(`${files.path}: tensor ${p.name} is listed but cannot be read`);
      if (unpermute && /\.attn_q\.(weight|bias)$/.test(p.name)) src = unpermuteQK(src, c.numHeads);
      if (unpermute && /\.attn_k\.(weight|bias)$/.test(p.name)) src = unpermuteQK(src, c.numKvHeads);
      const data = await convertTensorPooled(src, p.type, pool);
      opts.onProgress?.({ index: i + 1, total: tensors.length, tensor: p, seconds: (performance.now() - t1) / 1000 });
      return data;
    });
    const typeCounts: Record<string, number> = {};
    for (const t of tensors) typeCounts[typeName(t.type)] = (typeCounts[typeName(t.type)] ?? 0) + 1;
    return { fileType: ft, tensors, bytes, seconds: (performance.now() - t0) / 1000, typeCounts };
  } finally {
    await pool.close();
  }
}
