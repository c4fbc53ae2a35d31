/**
 * What chat and completions share: the serving context (engine, tokenizer, template, metrics),
 * request parsing, model and context-length checks, sampling-parameter mapping (snake_case ->
 * the engine's RequestParams), admission (429 when the queue is full), and `serveGeneration`,
 * which runs a Generation and writes it as one JSON response or as server-sent events.
 */
import type { z } from "zod";
import type { EngineClient } from "../../engine/client.js";
import type { RequestParams } from "../../engine/llm-engine.js";
import type { Tokenizer } from "../../tokenizer/types.js";
import type { GenerationDefaults } from "../../weights/model-files.js";
import type { ChatTemplate } from "../chat-template.js";
import { ApiError, badRequest, fromZodError, toApiError } from "../errors.js";
import { Generation, type GenerationEvent, type GenerationSpec, type GenerationUsage, type TokenInfo } from "../generation.js";
import type { ServerMetrics } from "../metrics.js";
import { SseWriter } from "../sse.js";
import type { Exchange } from "../http.js";
import type { FinishReasonOut, Usage } from "./protocol.js";

/** One finished request, for the optional request log (`user` is recorded here). */
export interface RequestRecord {
  readonly id: string;
  readonly endpoint: string;
  readonly user: string | undefined;
  readonly numChoices: number;
  readonly promptTokens: number;
  readonly completionTokens: number;
  readonly finishReasons: readonly FinishReasonOut[];
  readonly ms: number;
}

export interface ServingContext {
  readonly engine: EngineClient;
  readonly tokenizer: Tokenizer;
  readonly modelName: string;
  readonly contextLength: number;
  /** undefined: chat requests get a 400 saying why (`chatTemplateProblem`). */
  readonly chatTemplate: ChatTemplate | undefined;
  readonly chatTemplateProblem: string;
  readonly generationDefaults: GenerationDefaults;
  readonly metrics: ServerMetrics;
  readonly admission: Admission;
  /** Unix seconds the model was loaded (the model card's `created`). */
  readonly created: number;
  readonly blockSize: number;
  /** Generations in flight, so shutdown can abort them after its grace period. */
  readonly live: Set<Generation>;
  readonly onRecord: ((r: RequestRecord) => void) | undefined;
}

/**
 * Bounds the engine's queue: at most `maxNumSeqs` requests run, and at most `maxQueue` more may
 * wait; beyond that a request gets 429 with Retry-After. Counted here, synchronously (the
 * engine's own gauges lag a step behind when it runs in a worker).
 */
export class Admission {
  private inFlight = 0;
  private readonly maxNumSeqs: number;
  private readonly maxQueue: number;
  private readonly engine: EngineClient;

  constructor(maxNumSeqs: number, maxQueue: number, engine: EngineClient) {
    this.maxNumSeqs = maxNumSeqs;
    this.maxQueue = maxQueue;
    this.engine = engine;
  }

  admit(numRequests: number): void {
    // Beyond maxNumSeqs, requests wait; if the engine already has waiting ones (KV cache full), new ones wait too.
    const beyondSlots = this.inFlight + numRequests - this.maxNumSeqs;
    const engineWaiting = this.engine.stats().numWaiting;
    const waiting = engineWaiting > 0 ? Math.max(engineWaiting + numRequests, beyondSlots) : beyondSlots;
    if (waiting > this.maxQueue) {
      throw new ApiError(429, `the server is busy: ${this.inFlight} requests in flight and the queue holds at most ${this.maxQueue} waiting; retry later`, {
        type: "rate_limit_error", code: "rate_limit_exceeded", headers: { "Retry-After": "1" },
      });
    }
    this.inFlight += numRequests;
  }

  release(numRequests: number): void {
    this.inFlight -= numRequests;
  }
}

export function parseRequest<S extends z.ZodType>(schema: S, body: unknown): z.infer<S> {
  const r = schema.safeParse(body);
  if (!r.success) throw fromZodError(r.error, body);
  return r.data;
}

export function checkModel(ctx: ServingContext, model: string | null | undefined): void {
  if (model === undefined || model === null || model === "" || model === ctx.modelName) return;
  throw new ApiError(404, `The model \`${model}\` does not exist (this server serves \`${ctx.modelName}\`).`, { code: "model_not_found", param: "model" });
}

