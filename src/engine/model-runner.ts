/**
 * The model runner computes, it never decides: it turns a SchedulerOutput into one flattened
 * forward batch (prefill chunks and decode tokens mixed), runs it, and returns the logits of the
 * rows to sample. It knows nothing of requests, strings or queues.
 */
import type { AttentionSeq, KvDtype } from "../backend/backend.js";
import type { ForwardBatch, KvCache, Model } from "../models/llama.js";
import type { SeqId } from "./sequence.js";
import type { SchedulerOutput } from "./scheduler.js";

export interface RunResult {
  /** [seqIds.length, vocabSize]: row i belongs to seqIds[i]. */
  readonly logits: Float32Array;
  readonly seqIds: readonly SeqId[];
}

export interface ModelRunner {
  readonly kvCache: KvCache;
  run(out: SchedulerOutput): RunResult;
}

export function createModelRunner(model: Model, numBlocks: number, blockSize: number, kvDtype?: KvDtype): ModelRunner {
  const kvCache = model.createKvCache(numBlocks, blockSize, kvDtype);
  return {
    kvCache,
    run(out) {
      const batch = buildBatch(out, blockSize);
      // A step of only non-final prefill chunks still runs: it fills the cache, and yields no logits.
      const logits = batch.tokenIds.length > 0 ? model.forward(batch, kvCache) : new Float32Array(0);
      return { logits, seqIds: out.scheduled.filter((s) => s.sample).map((s) => s.seqId) };
    },
  };
}

/** Lay out a step: per token its id, position and cache slot; per sequence its query range and blocks. */
export function buildBatch(out: SchedulerOutput, blockSize: number): ForwardBatch {
  const n = out.scheduled.reduce((a, s) => a + s.numTokens, 0);
  const tokenIds = new Int32Array(n);
  const positions = new Int32Array(n);
  const slotMapping = new Int32Array(n);
  const seqs: AttentionSeq[] = [];
  const logitIndices: number[] = [];
  let t = 0;
  for (const s of out.scheduled) {
    const blockTable = Int32Array.from(s.blockTable);
    seqs.push({ queryStart: t, queryLen: s.numTokens, contextLen: s.startPos + s.numTokens, blockTable });
    for (let i = 0; i < s.numTokens; i++, t++) {
      const pos = s.startPos + i;
      tokenIds[t] = s.tokenIds[i] as number;
      positions[t] = pos;
      slotMapping[t] = (blockTable[Math.floor(pos / blockSize)] as number) * blockSize + (pos % blockSize);
    }
    if (s.sample) logitIndices.push(t - 1);
  }
  return { tokenIds, positions, slotMapping, seqs, logitIndices: Int32Array.from(logitIndices) };
}
