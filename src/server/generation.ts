/**
 * The per-request driver shared by /v1/chat/completions and /v1/completions: submits one engine
 * request per choice (prompts x n), detokenizes each choice incrementally, applies stop strings
 * with hold-back, collects logprobs and usage, and merges all choices into one event stream.
 * Streaming and non-streaming responses consume the same events, so their text is identical.
 *
 * Prefix sharing for n > 1: when a prompt fills at least one KV block, its first choice is
 * submitted alone and the others follow once it has been prefilled, so they reuse its full blocks
 * from the prefix cache instead of computing the same prompt n times.
 */
import type { EngineClient } from "../engine/client.js";
import type { RequestEvent } from "../engine/engine-loop.js";
import type { FinishedRequest, RequestParams, TokenDelta } from "../engine/llm-engine.js";
import type { FinishReason, SeqId } from "../engine/sequence.js";
import type { StreamDecoder, Tokenizer } from "../tokenizer/types.js";
import { StopStringMatcher } from "./stop-strings.js";

export interface PromptSpec {
  readonly ids: readonly number[];
  /** Resolved max tokens (the server checked prompt + max tokens against the context). */
  readonly maxTokens: number;
}

export interface GenerationSpec {
  readonly prompts: readonly PromptSpec[];
  /** Choices per prompt; choice i of prompt p has index p * n + i and seed `seed + i`. */
  readonly n: number;
  /** Sampling parameters shared by every choice (maxTokens and seed are set per choice). */
  readonly params: RequestParams;
  readonly seed: number | undefined;
  readonly stop: readonly string[];
  /** Collect per-token logprob info (params.logprobs must be set for the engine to compute it). */
  readonly logprobs: boolean;
  /** performance.now() when the HTTP request arrived. */
  readonly arrival: number;
}

export interface TokenAlternative {
  readonly id: number;
  readonly text: string;
  readonly logprob: number;
}

export interface TokenInfo extends TokenAlternative {
  readonly top: readonly TokenAlternative[];
  /** Offset of this token's text in the choice's output text (UTF-16 units). */
  readonly offset: number;
}

export type GenerationEvent =
  | { readonly type: "delta"; readonly index: number; readonly text: string; readonly tokens: readonly TokenInfo[] }
  | { readonly type: "finish"; readonly index: number; readonly text: string; readonly tokens: readonly TokenInfo[]; readonly reason: FinishReason };

export interface GenerationUsage {
  readonly promptTokens: number;
  readonly completionTokens: number;
  readonly cachedTokens: number;
}

/** One engine request's life, for metrics (times are performance.now() milliseconds). */
export interface ChoiceRecord {
  readonly arrival: number;
  readonly firstToken: number | undefined;
  readonly lastToken: number | undefined;
  readonly finished: number;
  readonly numPromptTokens: number;
  readonly numOutputTokens: number;
  readonly reason: FinishReason;
}

export interface GenerationObserver {
  onFirstToken(arrival: number, now: number, numPromptTokens: number): void;
  /** A token after the first, `gapMs` after the previous one. */
  onToken(gapMs: number): void;
  onFinish(r: ChoiceRecord): void;
}

export interface GenerationDeps {
  readonly engine: EngineClient;
  readonly tokenizer: Tokenizer;
  readonly observer: GenerationObserver;
  /** KV block size: prompts longer than this share their full blocks across choices. */
  readonly blockSize: number;
}

interface Choice {
  readonly index: number;
  readonly prompt: PromptSpec;
  readonly seedOffset: number;
  readonly decoder: StreamDecoder;
  readonly matcher: StopStringMatcher;
  /** Siblings waiting for this (first) choice's prefill, to reuse its cached blocks. */
  deferred: Choice[];
  id: SeqId | undefined;
  numTokens: number;
  /** Decoded text length so far (before stop strings) and how much of it was emitted. */
  rawLen: number;
  emittedLen: number;
  pending: { readonly info: TokenInfo; readonly end: number }[];
  stoppedText: string | undefined;
  isFinished: boolean;
  cachedTokens: number;
  firstToken: number | undefined;
  lastToken: number | undefined;
}

export class Generation {
  readonly numChoices: number;
  private readonly deps: GenerationDeps;
  private readonly spec: GenerationSpec;
  private readonly choices: Choice[] = [];
  private readonly channel = new Channel<GenerationEvent>();
  private numOpen: number;
  private isAborted = false;

