/**
 * ModelConfig from a Hugging Face `config.json` (LlamaForCausalLM, MistralForCausalLM,
 * Qwen2ForCausalLM). Validated by hand: every failure names the file and the field. Defaults are
 * those of the transformers config classes (LlamaConfig, MistralConfig, Qwen2Config).
 *
 * RoPE: HF Llama/Mistral checkpoints store Q and K permuted for HF's rotate_half, so they run as-is
 * with ropeStyle "neox" (see `permuteQK` in hf.ts). Qwen2 is NeoX-style everywhere.
 */
import type { ModelConfig, RopeScaling } from "../models/config.js";
import { ModelFileError, UnsupportedError } from "../errors.js";

interface HfArch {
  readonly arch: "llama" | "qwen2";
  readonly hasQkvBias: boolean;
  /** transformers' default for max_position_embeddings when config.json omits it. */
  readonly defaultContext: number;
}

const LLAMA: HfArch = { arch: "llama", hasQkvBias: false, defaultContext: 2048 };
const MISTRAL: HfArch = { arch: "llama", hasQkvBias: false, defaultContext: 4096 * 32 };
const QWEN2: HfArch = { arch: "qwen2", hasQkvBias: true, defaultContext: 32768 };

const BY_ARCHITECTURE: ReadonlyMap<string, HfArch> = new Map([
  ["LlamaForCausalLM", LLAMA], ["MistralForCausalLM", MISTRAL], ["Qwen2ForCausalLM", QWEN2],
]);
const BY_MODEL_TYPE: ReadonlyMap<string, HfArch> = new Map([
  ["llama", LLAMA], ["mistral", MISTRAL], ["qwen2", QWEN2],
]);

export const SUPPORTED_HF_ARCHITECTURES: readonly string[] = [...BY_ARCHITECTURE.keys()];

/** Reads typed fields of one JSON object, naming the file and field on failure. */
class Fields {
  constructor(readonly file: string, readonly obj: Record<string, unknown>, readonly prefix = "") {}
  private name(key: string): string { return this.prefix + key; }
  /** undefined when absent or null (HF writes null for "use the default"). */
  raw(key: string): unknown {
    const v = this.obj[key];
    return v === null ? undefined : v;
  }
  number(key: string): number;
  number(key: string, fallback: number): number;
  number(key: string, ...fallback: number[]): number {
    const v = this.raw(key);
    if (v === undefined) {
      if (fallback.length > 0) return fallback[0] as number;
      throw new ModelFileError(this.file, this.name(key), "missing (expected a number)");
    }
    if (typeof v !== "number" || !Number.isFinite(v)) throw new ModelFileError(this.file, this.name(key), `expected a number, got ${show(v)}`);
    return v;
  }
  posInt(key: string, ...fallback: number[]): number {
    const v = this.number(key, ...(fallback as [number]));
    if (!Number.isSafeInteger(v) || v <= 0) throw new ModelFileError(this.file, this.name(key), `expected a positive integer, got ${v}`);
    return v;
  }
  positive(key: string, ...fallback: number[]): number {
    const v = this.number(key, ...(fallback as [number]));
    if (!(v > 0)) throw new ModelFileError(this.file, this.name(key), `expected a positive number, got ${v}`);
    return v;
  }
  bool(key: string, fallback: boolean): boolean {
    const v = this.raw(key);
    if (v === undefined) return fallback;
    if (typeof v !== "boolean") throw new ModelFileError(this.file, this.name(key), `expected true or false, got ${show(v)}`);
    return v;
  }
  string(key: string): string | undefined {
    const v = this.raw(key);
    if (v === undefined) return undefined;
    if (typeof v !== "string") throw new ModelFileError(this.file, this.name(key), `expected a string, got ${show(v)}`);
    return v;
  }
}