/**
 * Max tokens for a prompt: the request's, or what is left of the context (as vLLM). Never
 * truncates: a prompt plus max tokens beyond the context is a 400 naming both numbers.
 */
export function resolveMaxTokens(ctx: ServingContext, numPromptTokens: number, requested: number | null | undefined, params: { prompt: string; maxTokens: string }): number {
  const ctxLen = ctx.contextLength;
  const what = params.prompt === "messages" ? "messages" : "prompt";
  if (requested === undefined || requested === null) {
    if (numPromptTokens >= ctxLen) {
      throw contextError(`This model's maximum context length is ${ctxLen} tokens. However, your ${what} resulted in ${numPromptTokens} tokens, leaving no room for a completion. Please reduce the length of the ${what}.`, params.prompt);
    }
    return ctxLen - numPromptTokens;
  }
  if (numPromptTokens + requested > ctxLen) {
    throw contextError(`This model's maximum context length is ${ctxLen} tokens. However, you requested ${numPromptTokens + requested} tokens (${numPromptTokens} in the ${what}, ${requested} in the completion). Please reduce the length of the ${what} or completion.`, params.maxTokens);
  }
  return requested;
}

const contextError = (message: string, param: string): ApiError => new ApiError(400, message, { param, code: "context_length_exceeded" });

/** The sampling fields both request types share, snake_case as received. */
export interface CommonRequest {
  readonly temperature?: number | null | undefined;
  readonly top_p?: number | null | undefined;
  readonly top_k?: number | null | undefined;
  readonly min_p?: number | null | undefined;
  readonly presence_penalty?: number | null | undefined;
  readonly frequency_penalty?: number | null | undefined;
  readonly repetition_penalty?: number | null | undefined;
  readonly logit_bias?: Record<string, number> | null | undefined;
  readonly ignore_eos?: boolean | null | undefined;
  readonly stop_token_ids?: number[] | null | undefined;
  readonly seed?: number | null | undefined;
  readonly n?: number | null | undefined;
  readonly stop?: string | string[] | null | undefined;
}

/** RequestParams without maxTokens / seed; absent fields take the model's generation defaults. */
export function samplingParams(ctx: ServingContext, r: CommonRequest, logprobs: number | undefined): RequestParams {
  const d = ctx.generationDefaults;
  const vocabSize = ctx.engine.config.vocabSize;
  const badStop = (r.stop_token_ids ?? []).find((id) => id >= vocabSize);
  if (badStop !== undefined) throw badRequest(`token id ${badStop} is outside the vocabulary [0, ${vocabSize})`, "stop_token_ids");
  const p: { -readonly [K in keyof RequestParams]?: RequestParams[K] } = {};
  const set = <K extends keyof RequestParams>(key: K, v: RequestParams[K] | null | undefined): void => {
    if (v !== undefined && v !== null) p[key] = v;
  };
  set("temperature", r.temperature ?? d.temperature);
  set("topP", r.top_p ?? d.topP);
  set("topK", r.top_k ?? d.topK);
  set("minP", r.min_p ?? d.minP);
  set("repetitionPenalty", r.repetition_penalty ?? d.repetitionPenalty);
  set("presencePenalty", r.presence_penalty);
  set("frequencyPenalty", r.frequency_penalty);
  if (r.logit_bias) set("logitBias", Object.fromEntries(Object.entries(r.logit_bias).map(([k, v]) => [Number(k), v])));
  set("ignoreEos", r.ignore_eos);
  set("stopTokenIds", r.stop_token_ids);
  set("logprobs", logprobs);
  return p;
}

export function seedOf(r: CommonRequest): number | undefined {
  const seed = r.seed ?? undefined;
  if (seed !== undefined && !Number.isSafeInteger(seed + ((r.n ?? 1) - 1))) throw badRequest("seed + n - 1 must be a safe integer (choice i uses seed + i)", "seed");
  return seed;
}

export function stopStrings(r: CommonRequest): string[] {
  return r.stop === undefined || r.stop === null ? [] : typeof r.stop === "string" ? [r.stop] : r.stop;
}

