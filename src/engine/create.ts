/** Build a batched engine for a loaded model, with the KV cache sized from a memory budget. */
import type { LoadedModel } from "../index.js";
import { EngineLoop } from "./engine-loop.js";
import { parseKvDtype } from "../backend/kv-dtype.js";
import { DEFAULT_ENGINE_CONFIG, LLMEngine, defaultKvCacheBytes, type EngineConfig } from "./llm-engine.js";

export type EngineOptions = Partial<EngineConfig>;

/** Unset options take DEFAULT_ENGINE_CONFIG's values; the KV dtype defaults to the one the model was loaded with. */
export function createEngine(loaded: LoadedModel, opts: EngineOptions = {}): EngineLoop {
  const maxNumSeqs = opts.maxNumSeqs ?? DEFAULT_ENGINE_CONFIG.maxNumSeqs;
  const kvCacheDtype = parseKvDtype("kvCacheDtype", opts.kvCacheDtype ?? loaded.kvCacheDtype);
  const config: EngineConfig = {
    ...DEFAULT_ENGINE_CONFIG,
    ...opts,
    maxNumSeqs,
    kvCacheDtype,
    kvCacheBytes: opts.kvCacheBytes ?? defaultKvCacheBytes(loaded.model, maxNumSeqs, kvCacheDtype),
  };
  const stopIds = new Set([...loaded.tokenizer.stopIds, ...(loaded.files.generationDefaults.eosTokenIds ?? [])]);
  return new EngineLoop(new LLMEngine(loaded.model, config, stopIds));
}