  constructor(deps: GenerationDeps, spec: GenerationSpec) {
    this.deps = deps;
    this.spec = spec;
    spec.prompts.forEach((prompt, p) => {
      for (let i = 0; i < spec.n; i++) this.choices.push(this.newChoice(p * spec.n + i, prompt, i));
    });
    this.numChoices = this.choices.length;
    this.numOpen = this.choices.length;
  }

  /** Queue the engine requests; the engine's validation errors are thrown here, synchronously. */
  start(): void {
    try {
      for (let p = 0; p < this.spec.prompts.length; p++) {
        const group = this.choices.slice(p * this.spec.n, (p + 1) * this.spec.n);
        const [first, ...rest] = group;
        if (!first) continue;
        const share = rest.length > 0 && first.prompt.ids.length > this.deps.blockSize;
        this.submit(first);
        if (share) first.deferred = rest;
        else for (const c of rest) this.submit(c);
      }
    } catch (e) {
      this.abort();
      throw e;
    }
  }

  /** All choices' events, merged; stopping early (client gone) aborts the engine requests. */
  async *events(): AsyncGenerator<GenerationEvent> {
    try {
      for await (const e of this.channel) yield e;
    } finally {
      if (this.numOpen > 0) this.abort();
    }
  }

  /** End every choice now (client disconnected, server shutting down): frees their KV blocks. */
  abort(): void {
    this.isAborted = true;
    for (const c of this.choices) if (c.id !== undefined && !c.isFinished) this.deps.engine.abort(c.id, "abort");
  }

  /** Prompt tokens counted once per prompt; cached tokens as seen by each prompt's first choice. */
  usage(): GenerationUsage {
    let completionTokens = 0;
    for (const c of this.choices) completionTokens += c.numTokens;
    let promptTokens = 0;
    let cachedTokens = 0;
    this.spec.prompts.forEach((p, i) => {
      promptTokens += p.ids.length;
      cachedTokens += this.choices[i * this.spec.n]?.cachedTokens ?? 0;
    });
    return { promptTokens, completionTokens, cachedTokens };
  }

  private newChoice(index: number, prompt: PromptSpec, seedOffset: number): Choice {
    return {
      index, prompt, seedOffset,
      decoder: this.deps.tokenizer.createStreamDecoder({ skipSpecial: true }),
      matcher: new StopStringMatcher(this.spec.stop),
      deferred: [], id: undefined, numTokens: 0, rawLen: 0, emittedLen: 0, pending: [],
      stoppedText: undefined, isFinished: false, cachedTokens: 0, firstToken: undefined, lastToken: undefined,
    };
  }

  private submit(c: Choice): void {
    const params: RequestParams = {
      ...this.spec.params,
      maxTokens: c.prompt.maxTokens,
      ...(this.spec.seed !== undefined ? { seed: this.spec.seed + c.seedOffset } : {}),
    };
    const { id, events } = this.deps.engine.generate(c.prompt.ids, params);
    c.id = id;
    void this.pump(c, events);
  }

  private async pump(c: Choice, events: AsyncIterable<RequestEvent>): Promise<void> {
    try {
      for await (const e of events) {
        if (c.deferred.length > 0) this.releaseDeferred(c);
        if (e.type === "token") this.onToken(c, e);
        else this.onFinished(c, e);
      }
      if (!c.isFinished) this.finishLocally(c);
    } catch (e) {
      this.abort();
      this.channel.fail(e);
    }
  }

  /** The first choice has been prefilled (or ended): its siblings may now reuse its blocks. */
  private releaseDeferred(first: Choice): void {
    const rest = first.deferred;
    first.deferred = [];
    for (const c of rest) {
      if (this.isAborted) this.finishLocally(c);
      else this.submit(c);
    }
  }

