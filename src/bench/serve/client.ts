/**
 * One streaming request to an OpenAI-compatible server (Fennec, llama-server, vLLM, ...) with plain
 * fetch + SSE parsing, timed the way vLLM's benchmark times it:
 *   TTFT  send -> first chunk with non-empty text
 *   ITL   gaps between consecutive chunks with non-empty text
 *   E2EL  send -> end of the stream
 * Token counts come from the usage chunk (`stream_options.include_usage`); without one, the number
 * of content chunks stands in for the output tokens.
 */

export interface RequestInput {
  /** Full URL of the endpoint, e.g. http://127.0.0.1:8080/v1/completions. */
  readonly url: string;
  readonly chat: boolean;
  readonly model: string;
  readonly prompt: string;
  readonly maxTokens: number;
  readonly apiKey?: string;
  readonly ignoreEos: boolean;
  readonly signal?: AbortSignal;
}

export interface RequestOutput {
  success: boolean;
  error: string;
  /** Time to first content chunk, s (0 if none). */
  ttft: number;
  /** Gaps between content chunks, s. */
  itl: number[];
  /** Send -> end of stream, s. */
  latency: number;
  /** From the server's usage chunk, when it sent one. */
  promptTokens: number | undefined;
  completionTokens: number | undefined;
  numContentChunks: number;
  generatedText: string;
}

/** Data payloads of an SSE stream ("data: ..." lines, joined per event; comments and other fields skipped). */
export async function* sseData(body: AsyncIterable<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let buf = "";
  let data: string[] = [];
  const flushLines = function* (final: boolean): Generator<string> {
    for (;;) {
      const nl = buf.indexOf("\n");
      if (nl < 0) {
        if (!final) return;
        if (buf !== "") {
          if (buf.startsWith("data:")) data.push(buf.slice(buf.startsWith("data: ") ? 6 : 5));
          buf = "";
        }
        if (data.length > 0) yield data.join("\n");
        data = [];
        return;
      }
      const line = buf.slice(0, nl).replace(/\r$/, "");
      buf = buf.slice(nl + 1);
      if (line === "") {
        if (data.length > 0) yield data.join("\n");
        data = [];
      } else if (line.startsWith("data:")) {
        data.push(line.slice(line.startsWith("data: ") ? 6 : 5));
      }
    }
  };
  for await (const chunk of body) {
    buf += decoder.decode(chunk, { stream: true });
    yield* flushLines(false);
  }
  buf += decoder.decode();
  yield* flushLines(true);
}

interface StreamChunk {
  choices?: { text?: string | null; delta?: { content?: string | null; reasoning_content?: string | null } }[];
  usage?: { prompt_tokens?: number; completion_tokens?: number } | null;
  error?: { message?: string } | string;
}

function errorText(body: string): string {
  try {
    const j = JSON.parse(body) as { error?: { message?: string } | string; message?: string };
    const m = typeof j.error === "string" ? j.error : j.error?.message ?? j.message;
    if (m !== undefined) return m;
  } catch { /* not JSON */ }
  return body.slice(0, 200);
}

export function requestBody(input: RequestInput): Record<string, unknown> {
  const common = {
    model: input.model,
    max_tokens: input.maxTokens,
    temperature: 0,
    stream: true,
    stream_options: { include_usage: true },
    ...(input.ignoreEos ? { ignore_eos: true } : {}),
  };
  return input.chat ? { ...common, messages: [{ role: "user", content: input.prompt }] } : { ...common, prompt: input.prompt };
}

export async function sendRequest(input: RequestInput): Promise<RequestOutput> {
  const out: RequestOutput = {
    success: false, error: "", ttft: 0, itl: [], latency: 0,
    promptTokens: undefined, completionTokens: undefined, numContentChunks: 0, generatedText: "",
  };
  const t0 = performance.now();
  let last = t0;
  try {
    const res = await fetch(input.url, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        accept: "text/event-stream",
        ...(input.apiKey !== undefined ? { authorization: `Bearer ${input.apiKey}` } : {}),
      },
      body: JSON.stringify(requestBody(input)),
      ...(input.signal !== undefined ? { signal: input.signal } : {}),
    });
    if (!res.ok || res.body === null) {
      out.error = `HTTP ${res.status}: ${errorText(await res.text())}`;
      out.latency = (performance.now() - t0) / 1000;
      return out;
    }
    const texts: string[] = [];
    for await (const data of sseData(res.body)) {
      if (data.trim() === "[DONE]") break;
      let chunk: StreamChunk;
      try {
        chunk = JSON.parse(data) as StreamChunk;
      } catch {
        throw new Error(`bad SSE data: ${data.slice(0, 100)}`);
      }
      if (chunk.error !== undefined) throw new Error(typeof chunk.error === "string" ? chunk.error : chunk.error.message ?? "error event in stream");
      const now = performance.now();
      const c = chunk.choices?.[0];
      const text = c === undefined ? "" : (c.text ?? c.delta?.content ?? c.delta?.reasoning_content ?? "");
      if (text !== "") {
        if (out.numContentChunks === 0) out.ttft = (now - t0) / 1000;
        else out.itl.push((now - last) / 1000);
        last = now;
        out.numContentChunks++;
        texts.push(text);
      }
      if (chunk.usage) {
        if (typeof chunk.usage.prompt_tokens === "number") out.promptTokens = chunk.usage.prompt_tokens;
        if (typeof chunk.usage.completion_tokens === "number") out.completionTokens = chunk.usage.completion_tokens;
      }
    }
    out.latency = (performance.now() - t0) / 1000;
    out.generatedText = texts.join("");
    if (out.numContentChunks === 0) out.error = "the stream ended without any text";
    else out.success = true;
  } catch (e) {
    out.latency = (performance.now() - t0) / 1000;
    const err = e as Error & { cause?: { code?: string; message?: string } };
    out.error = err.name === "AbortError" ? "aborted"
      : err.cause !== undefined ? `${err.message}: ${err.cause.code ?? err.cause.message ?? ""}` : err.message;
  }
  return out;
}
