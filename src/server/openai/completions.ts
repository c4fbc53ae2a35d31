/**
 * POST /v1/completions: a prompt (text, token ids, or a batch of either) -> Generation -> a
 * `text_completion`. Choice index = prompt index * n + i. `echo` prepends the prompt text;
 * `logprobs: k` returns tokens, token_logprobs, top_logprobs and text_offset of the generated
 * tokens (offsets count the echoed prompt).
 */
import { badRequest } from "../errors.js";
import type { GenerationEvent, PromptSpec, TokenInfo } from "../generation.js";
import type { Exchange } from "../http.js";
import { responseId, SYSTEM_FINGERPRINT, unixSeconds } from "./ids.js";
import { CompletionRequestSchema, MAX_CHOICES, type Completion, type CompletionLogprobs, type CompletionRequest, type Usage } from "./protocol.js";
import {
  checkModel, parseRequest, resolveMaxTokens, samplingParams, seedOf, serveGeneration, stopStrings,
  type CollectedChoice, type ResponseShape, type ServingContext,
} from "./serving.js";

interface Prompt {
  readonly ids: readonly number[];
  readonly text: string;
}

export async function handleCompletions(ctx: ServingContext, ex: Exchange): Promise<void> {
  const req = parseRequest(CompletionRequestSchema, await ex.readJson());
  checkModel(ctx, req.model);
  const n = req.n ?? 1;
  const prompts = promptsOf(ctx, req.prompt);
  if (prompts.length * n > MAX_CHOICES) {
    throw badRequest(`${prompts.length} prompts x n = ${n} is ${prompts.length * n} choices; at most ${MAX_CHOICES} are allowed`, "n");
  }
  const specs: PromptSpec[] = prompts.map((p, i) => ({
    ids: p.ids,
    maxTokens: resolveMaxTokens(ctx, p.ids.length, req.max_tokens, { prompt: prompts.length > 1 ? `prompt[${i}]` : "prompt", maxTokens: "max_tokens" }),
  }));
  const wantLogprobs = req.logprobs !== undefined && req.logprobs !== null;
  const includeUsage = req.stream === true && req.stream_options?.include_usage === true;
  const echoes = prompts.flatMap((p) => Array.from({ length: n }, () => (req.echo === true ? p.text : "")));
  const id = responseId("cmpl");
  await serveGeneration(ctx, ex, {
    prompts: specs,
    n,
    params: samplingParams(ctx, req, wantLogprobs ? (req.logprobs ?? 0) : undefined),
    seed: seedOf(req),
    stop: stopStrings(req),
    logprobs: wantLogprobs,
    arrival: ex.arrival,
  }, completionShape(id, ctx.modelName, echoes, wantLogprobs, includeUsage), {
    id, endpoint: "completions", user: req.user ?? undefined, stream: req.stream === true, includeUsage, renames: {},
  });
}

/** Text prompts are tokenized with BOS (and special tokens parsed); token-id prompts are used as given. */
function promptsOf(ctx: ServingContext, prompt: CompletionRequest["prompt"]): Prompt[] {
  const fromText = (text: string): Prompt => ({ ids: ctx.tokenizer.encode(text, { addSpecial: true, parseSpecial: true }), text });
  const vocabSize = ctx.engine.config.vocabSize;
  const fromIds = (ids: readonly number[]): Prompt => {
    const bad = ids.find((id) => id >= vocabSize);
    if (bad !== undefined) throw badRequest(`token id ${bad} is outside the vocabulary [0, ${vocabSize})`, "prompt");
    return { ids, text: ctx.tokenizer.decode(ids, { skipSpecial: true }) };
  };
  if (typeof prompt === "string") return [fromText(prompt)];
  if (prompt.every((p): p is string => typeof p === "string")) return prompt.map(fromText);
  if (prompt.every((p): p is number => typeof p === "number")) return [fromIds(prompt)];
  return (prompt as number[][]).map(fromIds);
}

function completionShape(id: string, model: string, echoes: readonly string[], wantLogprobs: boolean, includeUsage: boolean): ResponseShape {
  const created = unixSeconds();
  const head = { id, object: "text_completion" as const, created, model, system_fingerprint: SYSTEM_FINGERPRINT };
  const chunk = (choice: Completion["choices"][number]): Completion => ({ ...head, choices: [choice], ...(includeUsage ? { usage: null } : {}) });
  const logprobs = (index: number, tokens: readonly TokenInfo[]): CompletionLogprobs | null =>
    (wantLogprobs ? toLogprobs(tokens, (echoes[index] ?? "").length) : null);
  return {
    start: (numChoices) => Array.from({ length: numChoices }, (_, index) => echoes[index] ?? "")
      .flatMap((text, index) => (text !== "" ? [chunk({ index, text, logprobs: null, finish_reason: null })] : [])),
    chunk: (e: GenerationEvent) => chunk({
      index: e.index,
      text: e.text,
      logprobs: e.tokens.length > 0 ? logprobs(e.index, e.tokens) : null,
      finish_reason: e.type === "finish" ? e.reason : null,
    }),
    usageChunk: (usage: Usage): Completion => ({ ...head, choices: [], usage }),
    response: (choices: CollectedChoice[], usage: Usage): Completion => ({
      ...head,
      choices: choices.map((c) => ({
        index: c.index,
        text: (echoes[c.index] ?? "") + c.text,
        logprobs: logprobs(c.index, c.tokens),
        finish_reason: c.reason,
      })),
      usage,
    }),
  };
}

function toLogprobs(tokens: readonly TokenInfo[], offsetBase: number): CompletionLogprobs {
  return {
    tokens: tokens.map((t) => t.text),
    token_logprobs: tokens.map((t) => t.logprob),
    top_logprobs: tokens.map((t) => Object.fromEntries(t.top.map((a) => [a.text, a.logprob]))),
    text_offset: tokens.map((t) => offsetBase + t.offset),
  };
}