  private onToken(c: Choice, e: TokenDelta): void {
    if (c.stoppedText !== undefined || c.isFinished) return; // tokens the engine made before the stop reached it
    const now = performance.now();
    if (c.firstToken === undefined) {
      c.firstToken = now;
      this.deps.observer.onFirstToken(this.spec.arrival, now, c.prompt.ids.length);
    } else if (c.lastToken !== undefined) {
      this.deps.observer.onToken(now - c.lastToken);
    }
    c.lastToken = now;
    c.numTokens++;
    const piece = c.decoder.push(e.tokenId);
    if (this.spec.logprobs) c.pending.push({ info: this.tokenInfo(e, c.rawLen), end: c.rawLen + piece.length });
    c.rawLen += piece.length;
    const r = c.matcher.push(piece);
    c.emittedLen += r.text.length;
    if (r.stopped) {
      // The text before the stop string goes out with the finish event; the engine stops now.
      c.stoppedText = r.text;
      if (c.id !== undefined) this.deps.engine.abort(c.id, "stop");
      return;
    }
    const tokens = this.releaseTokens(c, false);
    if (r.text !== "" || tokens.length > 0) this.channel.push({ type: "delta", index: c.index, text: r.text, tokens });
  }

  private onFinished(c: Choice, f: FinishedRequest): void {
    if (c.isFinished) return;
    let text = c.stoppedText ?? "";
    let reason: FinishReason = f.reason;
    if (c.stoppedText !== undefined) {
      reason = "stop";
    } else {
      const r = c.matcher.push(c.decoder.flush());
      text = r.stopped ? r.text : r.text + c.matcher.flush();
      c.emittedLen += text.length;
      if (r.stopped) {
        reason = "stop";
        c.stoppedText = text;
      }
    }
    c.cachedTokens = f.numCachedTokens;
    this.finish(c, text, this.releaseTokens(c, true), reason);
  }

  /** A choice that ends without a "finished" event from the engine (never submitted, or aborted). */
  private finishLocally(c: Choice): void {
    if (!c.isFinished) this.finish(c, "", [], "abort");
  }

  private finish(c: Choice, text: string, tokens: readonly TokenInfo[], reason: FinishReason): void {
    c.isFinished = true;
    this.deps.observer.onFinish({
      arrival: this.spec.arrival, firstToken: c.firstToken, lastToken: c.lastToken, finished: performance.now(),
      numPromptTokens: c.prompt.ids.length, numOutputTokens: c.numTokens, reason,
    });
    this.channel.push({ type: "finish", index: c.index, text, tokens, reason });
    if (c.deferred.length > 0) this.releaseDeferred(c);
    if (--this.numOpen === 0) this.channel.close();
  }

  /**
   * Logprob entries whose text has been emitted. At the end, every remaining entry goes out,
   * except after a stop string: tokens that start at or after the cut produced no output text.
   */
  private releaseTokens(c: Choice, atEnd: boolean): TokenInfo[] {
    const out: TokenInfo[] = [];
    let k = 0;
    for (; k < c.pending.length; k++) {
      const p = c.pending[k] as { info: TokenInfo; end: number };
      if (atEnd ? c.stoppedText !== undefined && p.info.offset >= c.emittedLen : p.end > c.emittedLen) break;
      out.push(p.info);
    }
    c.pending = atEnd ? [] : c.pending.slice(k);
    return out;
  }

  private tokenInfo(e: TokenDelta, offset: number): TokenInfo {
    const t = this.deps.tokenizer;
    return {
      id: e.tokenId,
      text: t.tokenText(e.tokenId),
      logprob: e.logprob ?? 0,
      top: (e.topLogprobs ?? []).map((a) => ({ id: a.id, text: t.tokenText(a.id), logprob: a.logprob })),
      offset,
    };
  }
}

/** A single-consumer queue bridged to an async iterator, closed once or failed with an error. */
class Channel<T> {
  private items: T[] = [];
  private wake: (() => void) | undefined;
  private isClosed = false;
  private error: { readonly e: unknown } | undefined;

  push(item: T): void {
    this.items.push(item);
    this.wake?.();
  }
  close(): void {
    this.isClosed = true;
    this.wake?.();
  }
  fail(e: unknown): void {
    this.error ??= { e };
    this.wake?.();
  }
  async *[Symbol.asyncIterator](): AsyncGenerator<T> {
    for (;;) {
      if (this.error) throw this.error.e;
      const item = this.items.shift();
      if (item !== undefined) {
        yield item;
        continue;
      }
      if (this.isClosed) return;
      await new Promise<void>((resolve) => (this.wake = resolve));
      this.wake = undefined;
    }
  }
}
