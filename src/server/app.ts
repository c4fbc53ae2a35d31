/**
 * The OpenAI-compatible HTTP server: a route table over node:http, and the server's lifecycle.
 * It listens first (/health is 503 while the model loads), loads the tokenizer and chat template
 * here and the model in the engine worker, then serves. close() stops accepting, lets in-flight
 * requests finish (bounded by a grace period, then aborts them) and releases the engine.
 * Every request is caught on its own: bad input is a 4xx in OpenAI's error shape, a bug a 500.
 */
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { timingSafeEqual } from "node:crypto";
import { InvalidArgumentError } from "../errors.js";
import { ApiError, toApiError } from "./errors.js";
import { Exchange } from "./http.js";
import { ServerMetrics } from "./metrics.js";
import { StatsLogger, stderrSink, type LogSink } from "./logger.js";
import { handleChatCompletions } from "./openai/chat.js";
import { handleCompletions } from "./openai/completions.js";
import { handleGetModel, handleListModels } from "./openai/models.js";
import type { ServingContext } from "./openai/serving.js";
import { loadServing, type LoadOptions } from "./load.js";

export interface ServerOptions extends LoadOptions {
  /** Default 127.0.0.1. */
  readonly host?: string;
  /** Default 8000; 0 picks a free port. */
  readonly port?: number;
  /** Require `Authorization: Bearer <apiKey>` on /v1/* (never on /health, /metrics). */
  readonly apiKey?: string;
  /** Period of the stats line on the log while busy (default 5000 ms; 0 = never). */
  readonly logIntervalMs?: number;
  /** Where log lines go (default: stderr, prefixed "fennec: "). */
  readonly log?: LogSink;
  /** How long close() waits for in-flight requests before aborting them (default 30 s). */
  readonly shutdownGraceMs?: number;
}

export interface RunningServer {
  /** http://host:port */
  readonly url: string;
  /** Resolves once the model is loaded (/health 200); rejects with the load error. */
  readonly ready: Promise<void>;
  /** Stop accepting, finish in-flight requests (at most `graceMs`, then abort them), release the engine. */
  close(opts?: { readonly graceMs?: number }): Promise<void>;
}

type Handler = (app: App, ex: Exchange, param: string) => Promise<void> | void;

interface Route {
  readonly pattern: RegExp;
  /** Open routes need no API key. */
  readonly isOpen: boolean;
  readonly methods: Readonly<Partial<Record<string, Handler>>>;
}

const ROUTES: readonly Route[] = [
  { pattern: /^\/health$/, isOpen: true, methods: { GET: (app, ex) => app.health(ex) } },
  { pattern: /^\/metrics$/, isOpen: true, methods: { GET: (app, ex) => app.metricsText(ex) } },
  { pattern: /^\/v1\/models$/, isOpen: false, methods: { GET: (app, ex) => handleListModels(app.serving(), ex) } },
  { pattern: /^\/v1\/models\/(.+)$/, isOpen: false, methods: { GET: (app, ex, id) => handleGetModel(app.serving(), ex, decodeURIComponent(id)) } },
  { pattern: /^\/v1\/chat\/completions$/, isOpen: false, methods: { POST: (app, ex) => handleChatCompletions(app.serving(), ex) } },
  { pattern: /^\/v1\/completions$/, isOpen: false, methods: { POST: (app, ex) => handleCompletions(app.serving(), ex) } },
];

type Phase = { readonly name: "loading" } | { readonly name: "ready"; readonly ctx: ServingContext } | { readonly name: "failed"; readonly error: string } | { readonly name: "closing" };

class App {
  readonly opts: ServerOptions;
  readonly metrics: ServerMetrics;
  readonly log: LogSink;
  phase: Phase = { name: "loading" };
  ctx: ServingContext | undefined;
  private readonly inFlight = new Set<Promise<void>>();
  private readonly statsLogger: StatsLogger;

  constructor(opts: ServerOptions, modelName: string) {
    this.opts = opts;
    this.log = opts.log ?? stderrSink;
    this.metrics = new ServerMetrics(modelName, () => this.ctx?.engine.stats());
    this.statsLogger = new StatsLogger(this.metrics.totals, () => this.ctx?.engine.stats(), this.log);
  }

  /** Load the model; the server answers /health with 503 meanwhile. */
  async load(modelName: string): Promise<void> {
    try {
      const ctx = await loadServing(this.opts, modelName, this.metrics, (line) => this.log(line));
      this.ctx = ctx;
      if (this.phase.name === "closing") return;
      this.phase = { name: "ready", ctx };
      ctx.engine.onStep((s) => this.metrics.onStep(s));
      const interval = this.opts.logIntervalMs ?? 5000;
      if (interval > 0) this.statsLogger.start(interval);
    } catch (e) {
      if (this.phase.name !== "closing") this.phase = { name: "failed", error: e instanceof Error ? e.message : String(e) };
      throw e;
    }
  }

  /** The loaded model's context, or a 503 saying why there is none. */
  serving(): ServingContext {
    switch (this.phase.name) {
      case "ready": return this.phase.ctx;
      case "loading": throw new ApiError(503, "the model is still loading; retry shortly", { headers: { "Retry-After": "1" } });
      case "failed": throw new ApiError(503, `the model failed to load: ${this.phase.error}`);
      case "closing": throw new ApiError(503, "the server is shutting down");
    }
  }

