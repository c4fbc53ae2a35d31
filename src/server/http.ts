/**
 * One HTTP request/response pair as the handlers see it: the JSON body (size-limited, parse
 * errors as 400s), JSON and error responses, and a hook for a client that goes away before the
 * response is complete (its engine requests are then aborted).
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { ApiError, badRequest } from "./errors.js";

/** Largest request body accepted (a long chat history fits easily). */
export const MAX_BODY_BYTES = 16 * 1024 * 1024;

export class Exchange {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  /** performance.now() when the request arrived. */
  readonly arrival = performance.now();
  readonly method: string;
  readonly path: string;
  private readonly goneListeners: (() => void)[] = [];
  private isGone = false;
  private readonly errorLog: (e: unknown) => void;

  constructor(req: IncomingMessage, res: ServerResponse, errorLog: (e: unknown) => void) {
    this.req = req;
    this.res = res;
    this.method = req.method ?? "GET";
    this.path = (req.url ?? "/").split("?")[0] ?? "/";
    this.errorLog = errorLog;
    res.on("close", () => {
      if (res.writableFinished) return;
      this.isGone = true;
      for (const l of this.goneListeners.splice(0)) l();
    });
  }

  /** `fn` runs once if the client disconnects before the response is complete (at once if it already has). */
  onClientGone(fn: () => void): void {
    if (this.isGone) fn();
    else this.goneListeners.push(fn);
  }

  get isClientGone(): boolean {
    return this.isGone;
  }

  async readJson(): Promise<unknown> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of this.req) {
      const b = chunk as Buffer;
      size += b.length;
      if (size > MAX_BODY_BYTES) {
        this.res.setHeader("Connection", "close"); // the rest of the body is not read: do not reuse the connection
        throw new ApiError(413, `request body exceeds ${MAX_BODY_BYTES} bytes`);
      }
      chunks.push(b);
    }
    const text = Buffer.concat(chunks).toString("utf8");
    if (text.trim() === "") throw badRequest("the request body is empty: expected a JSON object", null, "invalid_json");
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch (e) {
      throw badRequest(`the request body is not valid JSON (${e instanceof Error ? e.message : String(e)})`, null, "invalid_json");
    }
    if (body === null || typeof body !== "object" || Array.isArray(body)) {
      throw badRequest("the request body must be a JSON object", null, "invalid_json");
    }
    return body;
  }

  sendJson(status: number, body: unknown, headers: Readonly<Record<string, string>> = {}): void {
    if (this.res.headersSent || this.isGone) return;
    const text = JSON.stringify(body);
    this.res.writeHead(status, { ...headers, "Content-Type": "application/json", "Content-Length": Buffer.byteLength(text) });
    this.res.end(text);
  }

  sendText(status: number, contentType: string, text: string): void {
    if (this.res.headersSent || this.isGone) return;
    this.res.writeHead(status, { "Content-Type": contentType, "Content-Length": Buffer.byteLength(text) });
    this.res.end(text);
  }

  sendError(e: ApiError): void {
    this.sendJson(e.status, e.body(), e.headers);
  }

  logError(e: unknown): void {
    this.errorLog(e);
  }
}
