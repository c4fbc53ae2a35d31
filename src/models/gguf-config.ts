/**
 * ModelConfig from GGUF metadata, for the Llama family of architectures: every key is
 * `<arch>.<name>` as llama.cpp writes it. Missing required keys fail naming the file and key.
 */
import type { ModelConfig, RopeScaling, RopeStyle } from "./config.js";
import { type GgufFile, metaArray, metaNumber, metaString } from "../weights/gguf.js";
import { ModelFileError } from "../errors.js";

export interface ArchTraits {
  readonly ropeStyle: RopeStyle;
  readonly hasQkvBias: boolean;
}

export function llamaFamilyConfigFromGguf(file: GgufFile, arch: string, traits: ArchTraits): ModelConfig {
  const k = (name: string): string => `${arch}.${name}`;
  const dim = metaNumber(file, k("embedding_length"));
  const numHeads = metaNumber(file, k("attention.head_count"));
  const numKvHeads = metaNumber(file, k("attention.head_count_kv"), numHeads) ?? numHeads;
  const headDim = metaNumber(file, k("attention.key_length"), dim / numHeads) ?? dim / numHeads;
  if (!Number.isInteger(headDim) || numHeads % numKvHeads !== 0) {
    throw new ModelFileError(file.path, k("attention.head_count_kv"),
      `expected head_count (${numHeads}) to be a multiple of head_count_kv (${numKvHeads}) and an integer head size (got ${headDim})`);
  }
  const embd = file.tensors.find((t) => t.name === "token_embd.weight");
  const vocabSize = metaNumber(file, k("vocab_size"), undefined)
    ?? metaArray(file, "tokenizer.ggml.tokens")?.length
    ?? embd?.dims[1];
  if (vocabSize === undefined) throw new ModelFileError(file.path, k("vocab_size"), "missing, and no tokenizer.ggml.tokens or token_embd.weight to infer it from");

  const scalingType = metaString(file, k("rope.scaling.type"), "none") ?? "none";
  let ropeScaling: RopeScaling = { type: "none" };
  if (scalingType === "linear") {
    ropeScaling = { type: "linear", factor: metaNumber(file, k("rope.scaling.factor")) };
  } else if (scalingType !== "none" && scalingType !== "yarn") {
    throw new ModelFileError(file.path, k("rope.scaling.type"), `expected "none" or "linear", got "${scalingType}"`);
  } else if (scalingType === "yarn") {
    throw new ModelFileError(file.path, k("rope.scaling.type"), `"yarn" RoPE scaling is not supported yet (expected "none" or "linear")`);
  }
  // Llama 3.1+ scaling arrives as the `rope_freqs.weight` tensor (per-frequency divisors), applied at load.

  const hasOutput = file.tensors.some((t) => t.name === "output.weight");
  return {
    arch,
    vocabSize,
    dim,
    hiddenDim: metaNumber(file, k("feed_forward_length")),
    numLayers: metaNumber(file, k("block_count")),
    numHeads,
    numKvHeads,
    headDim,
    contextLength: metaNumber(file, k("context_length")),
    normEps: metaNumber(file, k("attention.layer_norm_rms_epsilon")),
    ropeTheta: metaNumber(file, k("rope.freq_base"), 10000) ?? 10000,
    ropeDim: metaNumber(file, k("rope.dimension_count"), headDim) ?? headDim,
    ropeStyle: traits.ropeStyle,
    ropeScaling,
    tiedEmbeddings: !hasOutput,
    hasQkvBias: traits.hasQkvBias,
  };
}