export function toUsage(u: GenerationUsage): Usage {
  return {
    prompt_tokens: u.promptTokens,
    completion_tokens: u.completionTokens,
    total_tokens: u.promptTokens + u.completionTokens,
    prompt_tokens_details: { cached_tokens: u.cachedTokens },
  };
}

export interface CollectedChoice {
  readonly index: number;
  readonly text: string;
  readonly tokens: readonly TokenInfo[];
  readonly reason: FinishReasonOut;
}

/** How an endpoint shapes its chunks and its final response. */
export interface ResponseShape {
  /** Chunks sent before any token (chat: each choice's role; completions: the echoed prompt). */
  start(numChoices: number): unknown[];
  chunk(e: GenerationEvent): unknown;
  usageChunk(u: Usage): unknown;
  response(choices: CollectedChoice[], u: Usage): unknown;
}

export interface ServeOptions {
  readonly id: string;
  readonly endpoint: string;
  readonly user: string | undefined;
  readonly stream: boolean;
  readonly includeUsage: boolean;
  /** Engine param names as this endpoint calls them (e.g. logprobs -> top_logprobs). */
  readonly renames: Readonly<Record<string, string>>;
}

/** Runs the generation and writes it; a client that goes away aborts its engine requests. */
export async function serveGeneration(ctx: ServingContext, ex: Exchange, spec: GenerationSpec, shape: ResponseShape, o: ServeOptions): Promise<void> {
  const gen = new Generation({ engine: ctx.engine, tokenizer: ctx.tokenizer, observer: ctx.metrics, blockSize: ctx.blockSize }, spec);
  ctx.admission.admit(gen.numChoices);
  const reasons: FinishReasonOut[] = [];
  try {
    try {
      gen.start();
    } catch (e) {
      throw toApiError(e, o.renames);
    }
    ctx.live.add(gen);
    ex.onClientGone(() => gen.abort());
    if (o.stream) await streamEvents(ex, gen, shape, o, reasons);
    else ex.sendJson(200, await collect(gen, shape, reasons));
  } finally {
    ctx.live.delete(gen);
    ctx.admission.release(gen.numChoices);
    const u = gen.usage();
    ctx.onRecord?.({
      id: o.id, endpoint: o.endpoint, user: o.user, numChoices: gen.numChoices, promptTokens: u.promptTokens,
      completionTokens: u.completionTokens, finishReasons: reasons, ms: performance.now() - spec.arrival,
    });
  }
}

async function streamEvents(ex: Exchange, gen: Generation, shape: ResponseShape, o: ServeOptions, reasons: FinishReasonOut[]): Promise<void> {
  const sse = new SseWriter(ex.res);
  try {
    for (const c of shape.start(gen.numChoices)) sse.send(c);
    for await (const e of gen.events()) {
      if (e.type === "finish") reasons.push(e.reason);
      sse.send(shape.chunk(e));
    }
    if (o.includeUsage) sse.send(shape.usageChunk(toUsage(gen.usage())));
  } catch (e) {
    // Headers are gone: report in the stream, as vLLM does, then end it normally.
    const err = toApiError(e, o.renames);
    if (err.status >= 500) ex.logError(e);
    sse.send(err.body());
  }
  sse.done();
}

async function collect(gen: Generation, shape: ResponseShape, reasons: FinishReasonOut[]): Promise<unknown> {
  const texts: string[][] = Array.from({ length: gen.numChoices }, () => []);
  const tokens: TokenInfo[][] = Array.from({ length: gen.numChoices }, () => []);
  const done = new Map<number, FinishReasonOut>();
  for await (const e of gen.events()) {
    texts[e.index]?.push(e.text);
    tokens[e.index]?.push(...e.tokens);
    if (e.type === "finish") {
      done.set(e.index, e.reason);
      reasons.push(e.reason);
    }
  }
  const choices: CollectedChoice[] = [];
  for (let i = 0; i < gen.numChoices; i++) {
    choices.push({ index: i, text: (texts[i] ?? []).join(""), tokens: tokens[i] ?? [], reason: done.get(i) ?? "abort" });
  }
  return shape.response(choices, toUsage(gen.usage()));
}
