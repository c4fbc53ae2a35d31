/**
 * Loading what the server needs: the model's files, tokenizer and chat template on this thread
 * (JSON, templates and tokenization live with HTTP), and the engine in a worker thread (or
 * in-process on request), so compute never blocks the event loop.
 */
import * as fs from "node:fs";
import { loadModel, type LoadModelOptions } from "../index.js";
import type { BackendKind } from "../backend/registry.js";
import type { EngineClient } from "../engine/client.js";
import { createEngine, type EngineOptions } from "../engine/create.js";
import { DEFAULT_ENGINE_CONFIG } from "../engine/llm-engine.js";
import { checkKvDtype, type KvDtype } from "../backend/kv-dtype.js";
import { WorkerEngineClient } from "../engine/worker-client.js";
import { InvalidArgumentError, ModelFileError } from "../errors.js";
import { tokenizerForModel } from "../tokenizer/for-model.js";
import type { Tokenizer } from "../tokenizer/types.js";
import { openModelFiles } from "../weights/load.js";
import { resolveModelPath } from "../control/hub.js";
import type { ModelFiles } from "../weights/model-files.js";
import { ChatTemplate } from "./chat-template.js";
import type { ServerMetrics } from "./metrics.js";
import { Admission, type RequestRecord, type ServingContext } from "./openai/serving.js";

export interface LoadOptions {
  /** A GGUF file, a Hugging Face directory, a llama2.c .bin (with `tokenizer`), or an `hf:` spec. */
  readonly model: string;
  /** The name clients use in `model` (default: the file's name without extension). */
  readonly servedModelName?: string;
  readonly tokenizer?: string;
  /** Where `hf:` models are downloaded (default ~/.cache/fennec). */
  readonly cacheDir?: string;
  readonly contextLength?: number;
  readonly threads?: number;
  readonly backend?: BackendKind;
  /** Quantize the weights at load time ("q8_0", "q4_k_m", ...), as `loadModel`'s `quantize`. */
  readonly quantize?: string;
  readonly maxNumSeqs?: number;
  readonly maxNumBatchedTokens?: number;
  readonly kvCacheBytes?: number;
  /** KV-cache storage: "f16" (default), "q8_0" (headDim % 32 == 0) or "f32". */
  readonly kvCacheDtype?: KvDtype;
  /** Requests that may wait beyond the running ones before new ones get 429 (default 256). */
  readonly maxQueue?: number;
  /** A Jinja chat template file (or a tokenizer_config.json holding one), overriding the model's. */
  readonly chatTemplate?: string;
  /** "worker" (default): the engine runs in a worker thread; "main": in-process. */
  readonly engineThread?: "worker" | "main";
  /** Called once per finished generation request (records `user`, tokens, latency). */
  readonly onRequest?: (r: RequestRecord) => void;
}

export const DEFAULT_MAX_QUEUE = 256;

