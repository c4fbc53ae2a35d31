/**
 * A fake OpenAI-compatible streaming server on 127.0.0.1 with deterministic timing, for the benchmark:
 * every request streams `max_tokens` chunks of one token each, the first after `ttftMs`, then one every
 * `itlMs`, then a usage chunk (prompt_tokens = the prompt's word count) and [DONE].
 * A prompt containing "FAIL" gets HTTP 500; one containing "DROP" gets its connection cut mid-stream;
 * one containing "NOUSAGE" gets no usage chunk.
 */
import * as http from "node:http";
import type { AddressInfo } from "node:net";

export interface FakeOpenAiOptions {
  readonly ttftMs: number;
  readonly itlMs: number;
  readonly model?: string;
}

export interface ServerTiming {
  readonly receivedAt: number;
  /** When each content chunk was written. */
  readonly chunkAt: number[];
  endAt: number;
}

export interface FakeOpenAi {
  readonly url: string;
  /** Request bodies received on the completion endpoints, in arrival order. */
  readonly bodies: Record<string, unknown>[];
  /** What the server actually did per request (performance.now() ms; same clock as an in-process client). */
  readonly timings: ServerTiming[];
  /** Most requests in flight at once, seen by the server. */
  readonly maxInFlight: () => number;
  close(): Promise<void>;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function startFakeOpenAi(opts: FakeOpenAiOptions): Promise<FakeOpenAi> {
  const model = opts.model ?? "fake-model";
  const bodies: Record<string, unknown>[] = [];
  const timings: ServerTiming[] = [];
  let inFlight = 0;
  let maxInFlight = 0;

  const server = http.createServer((req, res) => {
    if (req.method === "GET" && req.url === "/v1/models") {
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ object: "list", data: [{ id: model, object: "model" }] }));
      return;
    }
    const chat = req.url === "/v1/chat/completions";
    if (req.method !== "POST" || (!chat && req.url !== "/v1/completions")) {
      res.writeHead(404, { "content-type": "application/json" }).end(JSON.stringify({ error: { message: "not found" } }));
      return;
    }
    const timing: ServerTiming = { receivedAt: performance.now(), chunkAt: [], endAt: 0 };
    let raw = "";
    req.setEncoding("utf8").on("data", (d: string) => { raw += d; });
    req.on("end", () => {
      void (async () => {
        const body = JSON.parse(raw) as Record<string, unknown>;
        bodies.push(body);
        const prompt = chat ? String((body["messages"] as { content: string }[])[0]?.content ?? "") : String(body["prompt"]);
        if (prompt.includes("FAIL")) {
          res.writeHead(500, { "content-type": "application/json" }).end(JSON.stringify({ error: { message: "injected failure", type: "server_error" } }));
          return;
        }
        timings.push(timing);
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        const n = Number(body["max_tokens"] ?? 16);
        const id = `cmpl-${bodies.length}`;
        const send = (obj: unknown): void => { res.write(`data: ${JSON.stringify(obj)}\n\n`); };
        const chunk = (text: string, finish: string | null): unknown => chat
          ? { id, object: "chat.completion.chunk", model, choices: [{ index: 0, delta: { content: text }, finish_reason: finish }] }
          : { id, object: "text_completion", model, choices: [{ index: 0, text, finish_reason: finish }] };
        res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
        if (chat) send({ id, object: "chat.completion.chunk", model, choices: [{ index: 0, delta: { role: "assistant", content: "" }, finish_reason: null }] });
        for (let i = 0; i < n; i++) {
          await sleep(i === 0 ? opts.ttftMs : opts.itlMs);
          send(chunk(` t${i}`, i === n - 1 ? "length" : null));
          timing.chunkAt.push(performance.now());
          if (prompt.includes("DROP") && i === 2) {
            inFlight--;
            res.socket?.destroy();
            return;
          }
        }
        if (!prompt.includes("NOUSAGE")) {
          const promptTokens = prompt.split(/\s+/).filter(Boolean).length;
          send({ id, object: chat ? "chat.completion.chunk" : "text_completion", model, choices: [], usage: { prompt_tokens: promptTokens, completion_tokens: n, total_tokens: promptTokens + n } });
        }
        res.end("data: [DONE]\n\n");
        timing.endAt = performance.now();
        inFlight--;
      })();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    bodies,
    timings,
    maxInFlight: () => maxInFlight,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
