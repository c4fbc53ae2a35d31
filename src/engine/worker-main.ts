/**
 * The engine thread: loads the model, then runs the step loop, taking requests and aborts from the
 * main thread and posting each step's events back in one message. Nothing here touches HTTP,
 * JSON or text.
 */
import { parentPort, workerData } from "node:worker_threads";
import { loadModel } from "../index.js";
import { FennecError } from "../errors.js";
import { createEngine } from "./create.js";
import type { FromWorker, SerializedError, ToWorker, WorkerInit } from "./messages.js";
import type { LLMEngine } from "./llm-engine.js";

const port = parentPort;
if (!port) throw new Error("worker-main.ts must run in a worker thread");
const post = (m: FromWorker): void => port.postMessage(m);

function serialize(e: unknown): SerializedError {
  if (e instanceof FennecError) {
    return { name: e.name, message: e.message, status: e.status, ...("param" in e && typeof e.param === "string" ? { param: e.param } : {}) };
  }
  return { name: "Error", message: e instanceof Error ? e.message : String(e) };
}

async function start(init: WorkerInit): Promise<void> {
  const loaded = await loadModel(init.modelPath, init.load);
  const engine: LLMEngine = createEngine(loaded, init.engine).engine;
  let stepping = false;
  let closing = false;

  const tick = (): void => {
    if (!engine.hasWork()) {
      stepping = false;
      if (closing) post({ type: "closed" });
      return;
    }
    const t0 = performance.now();
    const r = engine.step();
    const stepMs = performance.now() - t0;
    post({
      type: "events",
      events: [
        ...r.deltas.map((d) => ({ type: "token" as const, ...d })),
        ...r.finished.map((f) => ({ type: "finished" as const, ...f })),
      ],
      stats: engine.stats(),
      info: { numBatchedTokens: r.numBatchedTokens, numSeqsInBatch: r.numSeqsInBatch, stepMs },
    });
    setImmediate(tick);
  };
  const kick = (): void => {
    if (stepping) return;
    stepping = true;
    setImmediate(tick);
  };

  port?.on("message", (m: ToWorker) => {
    switch (m.type) {
      case "add":
        try {
          engine.addRequest(m.promptIds, m.params, m.id);
          kick();
        } catch (e) {
          post({ type: "error", id: m.id, error: serialize(e) });
        }
        return;
      case "abort": {
        const f = engine.abort(m.id, m.reason);
        if (f) post({ type: "events", events: [{ type: "finished", ...f }], stats: engine.stats() });
        return;
      }
      case "close":
        closing = true;
        post({
          type: "events",
          events: engine.scheduler.runningAndWaitingIds().flatMap((id) => {
            const f = engine.abort(id);
            return f ? [{ type: "finished" as const, ...f }] : [];
          }),
          stats: engine.stats(),
        });
        if (!stepping) post({ type: "closed" });
        return;
    }
  });
  post({ type: "ready", config: loaded.config, stats: engine.stats(), backend: loaded.backend.name });
}

start(workerData as WorkerInit).catch((e: unknown) => post({ type: "error", id: undefined, error: serialize(e) }));