export async function loadServing(opts: LoadOptions, modelName: string, metrics: ServerMetrics, log: (line: string) => void): Promise<ServingContext> {
  const load: LoadModelOptions = {
    ...(opts.tokenizer !== undefined ? { tokenizer: opts.tokenizer } : {}),
    ...(opts.backend !== undefined ? { backend: opts.backend } : {}),
    ...(opts.threads !== undefined ? { threads: opts.threads } : {}),
    ...(opts.contextLength !== undefined ? { contextLength: opts.contextLength } : {}),
    ...(opts.quantize !== undefined ? { quantize: opts.quantize } : {}),
  };
  const engineOpts: EngineOptions = {
    ...(opts.maxNumSeqs !== undefined ? { maxNumSeqs: opts.maxNumSeqs } : {}),
    ...(opts.maxNumBatchedTokens !== undefined ? { maxNumBatchedTokens: opts.maxNumBatchedTokens } : {}),
    ...(opts.kvCacheBytes !== undefined ? { kvCacheBytes: opts.kvCacheBytes } : {}),
    ...(opts.kvCacheDtype !== undefined ? { kvCacheDtype: opts.kvCacheDtype } : {}),
  };
  // An hf: spec is downloaded (once) here, so the engine thread only ever sees a local path.
  const modelPath = await resolveModelPath(opts.model, opts.cacheDir !== undefined ? { cacheDir: opts.cacheDir } : {});
  let files: ModelFiles;
  let tokenizer: Tokenizer;
  let engine: EngineClient;
  let backend: string;
  const started = performance.now();
  if (opts.engineThread === "main") {
    const loaded = await loadModel(modelPath, load);
    files = loaded.files;
    tokenizer = loaded.tokenizer;
    engine = createEngine(loaded, engineOpts);
    backend = loaded.backend.name;
  } else {
    files = openModelFiles(modelPath, opts.tokenizer !== undefined ? { tokenizerPath: opts.tokenizer } : {});
    tokenizer = tokenizerForModel(files, opts.tokenizer);
    const template = resolveTemplate(opts, files, tokenizer); // fail fast, before the model loads
    if (opts.kvCacheDtype !== undefined) checkKvDtype(opts.kvCacheDtype, files.config.numKvHeads, files.config.headDim, "--kv-cache-dtype");
    const worker = await WorkerEngineClient.start({ modelPath, load, engine: engineOpts });
    engine = worker;
    backend = worker.backend;
    return context(template);
  }
  return context(resolveTemplate(opts, files, tokenizer));

  function context(template: { template: ChatTemplate | undefined; problem: string }): ServingContext {
    const contextLength = engine.config.contextLength;
    const s = engine.stats();
    const quantized = opts.quantize !== undefined ? `, weights quantized at load to ${opts.quantize}` : "";
    log(`loaded ${modelName} (${files.format}${quantized}, context ${contextLength}, KV cache ${s.kvCacheTokens} tokens ${s.kvCacheDtype}, backend ${backend}) in ${((performance.now() - started) / 1000).toFixed(1)} s` +
      (template.template ? "" : `; no chat template: /v1/chat/completions is disabled`));
    const maxNumSeqs = opts.maxNumSeqs ?? DEFAULT_ENGINE_CONFIG.maxNumSeqs;
    return {
      engine,
      tokenizer,
      modelName,
      contextLength,
      chatTemplate: template.template,
      chatTemplateProblem: template.problem,
      generationDefaults: files.generationDefaults,
      metrics,
      admission: new Admission(maxNumSeqs, opts.maxQueue ?? DEFAULT_MAX_QUEUE, engine),
      created: Math.floor(Date.now() / 1000),
      blockSize: DEFAULT_ENGINE_CONFIG.blockSize,
      live: new Set(),
      onRecord: opts.onRequest,
    };
  }
}

/**
 * --chat-template wins (a syntax error in it is a startup error); otherwise the model's own
 * template (a syntax error there disables chat with a 400 that says so).
 */
function resolveTemplate(opts: LoadOptions, files: ModelFiles, tokenizer: Tokenizer): { template: ChatTemplate | undefined; problem: string } {
  if (opts.chatTemplate !== undefined) {
    const source = readTemplateFile(opts.chatTemplate);
    try {
      return { template: ChatTemplate.forTokenizer(source, tokenizer), problem: "" };
    } catch (e) {
      throw new InvalidArgumentError("--chat-template", `${opts.chatTemplate}: not a valid Jinja template: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  const own = files.chatTemplate;
  if (own === undefined || own.trim() === "") {
    return { template: undefined, problem: "this model has no chat template: start the server with --chat-template FILE (a Jinja template), or use /v1/completions" };
  }
  try {
    return { template: ChatTemplate.forTokenizer(own, tokenizer), problem: "" };
  } catch (e) {
    return { template: undefined, problem: `the model's chat template cannot be parsed (${e instanceof Error ? e.message : String(e)}): start the server with --chat-template FILE, or use /v1/completions` };
  }
}

/** A Jinja file, or a JSON file with a string `chat_template` (tokenizer_config.json). */
function readTemplateFile(p: string): string {
  let text: string;
  try {
    text = fs.readFileSync(p, "utf8");
  } catch (e) {
    throw new ModelFileError(p, "chat template", `cannot read (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  if (p.endsWith(".json")) {
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new ModelFileError(p, "chat template", "not valid JSON");
    }
    const t = json !== null && typeof json === "object" ? (json as Record<string, unknown>).chat_template : undefined;
    if (typeof t !== "string") throw new ModelFileError(p, "chat_template", "expected a string field chat_template");
    return t;
  }
  return text;
}