export function configFromHfJson(json: unknown, file: string): ModelConfig {
  if (!isRecord(json)) throw new ModelFileError(file, "config", "expected a JSON object");
  const f = new Fields(file, json);
  const a = hfArch(f);

  const hiddenAct = f.string("hidden_act") ?? "silu";
  if (hiddenAct !== "silu") throw new UnsupportedError(file, "hidden_act", `"${hiddenAct}" is not supported (expected "silu")`);
  if (f.bool("attention_bias", false) && a.arch === "llama") {
    throw new UnsupportedError(file, "attention_bias", "true (biases on q/k/v/o) is not supported for Llama; expected false");
  }
  if (f.bool("mlp_bias", false)) throw new UnsupportedError(file, "mlp_bias", "true is not supported; expected false");

  const dim = f.posInt("hidden_size");
  const numHeads = f.posInt("num_attention_heads");
  const numKvHeads = f.posInt("num_key_value_heads", numHeads);
  if (numHeads % numKvHeads !== 0) {
    throw new ModelFileError(file, "num_key_value_heads", `num_attention_heads (${numHeads}) must be a multiple of num_key_value_heads (${numKvHeads})`);
  }
  const headDimDefault = dim / numHeads;
  if (f.raw("head_dim") === undefined && !Number.isInteger(headDimDefault)) {
    throw new ModelFileError(file, "head_dim", `missing, and hidden_size (${dim}) is not a multiple of num_attention_heads (${numHeads})`);
  }
  const headDim = f.posInt("head_dim", headDimDefault);
  if (headDim % 2 !== 0) throw new ModelFileError(file, "head_dim", `expected an even head size for RoPE, got ${headDim}`);

  let contextLength = f.posInt("max_position_embeddings", a.defaultContext);
  // Sliding-window attention is not implemented: never run past the window (where it would differ).
  // Mistral: on unless sliding_window is null (MistralConfig defaults it to 4096); Qwen2: only with
  // use_sliding_window; Llama has no such field.
  const usesWindow = a === MISTRAL ? json["sliding_window"] !== null : a === QWEN2 && f.bool("use_sliding_window", false);
  if (usesWindow) contextLength = Math.min(contextLength, f.posInt("sliding_window", 4096));

  const config: ModelConfig = {
    arch: a.arch,
    vocabSize: f.posInt("vocab_size"),
    dim,
    hiddenDim: f.posInt("intermediate_size"),
    numLayers: f.posInt("num_hidden_layers"),
    numHeads,
    numKvHeads,
    headDim,
    contextLength,
    normEps: f.positive("rms_norm_eps", 1e-6),
    ropeTheta: f.positive("rope_theta", 10000),
    ropeDim: headDim,
    ropeStyle: "neox",
    ropeScaling: ropeScaling(file, f.raw("rope_scaling")),
    tiedEmbeddings: f.bool("tie_word_embeddings", false),
    hasQkvBias: a.hasQkvBias,
  };
  return Object.freeze(config);
}

function hfArch(f: Fields): HfArch {
  const archs = f.raw("architectures");
  const modelType = f.string("model_type");
  let fromArchs: HfArch | undefined;
  if (archs !== undefined) {
    if (!Array.isArray(archs) || !archs.every((x) => typeof x === "string")) {
      throw new ModelFileError(f.file, "architectures", `expected a list of class names, got ${show(archs)}`);
    }
    const known = (archs as string[]).find((x) => BY_ARCHITECTURE.has(x));
    if (known === undefined) {
      throw new UnsupportedError(f.file, "architectures", `${JSON.stringify(archs)} is not supported (expected one of: ${SUPPORTED_HF_ARCHITECTURES.join(", ")})`);
    }
    fromArchs = BY_ARCHITECTURE.get(known);
  }
  let fromType: HfArch | undefined;
  if (modelType !== undefined) {
    fromType = BY_MODEL_TYPE.get(modelType);
    if (fromType === undefined) {
      throw new UnsupportedError(f.file, "model_type", `"${modelType}" is not supported (expected one of: ${[...BY_MODEL_TYPE.keys()].join(", ")})`);
    }
  }
  if (fromArchs && fromType && fromArchs.arch !== fromType.arch) {
    throw new ModelFileError(f.file, "model_type", `"${modelType}" contradicts architectures ${JSON.stringify(archs)}`);
  }
  const a = fromArchs ?? fromType;
  if (!a) {
    throw new ModelFileError(f.file, "architectures", `missing, and no model_type either (expected one of: ${SUPPORTED_HF_ARCHITECTURES.join(", ")})`);
  }
  return a;
}

function ropeScaling(file: string, raw: unknown): RopeScaling {
  if (raw === undefined) return { type: "none" };
  if (!isRecord(raw)) throw new ModelFileError(file, "rope_scaling", `expected an object or null, got ${show(raw)}`);
  const f = new Fields(file, raw, "rope_scaling.");
  const kind = f.string("rope_type") ?? f.string("type");
  switch (kind) {
    case undefined:
    case "default":
      return { type: "none" };
    case "linear":
      return { type: "linear", factor: f.positive("factor") };
    case "llama3": {
      const lowFreqFactor = f.positive("low_freq_factor");
      const highFreqFactor = f.positive("high_freq_factor");
      if (highFreqFactor <= lowFreqFactor) {
        throw new ModelFileError(file, "rope_scaling.high_freq_factor", `must exceed low_freq_factor (${lowFreqFactor}), got ${highFreqFactor}`);
      }
      return {
        type: "llama3",
        factor: f.positive("factor"),
        lowFreqFactor,
        highFreqFactor,
        originalContextLength: f.posInt("original_max_position_embeddings"),
      };
    }
    default:
      throw new UnsupportedError(file, "rope_scaling.rope_type", `"${kind}" is not supported (expected "default", "linear" or "llama3")`);
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function show(v: unknown): string {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 60 ? s.slice(0, 60) + "..." : s;
}
