/**
 * Drives an LLMEngine: steps while there is work (yielding to the event loop between steps, so
 * I/O is served), and fans each step's deltas out to the per-request streams.
 */
import type { FinishedRequest, LLMEngine, RequestParams, StepResult, TokenDelta } from "./llm-engine.js";
import type { SeqId } from "./sequence.js";
import type { EngineClient, EngineStats, StepInfo } from "./client.js";
import type { ModelConfig } from "../models/config.js";

export type RequestEvent =
  | ({ readonly type: "token" } & TokenDelta)
  | ({ readonly type: "finished" } & FinishedRequest);

/**
 * An unbounded single-consumer queue bridged to an async iterator: the engine side pushes events,
 * the request's consumer iterates; the stream ends after the "finished" event, or throws if failed.
 */
export class EventQueue {
  private items: RequestEvent[] = [];
  private wake: (() => void) | undefined;
  private error: Error | undefined;
  push(e: RequestEvent): void {
    this.items.push(e);
    this.wake?.();
  }
  /** End the stream with an error (the engine died). */
  fail(error: Error): void {
    this.error = error;
    this.wake?.();
  }
  async *drain(onReturn: () => void): AsyncGenerator<RequestEvent> {
    try {
      for (;;) {
        while (this.items.length > 0) {
          const e = this.items.shift() as RequestEvent;
          yield e;
          if (e.type === "finished") return;
        }
        if (this.error) throw this.error;
        await new Promise<void>((resolve) => (this.wake = resolve));
        this.wake = undefined;
      }
    } finally {
      onReturn(); // consumer stopped early (break / disconnect): abort the request
    }
  }
}

export class EngineLoop implements EngineClient {
  readonly engine: LLMEngine;
  private readonly queues = new Map<SeqId, EventQueue>();
  private running = false;
  private closed = false;
  private readonly stepListeners: ((s: StepInfo, r: StepResult) => void)[] = [];

  constructor(engine: LLMEngine) {
    this.engine = engine;
  }

  get config(): ModelConfig {
    return this.engine.model.config;
  }

  onStep(listener: (s: StepInfo, r: StepResult) => void): void {
    this.stepListeners.push(listener);
  }

  stats(): EngineStats {
    return this.engine.stats();
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const id of [...this.queues.keys()]) this.abort(id);
  }

  /** Queue a request and stream its events; stopping iteration aborts it. */
  generate(promptIds: readonly number[], params: RequestParams = {}): { id: SeqId; events: AsyncIterable<RequestEvent> } {
    if (this.closed) throw new Error("EngineLoop.generate: the engine is closed");
    const id = this.engine.addRequest(promptIds, params);
    const q = new EventQueue();
    this.queues.set(id, q);
    this.kick();
    return { id, events: q.drain(() => this.abort(id)) };
  }

  /** Finish a request now; its stream ends with a "finished" event (reason "abort" or "stop"). */
  abort(id: SeqId, reason: "abort" | "stop" = "abort"): void {
    const f = this.engine.abort(id, reason);
    const q = this.queues.get(id);
    if (q && f) q.push({ type: "finished", ...f });
    this.queues.delete(id);
  }

  private kick(): void {
    if (this.running) return;
    this.running = true;
    setImmediate(() => this.loop());
  }

  private loop(): void {
    if (!this.engine.hasWork() || this.closed) {
      this.running = false;
      return;
    }
    const t0 = performance.now();
    const r = this.engine.step();
    const ms = performance.now() - t0;
    for (const d of r.deltas) this.queues.get(d.seqId)?.push({ type: "token", ...d });
    for (const f of r.finished) {
      this.queues.get(f.seqId)?.push({ type: "finished", ...f });
      this.queues.delete(f.seqId);
    }
    const info: StepInfo = { numBatchedTokens: r.numBatchedTokens, numSeqsInBatch: r.numSeqsInBatch, stepMs: ms };
    for (const l of this.stepListeners) l(info, r);
    setImmediate(() => this.loop());
  }
}
