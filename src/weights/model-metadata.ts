/**
 * A ModelConfig as GGUF metadata, the inverse of `models/gguf-config.ts` (the keys llama.cpp's
 * convert_hf_to_gguf.py writes for the Llama family), plus the `rope_freqs.weight` tensor through
 * which llama.cpp applies Llama-3 RoPE scaling.
 */
import type { ModelConfig } from "../models/config.js";
import { GgmlType } from "../quant/formats.js";
import { kv, type GgufKv } from "./gguf-writer.js";
import type { WeightTensor } from "./tensor.js";

/** general.* and `<arch>.*` entries for a config (no tokenizer, no file type). */
export function configKvs(c: ModelConfig, name: string): GgufKv[] {
  const k = (key: string): string => `${c.arch}.${key}`;
  const out: GgufKv[] = [
    kv.str("general.architecture", c.arch),
    kv.str("general.name", name),
    kv.u32(k("vocab_size"), c.vocabSize),
    kv.u32(k("context_length"), c.contextLength),
    kv.u32(k("embedding_length"), c.dim),
    kv.u32(k("feed_forward_length"), c.hiddenDim),
    kv.u32(k("block_count"), c.numLayers),
    kv.u32(k("attention.head_count"), c.numHeads),
    kv.u32(k("attention.head_count_kv"), c.numKvHeads),
    kv.f32(k("attention.layer_norm_rms_epsilon"), c.normEps),
    kv.f32(k("rope.freq_base"), c.ropeTheta),
    kv.u32(k("rope.dimension_count"), c.ropeDim),
  ];
  if (c.headDim * c.numHeads !== c.dim) {
    out.push(kv.u32(k("attention.key_length"), c.headDim), kv.u32(k("attention.value_length"), c.headDim));
  }
  if (c.ropeScaling.type === "linear") {
    out.push(kv.str(k("rope.scaling.type"), "linear"), kv.f32(k("rope.scaling.factor"), c.ropeScaling.factor));
  }
  return out;
}

/**
 * Llama-3 RoPE scaling as per-frequency divisors (convert_hf_to_gguf.py's rope_factors): 1 for
 * wavelengths under original_context / high_freq_factor, `factor` above original_context /
 * low_freq_factor, and a smooth blend between. Undefined when the config has no llama3 scaling.
 */
export function llama3RopeFactors(c: ModelConfig): Float32Array | undefined {
  const s = c.ropeScaling;
  if (s.type !== "llama3") return undefined;
  const half = c.ropeDim / 2;
  const out = new Float32Array(half);
  const lowWavelen = s.originalContextLength / s.lowFreqFactor;
  const highWavelen = s.originalContextLength / s.highFreqFactor;
  for (let j = 0; j < half; j++) {
    const freq = 1 / Math.pow(c.ropeTheta, (2 * j) / c.ropeDim);
    const wavelen = (2 * Math.PI) / freq;
    if (wavelen < highWavelen) {
      out[j] = 1;
    } else if (wavelen > lowWavelen) {
      out[j] = s.factor;
    } else {
      const smooth = (s.originalContextLength / wavelen - s.lowFreqFactor) / (s.highFreqFactor - s.lowFreqFactor);
      out[j] = 1 / ((1 - smooth) / s.factor + smooth);
    }
  }
  return out;
}

/** rope_freqs.weight as an F32 tensor, or undefined when the config needs none. */
export function ropeFreqsTensor(c: ModelConfig): WeightTensor | undefined {
  const f = llama3RopeFactors(c);
  if (!f) return undefined;
  return { name: "rope_freqs.weight", type: GgmlType.F32, dims: [f.length], data: new Uint8Array(f.buffer) };
}

/** The config a GGUF reader will see for a file written with configKvs (+ rope_freqs): llama3 scaling becomes the tensor. */
export function configAsWritten(c: ModelConfig): ModelConfig {
  return { ...c, ropeStyle: c.arch === "llama" ? "norm" : c.ropeStyle, ropeScaling: c.ropeScaling.type === "llama3" ? { type: "none" } : c.ropeScaling };
}
