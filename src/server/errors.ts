/**
 * HTTP errors in OpenAI's shape: `{"error": {"message", "type", "param", "code"}}`. One class
 * carries status, type, code, param and extra headers; `toApiError` maps anything thrown while
 * serving a request (zod issues, the engine's InvalidArgumentError with camelCase params, bugs)
 * to it. A bug becomes a 500 with a generic message, never a crash.
 */
import type { z } from "zod";
import { FennecError, InvalidArgumentError } from "../errors.js";
import type { ErrorBody } from "./openai/protocol.js";

export class ApiError extends FennecError {
  override readonly status: number;
  override readonly code: string;
  readonly type: string;
  readonly param: string | null;
  readonly headers: Readonly<Record<string, string>>;
  constructor(status: number, message: string, opts: { type?: string; code?: string; param?: string | null; headers?: Record<string, string> } = {}) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.type = opts.type ?? (status >= 500 ? "server_error" : "invalid_request_error");
    this.code = opts.code ?? defaultCode(status);
    this.param = opts.param ?? null;
    this.headers = opts.headers ?? {};
  }

  body(): ErrorBody {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

function defaultCode(status: number): string {
  switch (status) {
    case 400: return "invalid_value";
    case 401: return "invalid_api_key";
    case 404: return "not_found";
    case 405: return "method_not_allowed";
    case 413: return "request_too_large";
    case 429: return "rate_limit_exceeded";
    case 503: return "service_unavailable";
    default: return status >= 500 ? "internal_error" : "invalid_request";
  }
}

export const badRequest = (message: string, param: string | null = null, code = "invalid_value"): ApiError =>
  new ApiError(400, param !== null ? `${param}: ${message}` : message, { param, code });

/** The engine validates SamplingParams under camelCase names; requests name them in snake_case. */
const SNAKE_PARAMS: Readonly<Record<string, string>> = {
  topK: "top_k",
  topP: "top_p",
  minP: "min_p",
  repetitionPenalty: "repetition_penalty",
  presencePenalty: "presence_penalty",
  frequencyPenalty: "frequency_penalty",
  logitBias: "logit_bias",
  maxTokens: "max_tokens",
  stopTokenIds: "stop_token_ids",
};

/**
 * Anything thrown while serving a request, as an ApiError. `renames` overrides the engine's param
 * names for this endpoint (e.g. logprobs -> top_logprobs for chat, prompt -> messages).
 */
export function toApiError(e: unknown, renames: Readonly<Record<string, string>> = {}): ApiError {
  if (e instanceof ApiError) return e;
  if (e instanceof InvalidArgumentError) {
    const param = renames[e.param] ?? SNAKE_PARAMS[e.param] ?? e.param;
    const prefix = `${e.param}: `;
    const problem = e.message.startsWith(prefix) ? e.message.slice(prefix.length) : e.message;
    return badRequest(problem, param);
  }
  if (e instanceof FennecError && e.status < 500) return new ApiError(e.status, e.message, { code: e.code });
  return new ApiError(500, "internal server error", { code: "internal_error" });
}

/** `messages[0].content` from zod's ["messages", 0, "content"]. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const p of path) {
    if (typeof p === "number") out += `[${p}]`;
    else out += out === "" ? String(p) : `.${String(p)}`;
  }
  return out;
}

/** The first zod issue, as a 400 naming its field (`body` tells a missing field from a wrong one). */
export function fromZodError(error: z.ZodError, body: unknown): ApiError {
  const issue = error.issues[0];
  if (!issue) return badRequest("invalid request body");
  const param = issue.path.length > 0 ? formatPath(issue.path) : null;
  if (issue.path.length > 0 && valueAt(body, issue.path) === undefined) {
    return badRequest("is required", param, "missing_required_parameter");
  }
  return badRequest(issue.message, param, issue.code === "invalid_type" ? "invalid_type" : "invalid_value");
}

function valueAt(body: unknown, path: readonly PropertyKey[]): unknown {
  let v = body;
  for (const p of path) {
    if (v === null || typeof v !== "object") return undefined;
    v = (v as Record<PropertyKey, unknown>)[p];
  }
  return v;
}
