/**
 * What every model loader (GGUF, Hugging Face directory, llama2.c checkpoint) produces: one shape
 * config, the tensors under their GGUF names, and where the tokenizer and chat template come from.
 * The forward pass only ever sees this, so it does not care which format a model came in.
 *
 * Tensor names (GGUF / llama.cpp convention):
 *   token_embd.weight [dim, vocab]           output_norm.weight [dim]         output.weight [dim, vocab] (absent if tied)
 *   blk.{i}.attn_norm.weight [dim]           blk.{i}.ffn_norm.weight [dim]
 *   blk.{i}.attn_q.weight [dim, nH*hd]       blk.{i}.attn_k.weight / attn_v.weight [dim, nKv*hd]
 *   blk.{i}.attn_q.bias / attn_k.bias / attn_v.bias (Qwen2)
 *   blk.{i}.attn_output.weight [nH*hd, dim]
 *   blk.{i}.ffn_gate.weight / ffn_up.weight [dim, hidden]     blk.{i}.ffn_down.weight [hidden, dim]
 * (dims in ggml order: dims[0] is the row length.)
 */
import type { ModelConfig } from "../models/config.js";
import type { GgufFile } from "./gguf.js";
import type { WeightTensor } from "./tensor.js";

export type TokenizerSource =
  | { readonly kind: "gguf"; readonly file: GgufFile }
  | { readonly kind: "tokenizer.json"; readonly path: string; readonly configPath: string | undefined }
  | { readonly kind: "llama2c"; readonly path: string };

/** Defaults a model ships (HF generation_config.json); request parameters override them. */
export interface GenerationDefaults {
  readonly temperature?: number;
  readonly topP?: number;
  readonly topK?: number;
  readonly minP?: number;
  readonly repetitionPenalty?: number;
  /** Extra end-of-generation token ids (generation_config `eos_token_id`, which may be a list). */
  readonly eosTokenIds?: readonly number[];
}

export interface ModelFiles {
  /** The file or directory the user named. */
  readonly path: string;
  readonly format: "gguf" | "hf" | "llama2c";
  readonly config: ModelConfig;
  /** Lookup by GGUF tensor name; tensors are read lazily (first `get` reads the bytes off disk). */
  getTensor(name: string): WeightTensor | undefined;
  /**
   * Drop the cached copy of a tensor (the next `getTensor` reads it again). Load-time quantization
   * calls it once a tensor is converted, so the source bytes do not stay resident next to the result.
   */
  forgetTensor(name: string): void;
  /** Names and types of all tensors, without reading them (for `fennec info`). */
  readonly tensorInfos: readonly { readonly name: string; readonly type: number; readonly dims: readonly number[] }[];
  readonly tokenizerSource: TokenizerSource | undefined;
  readonly chatTemplate: string | undefined;
  readonly generationDefaults: GenerationDefaults;
  /** Human-facing facts for `fennec info` (model name, file type, ...). */
  readonly info: Readonly<Record<string, string | number | boolean>>;
}
