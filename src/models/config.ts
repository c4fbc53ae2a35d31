/**
 * One plain object describes a model's shape (llama2.c style). It is filled from GGUF metadata,
 * a Hugging Face config.json or a llama2.c header, then frozen.
 */
export type RopeStyle =
  /** Rotate adjacent pairs (x[2i], x[2i+1]): Meta / llama2.c / llama.cpp's LLAMA layout. */
  | "norm"
  /** Rotate halves (x[i], x[i + d/2]): GPT-NeoX layout, used by Qwen2 and by HF Llama checkpoints before un-permutation. */
  | "neox";

export type RopeScaling =
  | { readonly type: "none" }
  | { readonly type: "linear"; readonly factor: number }
  | {
      readonly type: "llama3";
      readonly factor: number;
      readonly lowFreqFactor: number;
      readonly highFreqFactor: number;
      readonly originalContextLength: number;
    };

export interface ModelConfig {
  /** Architecture key in the model registry (GGUF `general.architecture`, e.g. "llama", "qwen2"). */
  readonly arch: string;
  readonly vocabSize: number;
  /** Residual stream width (hidden_size / embedding_length). */
  readonly dim: number;
  /** Feed-forward inner width (intermediate_size / feed_forward_length). */
  readonly hiddenDim: number;
  readonly numLayers: number;
  readonly numHeads: number;
  readonly numKvHeads: number;
  readonly headDim: number;
  /** Maximum positions the model was trained for (clamps the context window). */
  readonly contextLength: number;
  readonly normEps: number;
  readonly ropeTheta: number;
  /** Number of leading dims of each head that are rotated (== headDim for Llama and Qwen2). */
  readonly ropeDim: number;
  readonly ropeStyle: RopeStyle;
  readonly ropeScaling: RopeScaling;
  /** Output projection shares the token embedding matrix. */
  readonly tiedEmbeddings: boolean;
  /** q/k/v projections carry a bias (Qwen2). */
  readonly hasQkvBias: boolean;
}