  health(ex: Exchange): void {
    const status = this.phase.name === "ready" ? "ok" : this.phase.name;
    ex.sendJson(this.phase.name === "ready" ? 200 : 503, { status });
  }

  async metricsText(ex: Exchange): Promise<void> {
    const m = await this.metrics.text();
    ex.sendText(200, m.contentType, m.body);
  }

  handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const ex = new Exchange(req, res, (e) => this.logError(e));
    const p = this.dispatch(ex).catch((e: unknown) => {
      try {
        const err = toApiError(e);
        if (err.status >= 500) this.logError(e);
        if (!res.headersSent) ex.sendError(err);
        else if (!res.writableEnded) res.end();
      } catch (inner) {
        this.logError(inner);
        res.destroy();
      }
    });
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p));
  }

  private async dispatch(ex: Exchange): Promise<void> {
    let param = "";
    const route = ROUTES.find((r) => {
      const m = r.pattern.exec(ex.path);
      if (m) param = m[1] ?? "";
      return m !== null;
    });
    if (!route?.isOpen && ex.path.startsWith("/v1/")) this.checkApiKey(ex);
    if (!route) throw new ApiError(404, `no route for ${ex.method} ${ex.path}`, { code: "not_found" });
    const handler = route.methods[ex.method];
    if (!handler) {
      throw new ApiError(405, `method ${ex.method} is not allowed on ${ex.path} (allowed: ${Object.keys(route.methods).join(", ")})`, {
        headers: { Allow: Object.keys(route.methods).join(", ") },
      });
    }
    await handler(this, ex, param);
  }

  private checkApiKey(ex: Exchange): void {
    const key = this.opts.apiKey;
    if (key === undefined) return;
    const header = ex.req.headers.authorization ?? "";
    const m = /^Bearer\s+(.+)$/i.exec(header.trim());
    const given = Buffer.from(m?.[1] ?? "");
    const want = Buffer.from(key);
    if (!m || given.length !== want.length || !timingSafeEqual(given, want)) {
      throw new ApiError(401, m ? "Incorrect API key provided." : "Missing API key: send it as 'Authorization: Bearer <key>'.", {
        code: "invalid_api_key", headers: { "WWW-Authenticate": "Bearer" },
      });
    }
  }

  private logError(e: unknown): void {
    this.log(`internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  }

  /** Wait for in-flight requests, up to `ms`; true if they all ended. */
  async drain(ms: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
    const all = Promise.allSettled([...this.inFlight]).then(() => true);
    try {
      return await Promise.race([all, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  async shutdown(graceMs: number, ready: Promise<void>): Promise<void> {
    this.phase = { name: "closing" };
    this.statsLogger.stop();
    if (this.inFlight.size > 0) {
      this.log(`shutting down: waiting up to ${(graceMs / 1000).toFixed(0)} s for ${this.inFlight.size} in-flight request(s)`);
      if (!(await this.drain(graceMs))) {
        this.log("grace period over: aborting the remaining requests");
        for (const g of this.ctx?.live ?? []) g.abort();
        await this.drain(5000);
      }
    }
    await ready.catch(() => undefined);
    await this.ctx?.engine.close();
  }
}

/** Start listening, then load the model in the background (see RunningServer.ready). */
export async function startServer(opts: ServerOptions): Promise<RunningServer> {
  const modelName = opts.servedModelName ?? defaultModelName(opts.model);
  const app = new App(opts, modelName);
  const server = http.createServer((req, res) => app.handle(req, res));
  server.keepAliveTimeout = 5000;
  const host0 = opts.host ?? "127.0.0.1";
  const port0 = opts.port ?? 8000;
  await new Promise<void>((resolve, reject) => {
    const onError = (e: NodeJS.ErrnoException): void => {
      reject(new InvalidArgumentError("--port", `cannot listen on ${host0}:${port0}: ${e.code === "EADDRINUSE" ? "the address is already in use" : (e.code ?? e.message)}`));
    };
    server.once("error", onError);
    server.listen(port0, host0, () => {
      server.off("error", onError);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  const host = addr.family === "IPv6" ? `[${addr.address}]` : addr.address;
  const url = `http://${host}:${addr.port}`;
  const ready = app.load(modelName);
  ready.catch(() => undefined); // reported through `ready` and /health
  let closing: Promise<void> | undefined;
  return {
    url,
    ready,
    close: (o = {}) => {
      closing ??= (async () => {
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        await app.shutdown(o.graceMs ?? opts.shutdownGraceMs ?? 30_000, ready);
        server.closeAllConnections();
        await closed;
      })();
      return closing;
    },
  };
}

/** "stories260K" for ../models/stories260K.gguf; a directory's own name for a Hugging Face model. */
export function defaultModelName(modelPath: string): string {
  const base = modelPath.replace(/[/\\]+$/, "").split(/[/\\]/).pop() ?? modelPath;
  return base.replace(/\.(gguf|bin)$/i, "") || modelPath;
}
