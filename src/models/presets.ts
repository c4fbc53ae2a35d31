/**
 * Shapes of real models, for synthetic GGUF files with random weights (`fennec synth`): speed and
 * memory depend only on shapes and types, so these stand in for the real files on machines that
 * cannot download them. Numbers are from each model's Hugging Face config.json:
 *
 *  SmolLM2-135M    LlamaForCausalLM  hidden 576, intermediate 1536, 30 layers, 9 heads / 3 kv, head 64,
 *                  vocab 49152, tied, rope_theta 100000, rms_norm_eps 1e-5, max_position 8192
 *  Qwen2.5-0.5B    Qwen2ForCausalLM  hidden 896, intermediate 4864, 24 layers, 14 heads / 2 kv, head 64,
 *                  vocab 151936, tied, rope_theta 1e6, rms_norm_eps 1e-6, max_position 32768, qkv bias
 *  Llama-3.2-1B    LlamaForCausalLM  hidden 2048, intermediate 8192, 16 layers, 32 heads / 8 kv, head 64,
 *                  vocab 128256, tied, rope_theta 500000, rms_norm_eps 1e-5, max_position 131072,
 *                  rope_scaling llama3 (factor 32, low 1, high 4, original 8192)
 *  TinyLlama-1.1B  LlamaForCausalLM  hidden 2048, intermediate 5632, 22 layers, 32 heads / 4 kv, head 64,
 *                  vocab 32000, untied, rope_theta 10000, rms_norm_eps 1e-5, max_position 2048
 *
 * `tiny` / `tiny-qwen2` are a few MB, for tests: every matrix has rows of 256 or 768 (multiples of
 * 256), so every K-quant applies to every weight.
 *
 * Configs are as a GGUF reader sees them (Llama: ropeStyle "norm", the Meta/GGUF Q/K layout).
 */
import type { ModelConfig } from "./config.js";

/** Where a preset's vocabulary comes from (files under ../shared/models/tokenizers, see synth-vocab.ts). */
export type VocabSpec =
  /** Qwen2's tokenizer.json (byte-level BPE, 151669 tokens), padded with [PADi] to the vocab size. */
  | { readonly kind: "qwen2" }
  /** The Llama / Llama-2 SentencePiece vocabulary (32000), truncated to the vocab size. */
  | { readonly kind: "llama-spm" }
  /**
   * GPT-2's byte-level BPE vocabulary (50256 pieces and their merges), truncated or padded, with
   * `specials` (control tokens) at the start, the end, or from a given id.
   */
  | {
      readonly kind: "byte-bpe";
      readonly specials: readonly string[];
      readonly specialsAt: "start" | "end" | number;
      readonly bos?: string;
      readonly eos?: string;
      readonly eot?: string;
      readonly addBos: boolean;
    };

export interface ModelPreset {
  readonly name: string;
  /** The real model whose shapes these are. */
  readonly realModel: string;
  readonly config: ModelConfig;
  readonly vocab: VocabSpec;
  /** Std of the random matrices (the models' initializer_range); output projections get std / sqrt(2 * layers). */
  readonly initStd: number;
}

const LLAMA_BASE = { arch: "llama", ropeStyle: "norm", hasQkvBias: false, ropeScaling: { type: "none" } } as const;
const QWEN2_BASE = { arch: "qwen2", ropeStyle: "neox", hasQkvBias: true, ropeScaling: { type: "none" } } as const;

/** Llama-3's 256 special tokens (ids 128000..128255), by their real names. */
const LLAMA3_SPECIALS: readonly string[] = (() => {
  const named: Record<number, string> = {
    0: "<|begin_of_text|>", 1: "<|end_of_text|>", 4: "<|finetune_right_pad_id|>", 6: "<|start_header_id|>",
    7: "<|end_header_id|>", 8: "<|eom_id|>", 9: "<|eot_id|>", 10: "<|python_tag|>",
  };
  let reserved = 0;
  return Array.from({ length: 256 }, (_, i) => named[i] ?? `<|reserved_special_token_${reserved++}|>`);
})();

const CHATML_SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"] as const;

