/**
 * The typed protocol between the front end (main thread) and the engine worker. Plain,
 * structured-clone-able data only; each message is a discriminated union member.
 */
import type { LoadModelOptions } from "../index.js";
import type { ModelConfig } from "../models/config.js";
import type { EngineStats, StepInfo } from "./client.js";
import type { EngineOptions } from "./create.js";
import type { RequestEvent } from "./engine-loop.js";
import type { RequestParams } from "./llm-engine.js";
import type { SeqId } from "./sequence.js";

/** What the worker is started with (workerData). */
export interface WorkerInit {
  readonly modelPath: string;
  readonly load: LoadModelOptions;
  readonly engine: EngineOptions;
}

export type ToWorker =
  | { readonly type: "add"; readonly id: SeqId; readonly promptIds: readonly number[]; readonly params: RequestParams }
  | { readonly type: "abort"; readonly id: SeqId; readonly reason: "abort" | "stop" }
  | { readonly type: "close" };

export type FromWorker =
  | { readonly type: "ready"; readonly config: ModelConfig; readonly stats: EngineStats; readonly backend: string }
  /** Events of one step (or of an abort), with the engine's gauges after it; `info` for a step. */
  | { readonly type: "events"; readonly events: readonly (RequestEvent & { readonly seqId: SeqId })[]; readonly stats: EngineStats; readonly info?: StepInfo }
  /** A request the engine refused (should not happen: the client validates first) or a load failure. */
  | { readonly type: "error"; readonly id: SeqId | undefined; readonly error: SerializedError }
  | { readonly type: "closed" };

export interface SerializedError {
  readonly name: string;
  readonly message: string;
  readonly status?: number;
  readonly param?: string;
}
