/**
 * Server-sent events as OpenAI streams them: `data: {json}\n\n` per chunk, then `data: [DONE]`.
 * Writes after the client has gone are dropped (the request is being aborted anyway).
 */
import type { ServerResponse } from "node:http";

export class SseWriter {
  private readonly res: ServerResponse;

  constructor(res: ServerResponse) {
    this.res = res;
    res.writeHead(200, {
      "Content-Type": "text/event-stream; charset=utf-8",
      "Cache-Control": "no-cache",
      Connection: "keep-alive",
      "X-Accel-Buffering": "no",
    });
    res.flushHeaders();
  }

  get isOpen(): boolean {
    return !this.res.writableEnded && !this.res.destroyed;
  }

  send(data: unknown): void {
    if (this.isOpen) this.res.write(`data: ${JSON.stringify(data)}\n\n`);
  }

  /** Ends the stream with `data: [DONE]`. */
  done(): void {
    if (!this.isOpen) return;
    this.res.write("data: [DONE]\n\n");
    this.res.end();
  }
}