export const PRESETS: readonly ModelPreset[] = [
  {
    name: "smollm2-135m",
    realModel: "HuggingFaceTB/SmolLM2-135M",
    config: { ...LLAMA_BASE, vocabSize: 49152, dim: 576, hiddenDim: 1536, numLayers: 30, numHeads: 9, numKvHeads: 3, headDim: 64,
      contextLength: 8192, normEps: 1e-5, ropeTheta: 100000, ropeDim: 64, tiedEmbeddings: true },
    vocab: { kind: "byte-bpe", specials: CHATML_SPECIALS, specialsAt: "start", bos: "<|endoftext|>", eos: "<|endoftext|>", eot: "<|im_end|>", addBos: false },
    initStd: 0.02,
  },
  {
    name: "qwen2.5-0.5b",
    realModel: "Qwen/Qwen2.5-0.5B",
    config: { ...QWEN2_BASE, vocabSize: 151936, dim: 896, hiddenDim: 4864, numLayers: 24, numHeads: 14, numKvHeads: 2, headDim: 64,
      contextLength: 32768, normEps: 1e-6, ropeTheta: 1000000, ropeDim: 64, tiedEmbeddings: true },
    vocab: { kind: "qwen2" },
    initStd: 0.02,
  },
  {
    name: "llama-3.2-1b",
    realModel: "meta-llama/Llama-3.2-1B",
    config: { ...LLAMA_BASE, vocabSize: 128256, dim: 2048, hiddenDim: 8192, numLayers: 16, numHeads: 32, numKvHeads: 8, headDim: 64,
      contextLength: 131072, normEps: 1e-5, ropeTheta: 500000, ropeDim: 64, tiedEmbeddings: true,
      ropeScaling: { type: "llama3", factor: 32, lowFreqFactor: 1, highFreqFactor: 4, originalContextLength: 8192 } },
    vocab: { kind: "byte-bpe", specials: LLAMA3_SPECIALS, specialsAt: 128000, bos: "<|begin_of_text|>", eos: "<|end_of_text|>", eot: "<|eot_id|>", addBos: true },
    initStd: 0.02,
  },
  {
    name: "tinyllama-1.1b",
    realModel: "TinyLlama/TinyLlama-1.1B-Chat-v1.0",
    config: { ...LLAMA_BASE, vocabSize: 32000, dim: 2048, hiddenDim: 5632, numLayers: 22, numHeads: 32, numKvHeads: 4, headDim: 64,
      contextLength: 2048, normEps: 1e-5, ropeTheta: 10000, ropeDim: 64, tiedEmbeddings: false },
    vocab: { kind: "llama-spm" },
    initStd: 0.02,
  },
  {
    name: "tiny",
    realModel: "test model, Llama architecture",
    config: { ...LLAMA_BASE, vocabSize: 4096, dim: 256, hiddenDim: 768, numLayers: 4, numHeads: 4, numKvHeads: 2, headDim: 64,
      contextLength: 2048, normEps: 1e-5, ropeTheta: 10000, ropeDim: 64, tiedEmbeddings: false },
    vocab: { kind: "llama-spm" },
    initStd: 0.02,
  },
  {
    name: "tiny-qwen2",
    realModel: "test model, Qwen2 architecture",
    config: { ...QWEN2_BASE, vocabSize: 4096, dim: 256, hiddenDim: 768, numLayers: 4, numHeads: 4, numKvHeads: 2, headDim: 64,
      contextLength: 4096, normEps: 1e-6, ropeTheta: 1000000, ropeDim: 64, tiedEmbeddings: true },
    vocab: { kind: "byte-bpe", specials: CHATML_SPECIALS, specialsAt: "end", bos: "<|endoftext|>", eos: "<|im_end|>", addBos: false },
    initStd: 0.02,
  },
];

export const PRESET_NAMES: readonly string[] = PRESETS.map((p) => p.name);

export function preset(name: string): ModelPreset | undefined {
  return PRESETS.find((p) => p.name === name.toLowerCase());
}

/** Parameter count of a config (embeddings counted once when tied). */
export function parameterCount(c: ModelConfig): number {
  const q = c.numHeads * c.headDim;
  const kv = c.numKvHeads * c.headDim;
  const perLayer = 2 * c.dim + c.dim * q + 2 * c.dim * kv + q * c.dim + 3 * c.dim * c.hiddenDim + (c.hasQkvBias ? q + 2 * kv : 0);
  return c.vocabSize * c.dim * (c.tiedEmbeddings ? 1 : 2) + c.numLayers * perLayer + c.dim;
}
