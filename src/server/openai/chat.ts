/**
 * POST /v1/chat/completions: messages -> chat template -> token ids -> Generation -> a
 * `chat.completion` (or `chat.completion.chunk` events: each choice's first chunk carries the
 * role, its last one the finish_reason, then an optional usage chunk with `choices: []`).
 */
import { encodeChatPrompt, type TemplateMessage } from "../chat-template.js";
import { badRequest } from "../errors.js";
import type { GenerationEvent, TokenInfo } from "../generation.js";
import type { Exchange } from "../http.js";
import { responseId, SYSTEM_FINGERPRINT, unixSeconds } from "./ids.js";
import {
  ChatCompletionRequestSchema,
  type ChatCompletion, type ChatCompletionChunk, type ChatLogprobs, type ChatMessage, type TopLogprob, type Usage,
} from "./protocol.js";
import {
  checkModel, parseRequest, resolveMaxTokens, samplingParams, seedOf, serveGeneration, stopStrings,
  type CollectedChoice, type ResponseShape, type ServingContext,
} from "./serving.js";

export async function handleChatCompletions(ctx: ServingContext, ex: Exchange): Promise<void> {
  const req = parseRequest(ChatCompletionRequestSchema, await ex.readJson());
  checkModel(ctx, req.model);
  if (!ctx.chatTemplate) throw badRequest(ctx.chatTemplateProblem, null, "chat_template_missing");
  const rendered = ctx.chatTemplate.render(req.messages.map(templateMessage), {
    ...(req.tools ? { tools: req.tools } : {}),
    ...(req.chat_template_kwargs ? { kwargs: req.chat_template_kwargs } : {}),
  });
  const ids = encodeChatPrompt(ctx.tokenizer, rendered);
  const maxParam = req.max_completion_tokens !== undefined && req.max_completion_tokens !== null ? "max_completion_tokens" : "max_tokens";
  const maxTokens = resolveMaxTokens(ctx, ids.length, req.max_completion_tokens ?? req.max_tokens, { prompt: "messages", maxTokens: maxParam });
  const wantLogprobs = req.logprobs === true;
  const includeUsage = req.stream === true && req.stream_options?.include_usage === true;
  const id = responseId("chatcmpl");
  await serveGeneration(ctx, ex, {
    prompts: [{ ids, maxTokens }],
    n: req.n ?? 1,
    params: samplingParams(ctx, req, wantLogprobs ? (req.top_logprobs ?? 0) : undefined),
    seed: seedOf(req),
    stop: stopStrings(req),
    logprobs: wantLogprobs,
    arrival: ex.arrival,
  }, chatShape(id, ctx.modelName, wantLogprobs, includeUsage), {
    id, endpoint: "chat", user: req.user ?? undefined, stream: req.stream === true, includeUsage,
    renames: { logprobs: "top_logprobs", prompt: "messages", max_tokens: maxParam },
  });
}

/** Content parts joined into one string; `developer` is `system` to templates; nulls dropped. */
function templateMessage(m: ChatMessage): TemplateMessage {
  const extra = Object.fromEntries(Object.entries(m).filter(([, v]) => v !== null && v !== undefined));
  const content = typeof m.content === "string" ? m.content : (m.content ?? []).map((p) => p.text).join("");
  return { ...extra, role: m.role === "developer" ? "system" : m.role, content };
}

function chatShape(id: string, model: string, wantLogprobs: boolean, includeUsage: boolean): ResponseShape {
  const created = unixSeconds();
  const head = { id, object: "chat.completion.chunk" as const, created, model, system_fingerprint: SYSTEM_FINGERPRINT };
  const chunk = (choice: ChatCompletionChunk["choices"][number]): ChatCompletionChunk => ({
    ...head, choices: [choice], ...(includeUsage ? { usage: null } : {}),
  });
  const logprobs = (tokens: readonly TokenInfo[]): ChatLogprobs | null => (wantLogprobs ? { content: tokens.map(logprobEntry) } : null);
  return {
    start: (numChoices) => Array.from({ length: numChoices }, (_, index) =>
      chunk({ index, delta: { role: "assistant", content: "" }, logprobs: null, finish_reason: null })),
    chunk: (e: GenerationEvent) => chunk({
      index: e.index,
      delta: e.type === "delta" || e.text !== "" ? { content: e.text } : {},
      logprobs: e.tokens.length > 0 ? logprobs(e.tokens) : null,
      finish_reason: e.type === "finish" ? e.reason : null,
    }),
    usageChunk: (usage: Usage): ChatCompletionChunk => ({ ...head, choices: [], usage }),
    response: (choices: CollectedChoice[], usage: Usage): ChatCompletion => ({
      ...head,
      object: "chat.completion",
      choices: choices.map((c) => ({
        index: c.index,
        message: { role: "assistant", content: c.text },
        logprobs: logprobs(c.tokens),
        finish_reason: c.reason,
      })),
      usage,
    }),
  };
}

function alternative(t: { readonly text: string; readonly logprob: number }): TopLogprob {
  return { token: t.text, logprob: t.logprob, bytes: [...Buffer.from(t.text, "utf8")] };
}

function logprobEntry(t: TokenInfo): ChatLogprobs["content"][number] {
  return { ...alternative(t), top_logprobs: t.top.map(alternative) };
}
