/**
 * Synthetic models: a preset's exact shapes, hyperparameters and vocabulary with random weights,
 * written as GGUF one tensor at a time (`fennec synth`, benchmarks, cross-checks against llama.cpp).
 *
 * Weights are scaled like a real initialization so activations stay finite through every layer:
 * matrices N(0, initStd) (Q/K/V/gate/up, embeddings, output), the residual projections attn_output
 * and ffn_down N(0, initStd / sqrt(2 * layers)) (GPT-2's scaled init), biases N(0, initStd), norms 1.
 * Quantized types are generated as random valid blocks directly (random-blocks.ts), each tensor in
 * the type llama.cpp's mix for the file type gives it (file-types.ts). Each tensor's values depend
 * only on (seed, tensor name, type), so `--layers` or another type changes nothing else.
 */
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { InvalidArgumentError } from "../errors.js";
import { chooseTensorType, FILE_TYPE_NAMES, fileType, type FileType } from "../quant/file-types.js";
import { GgmlType, typeName } from "../quant/formats.js";
import { constantF32, hashSeed, randomTensorData } from "../quant/random-blocks.js";
import { kv, type GgufKv } from "../weights/gguf-writer.js";
import { writeGgufStreaming, type GgufTensorSpec } from "../weights/gguf-stream-writer.js";
import { configAsWritten, configKvs, ropeFreqsTensor } from "../weights/model-metadata.js";
import { vocabKvs } from "../weights/tokenizer-gguf.js";
import type { ModelConfig } from "./config.js";
import { PRESET_NAMES, preset as findPreset, type ModelPreset } from "./presets.js";
import { synthVocab } from "./synth-vocab.js";

export interface SynthOptions {
  /** File type name (file-types.ts): "q4_k_m", "q8_0", "f16", ... */
  readonly type: string;
  readonly seed?: number;
  /** Override the number of layers (tests, quick benchmarks). */
  readonly numLayers?: number;
  /** Every weight in the base type (no llama.cpp mix). */
  readonly pure?: boolean;
  /** Where `tokenizers/` lives (default: ../shared/models beside the package). */
  readonly modelsDir?: string;
  /** Multiply every matrix's std (cross-checks use larger weights for sharper logits). */
  readonly stdScale?: number;
  readonly onProgress?: (p: { index: number; total: number; name: string; type: GgmlType }) => void;
}

interface SynthTensor extends GgufTensorSpec {
  /** How to fill it: random with std, a constant, or given bytes. */
  readonly fill: { readonly kind: "random"; readonly std: number } | { readonly kind: "const"; readonly value: number } | { readonly kind: "data"; readonly data: Uint8Array };
}

/** ../shared/models beside the package root (this file is at src/models/ or dist/src/models/). */
export function defaultModelsDir(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 4; i++) {
    dir = path.dirname(dir);
    if (path.basename(dir) !== "src" && path.basename(dir) !== "dist") break;
  }
  return path.resolve(dir, "..", "shared", "models");
}

export function resolvePreset(name: string): ModelPreset {
  const p = findPreset(name);
  if (!p) throw new InvalidArgumentError("preset", `unknown preset ${JSON.stringify(name)} (expected one of: ${PRESET_NAMES.join(", ")})`);
  return p;
}

function resolveType(name: string): FileType {
  const ft = fileType(name);
  if (!ft) throw new InvalidArgumentError("type", `unknown type ${JSON.stringify(name)} (expected one of: ${FILE_TYPE_NAMES.join(", ")})`);
  return ft;
}

/** The config a synthesized file has (with a layer override applied). */
export function synthConfig(p: ModelPreset, numLayers?: number): ModelConfig {
  if (numLayers !== undefined && !(Number.isInteger(numLayers) && numLayers >= 1)) {
    throw new InvalidArgumentError("layers", `expected a positive integer, got ${numLayers}`);
  }
  return numLayers === undefined ? p.config : { ...p.config, numLayers };
}

