/**
 * Autoregressive generation for one sequence: prefill the prompt in one batch, then decode one
 * token per step, sampling each from the last logits. The KV cache is paged like the batched
 * engine's, with an identity block table (this sequence owns every block).
 */
import type { Model, ForwardBatch, KvCache } from "../models/llama.js";
import type { Tokenizer } from "../tokenizer/types.js";
import type { SamplingParams, TokenLogprob } from "../sampling/types.js";
import { createSampler } from "../sampling/sampler.js";
import { InvalidArgumentError } from "../errors.js";
import { DEFAULT_KV_DTYPE, type KvDtype } from "../backend/kv-dtype.js";

export const KV_BLOCK_SIZE = 16;

export interface GenerateParams extends SamplingParams {
  /** Maximum new tokens (default 256); generation also stops when the context is full. */
  readonly maxTokens?: number;
  /** Keep going past end-of-generation tokens (benchmarks). */
  readonly ignoreEos?: boolean;
  /** Add BOS etc. when the prompt is text (default true). */
  readonly addSpecial?: boolean;
}

export type FinishReason = "stop" | "length";

export interface GenerationUsage {
  readonly promptTokens: number;
  readonly completionTokens: number;
  /** Wall time of the prompt's forward pass (prefill), ms. */
  readonly prefillMs: number;
  /** Wall time of all decode steps, ms. */
  readonly decodeMs: number;
}

export interface GenerationChunk {
  /** Newly completed text (may be "" while a multi-byte character is incomplete). */
  readonly text: string;
  /** The token this chunk comes from; absent on the final flush chunk. */
  readonly tokenId?: number;
  readonly logprob?: number;
  readonly topLogprobs?: readonly TokenLogprob[];
  /** Set on the last chunk only. */
  readonly finishReason?: FinishReason;
  readonly usage?: GenerationUsage;
}

export async function* generate(
  model: Model,
  tokenizer: Tokenizer,
  prompt: string | readonly number[],
  params: GenerateParams = {},
  extraStopIds: readonly number[] = [],
  kvDtype: KvDtype = DEFAULT_KV_DTYPE,
): AsyncGenerator<GenerationChunk> {
  const c = model.config;
  const promptIds = typeof prompt === "string" ? tokenizer.encode(prompt, { addSpecial: params.addSpecial ?? true }) : [...prompt];
  if (promptIds.length === 0) throw new InvalidArgumentError("prompt", "is empty (no tokens to condition on)");
  for (const id of promptIds) {
    if (!Number.isInteger(id) || id < 0 || id >= c.vocabSize) throw new InvalidArgumentError("prompt", `token id ${id} is outside the vocabulary [0, ${c.vocabSize})`);
  }
  const maxTokens = params.maxTokens ?? 256;
  if (!Number.isInteger(maxTokens) || maxTokens < 0) throw new InvalidArgumentError("maxTokens", `expected a non-negative integer, got ${maxTokens}`);
  if (promptIds.length >= c.contextLength) {
    throw new InvalidArgumentError("prompt", `${promptIds.length} prompt tokens do not fit the model's context length of ${c.contextLength}`);
  }
  const sampler = createSampler(params, c.vocabSize);
  const stopIds = new Set<number>(params.ignoreEos ? [] : [...tokenizer.stopIds, ...extraStopIds]);

  const totalLen = Math.min(c.contextLength, promptIds.length + maxTokens);
  const kvCache: KvCache = model.createKvCache(Math.ceil(totalLen / KV_BLOCK_SIZE), KV_BLOCK_SIZE, kvDtype);
  const blockTable = Int32Array.from({ length: kvCache.numBlocks }, (_, i) => i);
  const step = (tokenIds: readonly number[], start: number): Float32Array => {
    const n = tokenIds.length;
    const positions = Int32Array.from({ length: n }, (_, i) => start + i);
    const batch: ForwardBatch = {
      tokenIds: Int32Array.from(tokenIds),
      positions,
      slotMapping: positions, // identity block table: slot == position
      seqs: [{ queryStart: 0, queryLen: n, contextLen: start + n, blockTable }],
      logitIndices: Int32Array.of(n - 1),
    };
    return model.forward(batch, kvCache);
  };

  // Control tokens (BOS, EOS, chat markers) are not text (vLLM's skip_special_tokens default).
  const decoder = tokenizer.createStreamDecoder({ skipSpecial: true });
  // A prompt ending in BOS: the decoder must know, to drop the first piece's SentencePiece space.
  const lastPromptId = promptIds[promptIds.length - 1] as number;
  if (tokenizer.isControl(lastPromptId)) decoder.push(lastPromptId);
  const outputIds: number[] = [];
  const t0 = performance.now();
  let logits = maxTokens > 0 ? step(promptIds, 0) : new Float32Array(0);
  const prefillMs = performance.now() - t0;
  const t1 = performance.now();
  let finishReason: FinishReason = "length";
  const rowMax = new Float32Array(1);
  const rowArgmax = new Int32Array(1);
  while (outputIds.length < maxTokens) {
    model.backend.scanRows(logits, 1, c.vocabSize, rowMax, rowArgmax); // the sampler's row scan, natively
    const s = sampler.sample(logits, promptIds, outputIds, { max: rowMax[0] as number, argmax: rowArgmax[0] as number });
    outputIds.push(s.id);
    if (stopIds.has(s.id)) {
      finishReason = "stop";
      break;
    }
    yield { text: decoder.push(s.id), tokenId: s.id, ...(s.logprob !== undefined ? { logprob: s.logprob } : {}), ...(s.topLogprobs ? { topLogprobs: s.topLogprobs } : {}) };
    const pos = promptIds.length + outputIds.length - 1;
    if (outputIds.length >= maxTokens || pos + 1 >= totalLen) break;
    logits = step([s.id], pos);
  }
  const usage: GenerationUsage = {
    promptTokens: promptIds.length,
    completionTokens: outputIds.length,
    prefillMs,
    decodeMs: performance.now() - t1,
  };
  yield { text: decoder.flush(), finishReason, usage };
}
