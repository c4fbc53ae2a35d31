/**
 * Fennec's library API.
 *
 *   import { loadModel, loadTokenizer } from "fennec";
 *   const model = await loadModel("stories260K.gguf");
 *   for await (const chunk of model.generate("Once upon a time", { maxTokens: 64, temperature: 0 })) process.stdout.write(chunk.text);
 */
import { createBackend, type BackendKind } from "./backend/registry.js";
import type { Backend } from "./backend/backend.js";
import type { ModelConfig } from "./models/config.js";
import { packedModelFiles } from "./backend/pack-weights.js";
import { buildModel } from "./models/registry.js";
import type { Model } from "./models/llama.js";
import { generate, type GenerateParams, type GenerationChunk } from "./engine/generate.js";
import { openModelFiles } from "./weights/load.js";
import { quantizeModelFiles } from "./quant/model-quantize.js";
import { resolveModelPath } from "./control/hub.js";
import { InvalidArgumentError } from "./errors.js";
import { DEFAULT_KV_DTYPE, checkKvDtype, parseKvDtype, type KvDtype } from "./backend/kv-dtype.js";
import type { ModelFiles } from "./weights/model-files.js";
import { loadTokenizer } from "./tokenizer/index.js";
import { tokenizerForModel } from "./tokenizer/for-model.js";
import type { Tokenizer } from "./tokenizer/types.js";

export interface LoadModelOptions {
  /** Tokenizer file, for formats that do not embed one (llama2.c) or to override the model's. */
  readonly tokenizer?: string;
  /** "auto" (native if available, else reference), "native" or "reference". */
  readonly backend?: BackendKind;
  /** Compute threads for the native backend (default: all cores). */
  readonly threads?: number;
  /** Context window in tokens (default: the model's trained context length). */
  readonly contextLength?: number;
  /** Where `hf:` models are downloaded (default ~/.cache/fennec). */
  readonly cacheDir?: string;
  /** Quantize the weights at load time to a llama.cpp file type ("q8_0", "q4_0", "q4_k_m", "f16", ...). */
  readonly quantize?: string;
  /**
   * KV-cache storage for `generate` (and the default for `createEngine`): "f16" (default), "q8_0"
   * (needs headDim % 32 == 0) or "f32".
   */
  readonly kvCacheDtype?: KvDtype;
}

export interface LoadedModel {
  /** The files as loaded (their config is the model's own, e.g. its trained context length). */
  readonly files: ModelFiles;
  /** The config in effect (with any `contextLength` override). */
  readonly config: ModelConfig;
  readonly tokenizer: Tokenizer;
  readonly backend: Backend;
  /** The forward pass (for callers that drive batches themselves). */
  readonly model: Model;
  /** The KV-cache dtype `generate` uses (checked against the model at load). */
  readonly kvCacheDtype: KvDtype;
  /** Stream a completion of `prompt` (text, or token ids used as-is). */
  generate(prompt: string | readonly number[], params?: GenerateParams): AsyncIterable<GenerationChunk>;
}

/** `path`: a GGUF file, an HF directory, a llama2.c .bin, or an `hf:owner/repo[/file.gguf]` spec (downloaded once). */
export async function loadModel(path: string, opts: LoadModelOptions = {}): Promise<LoadedModel> {
  const localPath = await resolveModelPath(path, opts.cacheDir !== undefined ? { cacheDir: opts.cacheDir } : {});
  const raw = openModelFiles(localPath, opts.tokenizer !== undefined ? { tokenizerPath: opts.tokenizer } : {});
  const opened = opts.quantize !== undefined ? quantizeModelFiles(raw, opts.quantize) : raw;
  if (opts.contextLength !== undefined && !(Number.isInteger(opts.contextLength) && opts.contextLength > 0)) {
    throw new InvalidArgumentError("contextLength", `expected a positive integer, got ${opts.contextLength}`);
  }
  const files: ModelFiles = opts.contextLength === undefined ? opened
    : { ...opened, config: { ...opened.config, contextLength: opts.contextLength } };
  const tokenizer = tokenizerForModel(files, opts.tokenizer);
  // Checked before the weights are used: a q8_0 cache for a model with headDim 8 fails here, clearly.
  const kvCacheDtype = parseKvDtype("kvCacheDtype", opts.kvCacheDtype ?? DEFAULT_KV_DTYPE);
  checkKvDtype(kvCacheDtype, files.config.numKvHeads, files.config.headDim);
  const backend = createBackend(opts.backend ?? "auto", opts.threads);
  const model = buildModel(packedModelFiles(files, backend), backend);
  const extraStopIds = files.generationDefaults.eosTokenIds ?? [];
  return {
    files: opened,
    config: files.config,
    tokenizer,
    backend,
    model,
    kvCacheDtype,
    generate: (prompt, params = {}) => generate(model, tokenizer, prompt, params, extraStopIds, kvCacheDtype),
  };
}

export { loadTokenizer };
export type { Tokenizer, GenerateParams, GenerationChunk, ModelConfig, Backend, ModelFiles, KvDtype };
export type { SamplingParams } from "./sampling/types.js";
export { FennecError, ModelFileError, UnsupportedError, InvalidArgumentError } from "./errors.js";
export { createEngine, type EngineOptions } from "./engine/create.js";
export type { EngineClient, EngineStats, StepInfo } from "./engine/client.js";
export type { RequestParams } from "./engine/llm-engine.js";
export type { RequestEvent } from "./engine/engine-loop.js";