/** Every tensor of the model (ggml dims), with its type in `ft` and how it is filled. */
export function synthTensors(p: ModelPreset, c: ModelConfig, ft: FileType, pure: boolean, stdScale = 1): SynthTensor[] {
  const q = c.numHeads * c.headDim;
  const kvDim = c.numKvHeads * c.headDim;
  const std = p.initStd * stdScale;
  const residualStd = std / Math.sqrt(2 * c.numLayers);
  const ctx = { numLayers: c.numLayers, hasOutput: !c.tiedEmbeddings };
  const out: SynthTensor[] = [];
  const matrix = (name: string, dims: number[], s: number): void => {
    const { type } = chooseTensorType(ft, name, dims, GgmlType.F32, ctx, pure);
    out.push({ name, dims, type, fill: { kind: "random", std: s } });
  };
  const vector = (name: string, len: number, fill: SynthTensor["fill"]): void => {
    out.push({ name, dims: [len], type: GgmlType.F32, fill });
  };
  matrix("token_embd.weight", [c.dim, c.vocabSize], std);
  for (let i = 0; i < c.numLayers; i++) {
    const b = `blk.${i}.`;
    vector(b + "attn_norm.weight", c.dim, { kind: "const", value: 1 });
    matrix(b + "attn_q.weight", [c.dim, q], std);
    if (c.hasQkvBias) vector(b + "attn_q.bias", q, { kind: "random", std });
    matrix(b + "attn_k.weight", [c.dim, kvDim], std);
    if (c.hasQkvBias) vector(b + "attn_k.bias", kvDim, { kind: "random", std });
    matrix(b + "attn_v.weight", [c.dim, kvDim], std);
    if (c.hasQkvBias) vector(b + "attn_v.bias", kvDim, { kind: "random", std });
    matrix(b + "attn_output.weight", [q, c.dim], residualStd);
    vector(b + "ffn_norm.weight", c.dim, { kind: "const", value: 1 });
    matrix(b + "ffn_gate.weight", [c.dim, c.hiddenDim], std);
    matrix(b + "ffn_up.weight", [c.dim, c.hiddenDim], std);
    matrix(b + "ffn_down.weight", [c.hiddenDim, c.dim], residualStd);
  }
  vector("output_norm.weight", c.dim, { kind: "const", value: 1 });
  if (!c.tiedEmbeddings) matrix("output.weight", [c.dim, c.vocabSize], std);
  const rope = ropeFreqsTensor(c);
  if (rope) out.push({ name: rope.name, dims: rope.dims, type: GgmlType.F32, fill: { kind: "data", data: rope.data } });
  return out;
}

function tensorData(t: SynthTensor, seed: number): Uint8Array {
  const n = t.dims.reduce((a, b) => a * b, 1);
  switch (t.fill.kind) {
    case "const": return constantF32(n, t.fill.value);
    case "data": return t.fill.data;
    case "random": return randomTensorData(t.type, n, t.fill.std, hashSeed(seed, `${t.name}/${typeName(t.type)}`));
  }
}

/** Metadata of a synthesized file: config, tokenizer, file type, provenance. */
export function synthMetadata(p: ModelPreset, c: ModelConfig, ft: FileType, seed: number, modelsDir: string): { kvs: GgufKv[]; vocabSource: string } {
  const { vocab, source } = synthVocab(p.vocab, c.vocabSize, modelsDir);
  const kvs = [
    ...configKvs(c, `synthetic ${p.name}`),
    kv.str("general.description", `Fennec synthetic model: ${p.realModel} shapes, random weights (seed ${seed}), vocabulary: ${source}`),
    kv.u32("general.file_type", ft.ftype),
    kv.u32("general.quantization_version", 2),
    ...vocabKvs(vocab),
  ];
  return { kvs, vocabSource: source };
}

export interface SynthResult {
  readonly path: string;
  readonly preset: ModelPreset;
  /** The config as a GGUF reader will see it. */
  readonly config: ModelConfig;
  readonly fileType: FileType;
  readonly bytes: number;
  readonly seconds: number;
  readonly numTensors: number;
  readonly vocabSource: string;
}

/** Write a synthetic model of `presetName` to `outPath`. */
export async function synthesize(presetName: string, outPath: string, opts: SynthOptions): Promise<SynthResult> {
  const p = resolvePreset(presetName);
  const ft = resolveType(opts.type);
  const seed = opts.seed ?? 1;
  const c = synthConfig(p, opts.numLayers);
  const t0 = performance.now();
  const tensors = synthTensors(p, c, ft, opts.pure ?? false, opts.stdScale ?? 1);
  const { kvs, vocabSource } = synthMetadata(p, c, ft, seed, opts.modelsDir ?? defaultModelsDir());
  const bytes = await writeGgufStreaming(outPath, kvs, tensors, (i) => {
    const t = tensors[i] as SynthTensor;
    opts.onProgress?.({ index: i + 1, total: tensors.length, name: t.name, type: t.type });
    return tensorData(t, seed);
  });
  return {
    path: outPath, preset: p, config: configAsWritten(c), fileType: ft, bytes,
    seconds: (performance.now() - t0) / 1000, numTensors: tensors.length, vocabSource,
  };
}

/**
 * A vocabulary-only GGUF of a preset (its metadata, no tensors), like llama.cpp's ggml-vocab-*.gguf:
 * enough to load its tokenizer in Fennec or llama.cpp (`vocabOnly`) without writing the weights.
 */
export async function writeVocabOnly(presetName: string, outPath: string, modelsDir = defaultModelsDir()): Promise<string> {
  const p = resolvePreset(presetName);
  const { kvs, vocabSource } = synthMetadata(p, p.config, resolveType("f32"), 0, modelsDir);
  await writeGgufStreaming(outPath, kvs, [], () => new Uint8Array(0));
  return vocabSource;
}
