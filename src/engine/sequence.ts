/**
 * One request's state, owned by the scheduler: its tokens, how many of them have keys/values in the
 * cache, which blocks hold them, and how it ended. Statuses are ordered so "finished" is one comparison.
 */
import type { BlockId } from "./block-manager.js";
import type { SamplingParams } from "../sampling/types.js";

export type SeqId = number;

export const SeqStatus = {
  WAITING: 0,
  RUNNING: 1,
  FINISHED_STOPPED: 2,
  FINISHED_LENGTH: 3,
  FINISHED_ABORTED: 4,
} as const;
export type SeqStatus = (typeof SeqStatus)[keyof typeof SeqStatus];

export type FinishReason = "stop" | "length" | "abort";

export const FINISH_REASON: Readonly<Record<number, FinishReason>> = {
  [SeqStatus.FINISHED_STOPPED]: "stop",
  [SeqStatus.FINISHED_LENGTH]: "length",
  [SeqStatus.FINISHED_ABORTED]: "abort",
};

export interface SequenceParams {
  readonly sampling: SamplingParams;
  /** Maximum generated tokens. */
  readonly maxTokens: number;
  /** Token ids that end generation (EOS and friends), unless ignoreEos. */
  readonly stopTokenIds: ReadonlySet<number>;
  readonly ignoreEos: boolean;
  /** Lower runs first under the "priority" policy (vLLM convention). */
  readonly priority: number;
}

export interface Sequence {
  readonly id: SeqId;
  status: SeqStatus;
  /** Prompt followed by generated tokens. */
  readonly tokenIds: number[];
  readonly numPromptTokens: number;
  /** Leading tokens whose keys/values are in the cache. */
  numComputedTokens: number;
  /** Physical blocks, in logical order. */
  blockTable: BlockId[];
  /** Content hashes of the leading full blocks (prefix-cache chain). */
  blockHashes: string[];
  /** Prompt tokens served from the prefix cache at the last admission. */
  numCachedTokens: number;
  readonly params: SequenceParams;
  readonly arrivalTime: number;
  /** Order of arrival, for FCFS ties. */
  readonly arrivalIndex: number;
  numPreemptions: number;
}

export function createSequence(id: SeqId, promptIds: readonly number[], params: SequenceParams, arrivalIndex: number): Sequence {
  return {
    id,
    status: SeqStatus.WAITING,
    tokenIds: [...promptIds],
    numPromptTokens: promptIds.length,
    numComputedTokens: 0,
    blockTable: [],
    blockHashes: [],
    numCachedTokens: 0,
    params,
    arrivalTime: performance.now(),
    arrivalIndex,
    numPreemptions: 0,
  };
}

export const isFinished = (s: Sequence): boolean => s.status >= SeqStatus.FINISHED_STOPPED;
export const numOutputTokens = (s: Sequence): number => s.tokenIds.length - s.numPromptTokens;
export const outputIds = (s: Sequence): number[] => s.tokenIds.slice(s.numPromptTokens);
