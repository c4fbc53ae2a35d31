/**
 * EngineClient over a worker thread: the model and the step loop live in `worker-main.ts`, so the
 * main thread (HTTP, JSON, templates, tokenization) never waits on compute. Requests are validated
 * here first, so a bad one is refused synchronously, exactly as with the in-process EngineLoop.
 */
import { Worker } from "node:worker_threads";
import { FennecError } from "../errors.js";
import type { ModelConfig } from "../models/config.js";
import type { EngineClient, EngineStats, StepInfo } from "./client.js";
import { EventQueue, type RequestEvent } from "./engine-loop.js";
import { validateRequest, type RequestParams } from "./llm-engine.js";
import type { FromWorker, SerializedError, ToWorker, WorkerInit } from "./messages.js";
import type { SeqId } from "./sequence.js";

class EngineWorkerError extends FennecError {
  override readonly status: number;
  constructor(e: SerializedError) {
    super(e.message);
    this.name = e.name;
    this.status = e.status ?? 500;
  }
}

/**
 * From dist/ the worker entry is plain JS. From the TypeScript sources (tests, tsx) it is a .ts
 * file, and Node 20 does not carry `--import tsx` into workers: register tsx inside the worker first.
 */
function spawnWorker(init: WorkerInit): Worker {
  if (!import.meta.url.endsWith(".ts")) return new Worker(new URL("./worker-main.js", import.meta.url), { workerData: init });
  const entry = new URL("./worker-main.ts", import.meta.url).href;
  const boot = `import("tsx/esm/api").then((m) => { m.register(); return import(${JSON.stringify(entry)}); });`;
  return new Worker(boot, { eval: true, workerData: init });
}

export class WorkerEngineClient implements EngineClient {
  readonly config: ModelConfig;
  readonly backend: string;
  private readonly worker: Worker;
  private readonly queues = new Map<SeqId, EventQueue>();
  private readonly stepListeners: ((s: StepInfo) => void)[] = [];
  private latest: EngineStats;
  private nextId = 1;
  private closed: Promise<void> | undefined;

  private constructor(worker: Worker, ready: Extract<FromWorker, { type: "ready" }>) {
    this.worker = worker;
    this.config = ready.config;
    this.backend = ready.backend;
    this.latest = ready.stats;
    worker.on("message", (m: FromWorker) => this.onMessage(m));
    worker.on("error", (e) => this.failAll(e));
    worker.on("exit", (code) => this.failAll(new Error(`engine worker exited with code ${code}`)));
  }

  /** Start a worker, load the model in it, and resolve when it is ready (rejects with the load error). */
  static start(init: WorkerInit): Promise<WorkerEngineClient> {
    const worker = spawnWorker(init);
    return new Promise((resolve, reject) => {
      const onMessage = (m: FromWorker): void => {
        if (m.type === "ready") {
          worker.off("message", onMessage);
          resolve(new WorkerEngineClient(worker, m));
        } else if (m.type === "error") {
          worker.off("message", onMessage);
          void worker.terminate();
          reject(new EngineWorkerError(m.error));
        }
      };
      worker.on("message", onMessage);
      worker.once("error", reject);
    });
  }

  generate(promptIds: readonly number[], params: RequestParams): { id: SeqId; events: AsyncIterable<RequestEvent> } {
    if (this.closed) throw new Error("WorkerEngineClient.generate: the engine is closed");
    validateRequest(this.config, promptIds, params);
    const id = this.nextId++;
    const q = new EventQueue();
    this.queues.set(id, q);
    this.send({ type: "add", id, promptIds: [...promptIds], params });
    return { id, events: q.drain(() => this.abort(id)) };
  }

  abort(id: SeqId, reason: "abort" | "stop" = "abort"): void {
    if (this.queues.has(id)) this.send({ type: "abort", id, reason });
  }

  stats(): EngineStats {
    return this.latest;
  }

  onStep(listener: (s: StepInfo) => void): void {
    this.stepListeners.push(listener);
  }

  close(): Promise<void> {
    this.closed ??= new Promise<void>((resolve) => {
      this.worker.once("exit", () => resolve());
      this.worker.on("message", (m: FromWorker) => {
        if (m.type === "closed") void this.worker.terminate();
      });
      this.send({ type: "close" });
    });
    return this.closed;
  }

  private send(m: ToWorker): void {
    this.worker.postMessage(m);
  }

  private onMessage(m: FromWorker): void {
    switch (m.type) {
      case "events":
        // Gauges first: a consumer woken by its "finished" event must already see its blocks freed.
        this.latest = m.stats;
        if (m.info) for (const l of this.stepListeners) l(m.info);
        for (const e of m.events) {
          const q = this.queues.get(e.seqId);
          if (!q) continue;
          q.push(e);
          if (e.type === "finished") this.queues.delete(e.seqId);
        }
        return;
      case "error": {
        const q = m.id !== undefined ? this.queues.get(m.id) : undefined;
        const err = new EngineWorkerError(m.error);
        if (q && m.id !== undefined) {
          q.fail(err);
          this.queues.delete(m.id);
        } else {
          this.failAll(err);
        }
        return;
      }
      case "ready":
      case "closed":
        return;
    }
  }

  private failAll(e: Error): void {
    for (const q of this.queues.values()) q.fail(e);
    this.queues.clear();
  }
}
