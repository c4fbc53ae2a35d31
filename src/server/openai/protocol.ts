/**
 * The OpenAI wire protocol: request schemas (zod, one per request type) and response shapes, in
 * snake_case exactly as the spec. Unknown request fields are stripped (OpenAI ignores them too);
 * `null` is accepted wherever a field may be absent. Engine-side checks (vocabulary bounds of
 * logit_bias keys, the context length) happen later, against the loaded model.
 */
import { z } from "zod";

/** Most choices one request may ask for (n x prompts), as OpenAI's n <= 128. */
export const MAX_CHOICES = 128;
/** OpenAI's limit on stop sequences. */
export const MAX_STOP = 4;
/** Most alternatives per token (OpenAI's top_logprobs limit). */
export const MAX_TOP_LOGPROBS = 20;

const tokenId = z.int().min(0);

/** Fields both endpoints share: sampling, stopping, streaming (vLLM's extras: top_k, min_p, ...). */
const commonFields = {
  model: z.string().nullish(),
  max_tokens: z.int().min(1).nullish(),
  temperature: z.number().min(0).max(2).nullish(),
  top_p: z.number().gt(0).max(1).nullish(),
  top_k: z.int().min(-1).nullish(),
  min_p: z.number().min(0).max(1).nullish(),
  n: z.int().min(1).max(MAX_CHOICES).nullish(),
  stop: z.union([z.string().min(1), z.array(z.string().min(1)).max(MAX_STOP)], {
    error: `must be a non-empty string or an array of at most ${MAX_STOP} non-empty strings`,
  }).nullish(),
  seed: z.int().nullish(),
  presence_penalty: z.number().min(-2).max(2).nullish(),
  frequency_penalty: z.number().min(-2).max(2).nullish(),
  repetition_penalty: z.number().gt(0).nullish(),
  logit_bias: z.record(
    z.string().regex(/^(0|[1-9][0-9]*)$/, { error: "keys must be token ids (decimal integers as strings)" }),
    z.number().min(-100).max(100),
  ).nullish(),
  user: z.string().nullish(),
  stream: z.boolean().nullish(),
  stream_options: z.object({ include_usage: z.boolean().nullish() }).nullish(),
  ignore_eos: z.boolean().nullish(),
  stop_token_ids: z.array(tokenId).nullish(),
};

const textPart = z.looseObject({ type: z.literal("text"), text: z.string() });

const chatMessage = z.looseObject({
  role: z.enum(["system", "developer", "user", "assistant", "tool"]),
  content: z.union([z.string(), z.array(textPart)], {
    error: "must be a string or an array of text parts ({type: \"text\", text}); other content types are not supported",
  }).nullish(),
  name: z.string().nullish(),
  tool_calls: z.array(z.looseObject({})).nullish(),
  tool_call_id: z.string().nullish(),
});

export const ChatCompletionRequestSchema = z.object({
  ...commonFields,
  messages: z.array(chatMessage).min(1),
  max_completion_tokens: z.int().min(1).nullish(),
  logprobs: z.boolean().nullish(),
  top_logprobs: z.int().min(0).max(MAX_TOP_LOGPROBS).nullish(),
  response_format: z.looseObject({ type: z.literal("text", { error: "only {\"type\": \"text\"} is supported" }) }).nullish(),
  tools: z.array(z.looseObject({ type: z.string() })).nullish(),
  tool_choice: z.unknown().optional(),
  chat_template_kwargs: z.record(z.string(), z.unknown()).nullish(),
}).superRefine((r, ctx) => {
  if (r.top_logprobs !== undefined && r.top_logprobs !== null && r.logprobs !== true) {
    ctx.addIssue({ code: "custom", path: ["top_logprobs"], message: "requires logprobs to be true" });
  }
});

export const CompletionRequestSchema = z.object({
  ...commonFields,
  prompt: z.union([
    z.string(),
    z.array(z.string()).min(1),
    z.array(tokenId).min(1),
    z.array(z.array(tokenId).min(1)).min(1),
  ], { error: "must be a string, an array of strings, an array of token ids, or an array of token-id arrays" }),
  echo: z.boolean().nullish(),
  logprobs: z.int().min(0).max(MAX_TOP_LOGPROBS).nullish(),
  suffix: z.null({ error: "is not supported" }).optional(),
  best_of: z.int().min(1).nullish(),
}).superRefine((r, ctx) => {
  if (r.best_of !== undefined && r.best_of !== null && r.best_of !== (r.n ?? 1)) {
    ctx.addIssue({ code: "custom", path: ["best_of"], message: "only best_of == n is supported" });
  }
});

export type ChatCompletionRequest = z.infer<typeof ChatCompletionRequestSchema>;
export type ChatMessage = z.infer<typeof chatMessage>;
export type CompletionRequest = z.infer<typeof CompletionRequestSchema>;
export type FinishReasonOut = "stop" | "length" | "abort";

// ---- responses ----

export interface Usage {
  readonly prompt_tokens: number;
  readonly completion_tokens: number;
  readonly total_tokens: number;
  readonly prompt_tokens_details: { readonly cached_tokens: number };
}

export interface TopLogprob {
  readonly token: string;
  readonly logprob: number;
  readonly bytes: number[];
}

export interface ChatLogprobContent extends TopLogprob {
  readonly top_logprobs: TopLogprob[];
}

export interface ChatLogprobs {
  readonly content: ChatLogprobContent[];
}

export interface CompletionLogprobs {
  readonly tokens: string[];
  readonly token_logprobs: number[];
  readonly top_logprobs: Record<string, number>[];
  readonly text_offset: number[];
}

interface ResponseHead {
  readonly id: string;
  readonly created: number;
  readonly model: string;
  readonly system_fingerprint?: string;
}

export interface ChatCompletion extends ResponseHead {
  readonly object: "chat.completion";
  readonly choices: {
    readonly index: number;
    readonly message: { readonly role: "assistant"; readonly content: string };
    readonly logprobs: ChatLogprobs | null;
    readonly finish_reason: FinishReasonOut;
  }[];
  readonly usage: Usage;
}

export interface ChatCompletionChunk extends ResponseHead {
  readonly object: "chat.completion.chunk";
  readonly choices: {
    readonly index: number;
    readonly delta: { readonly role?: "assistant"; readonly content?: string };
    readonly logprobs: ChatLogprobs | null;
    readonly finish_reason: FinishReasonOut | null;
  }[];
  readonly usage?: Usage | null;
}

export interface Completion extends ResponseHead {
  readonly object: "text_completion";
  readonly choices: {
    readonly index: number;
    readonly text: string;
    readonly logprobs: CompletionLogprobs | null;
    readonly finish_reason: FinishReasonOut | null;
  }[];
  readonly usage?: Usage | null;
}

export interface ModelCard {
  readonly id: string;
  readonly object: "model";
  readonly created: number;
  readonly owned_by: string;
  readonly max_model_len: number;
}

export interface ErrorBody {
  readonly error: { readonly message: string; readonly type: string; readonly param: string | null; readonly code: string | null };
}
