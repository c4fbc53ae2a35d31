/**
 * What the front end (HTTP server, CLI) sees of an engine: submit token ids, stream events, abort,
 * read gauges. Implemented in-process by `EngineLoop` and across a worker thread by `worker-client.ts`,
 * so JSON, templates and tokenization never wait on compute.
 */
import type { KvDtype } from "../backend/kv-dtype.js";
import type { ModelConfig } from "../models/config.js";
import type { RequestEvent } from "./engine-loop.js";
import type { RequestParams } from "./llm-engine.js";
import type { SeqId } from "./sequence.js";

export interface EngineStats {
  readonly numRunning: number;
  readonly numWaiting: number;
  /** Fraction of KV blocks referenced by sequences, 0..1. */
  readonly kvCacheUsage: number;
  /** Tokens the KV cache holds across all sequences (its budget / bytes per token of its dtype). */
  readonly kvCacheTokens: number;
  readonly kvCacheDtype: KvDtype;
  readonly numPreemptions: number;
  /** Prefix-cache lookups and hits, in tokens (vLLM's prefix_cache_queries / hits). */
  readonly prefixCacheQueries: number;
  readonly prefixCacheHits: number;
}

/** One engine step, for metrics (iteration tokens, batch size) and the periodic log line. */
export interface StepInfo {
  readonly numBatchedTokens: number;
  readonly numSeqsInBatch: number;
  readonly stepMs: number;
}

export interface EngineClient {
  readonly config: ModelConfig;
  /** Queue a request (throws InvalidArgumentError for bad input); breaking out of `events` aborts it. */
  generate(promptIds: readonly number[], params: RequestParams): { readonly id: SeqId; readonly events: AsyncIterable<RequestEvent> };
  /** End a request now; its KV blocks are freed at once. "stop" when a stop string matched. */
  abort(id: SeqId, reason?: "abort" | "stop"): void;
  stats(): EngineStats;
  onStep(listener: (s: StepInfo) => void): void;
  /** Stop stepping and release the engine (after in-flight requests end, if the caller waited for them). */
  close(): Promise<void>;
}
