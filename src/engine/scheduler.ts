/**
 * The scheduler decides, it never computes. Each step it spends a token budget: no prefill or
 * decode phases, just "give each sequence up to numTokens - numComputedTokens tokens". Chunked
 * prefill (a long prompt takes several steps), prefix-cache hits (numComputedTokens starts > 0) and
 * decoding (1 token) all fall out of that one rule.
 *
 * Order: running sequences first (so decodes never wait behind a long prefill), then waiting ones
 * (FCFS, or by priority). When blocks run out, the lowest-priority running sequence is preempted:
 * its blocks are released (full ones stay cached) and it is recomputed later. Never a deadlock: a
 * sequence that cannot fit even alone is finished with "length" instead of spinning.
 */
import { BlockManager, blockHash, type BlockId } from "./block-manager.js";
import { SeqStatus, isFinished, numOutputTokens, type SeqId, type Sequence } from "./sequence.js";

export interface SchedulerConfig {
  /** Tokens computed per step across all sequences (prefill chunks + decodes). */
  readonly maxNumBatchedTokens: number;
  /** Sequences running at once. */
  readonly maxNumSeqs: number;
  /** Model context length: a sequence never grows past it. */
  readonly maxModelLen: number;
  readonly policy: "fcfs" | "priority";
  readonly enablePrefixCaching: boolean;
}

/** One sequence's share of a step: compute tokens [startPos, startPos + numTokens). */
export interface ScheduledSeq {
  readonly seqId: SeqId;
  readonly startPos: number;
  readonly numTokens: number;
  readonly tokenIds: readonly number[];
  readonly blockTable: readonly BlockId[];
  /** This chunk reaches the end of the known tokens: its last row is sampled. */
  readonly sample: boolean;
}

/** Plain, serializable data: what the model runner computes this step. */
export interface SchedulerOutput {
  readonly scheduled: readonly ScheduledSeq[];
  readonly numBatchedTokens: number;
  /** Sequences preempted in this step (blocks released, will be recomputed). */
  readonly preempted: readonly SeqId[];
  /** Sequences the scheduler finished itself (too long to ever fit the cache: "length"). */
  readonly finished: readonly SeqId[];
}

export interface SchedulerCounters {
  numPreemptions: number;
  /** Prompt tokens whose KV came from the prefix cache instead of being computed. */
  numCachedPromptTokens: number;
  numComputedPromptTokens: number;
}

export class Scheduler {
  readonly config: SchedulerConfig;
  readonly blocks: BlockManager;
  private waiting: Sequence[] = [];
  private running: Sequence[] = [];
  private readonly byId = new Map<SeqId, Sequence>();
  /** Finished by schedule() itself; handed out by the next update(). */
  private finishedInSchedule: Sequence[] = [];
  readonly counters: SchedulerCounters = { numPreemptions: 0, numCachedPromptTokens: 0, numComputedPromptTokens: 0 };

  constructor(config: SchedulerConfig, blocks: BlockManager) {
    this.config = config;
    this.blocks = blocks;
  }

  get numWaiting(): number { return this.waiting.length; }
  get numRunning(): number { return this.running.length; }
  hasWork(): boolean { return this.waiting.length + this.running.length > 0; }
  get(id: SeqId): Sequence | undefined { return this.byId.get(id); }
  runningAndWaitingIds(): SeqId[] { return [...this.byId.keys()]; }

  add(seq: Sequence): void {
    this.byId.set(seq.id, seq);
    this.insertWaiting(seq, false);
  }

  /** Finish a sequence now (client gone, stop string found): its blocks are released at once. */
  finish(id: SeqId, status: SeqStatus): Sequence | undefined {
    const seq = this.byId.get(id);
    if (!seq || isFinished(seq)) return undefined;
    this.waiting = this.waiting.filter((s) => s !== seq);
    this.running = this.running.filter((s) => s !== seq);
    this.releaseBlocks(seq);
    seq.status = status;
    this.byId.delete(id);
    return seq;
  }

  schedule(): SchedulerOutput {
    let budget = this.config.maxNumBatchedTokens;
    const scheduled: ScheduledSeq[] = [];
    const preempted: SeqId[] = [];
    const finished: SeqId[] = [];

    // 1. Running sequences, highest priority first; preempt from the back when blocks run out.
    this.running.sort((a, b) => this.compare(a, b));
    for (let i = 0; i < this.running.length && budget > 0; i++) {
      const seq = this.running[i] as Sequence;
      const numTokens = Math.min(seq.tokenIds.length - seq.numComputedTokens, budget);
      if (numTokens <= 0) continue;
      let ok = this.ensureBlocks(seq, numTokens);
      while (!ok) {
        const victim = this.running[this.running.length - 1] as Sequence;
        this.preempt(victim);
        preempted.push(victim.id);
        if (victim === seq) break;
        ok = this.ensureBlocks(seq, numTokens);
      }
      if (!ok) break; // seq preempted itself: everything after it already was
      scheduled.push(this.plan(seq, numTokens));
      budget -= numTokens;
    }

    // 2. Waiting sequences, in policy order, while budget, slots and blocks last. Nothing is admitted
    //    in a step that preempted: memory is already short.
    if (preempted.length === 0) {
      while (budget > 0 && this.waiting.length > 0 && this.running.length < this.config.maxNumSeqs) {
        const seq = this.waiting[0] as Sequence;
        this.admitFromCache(seq);
        const numTokens = Math.min(seq.tokenIds.length - seq.numComputedTokens, budget);
        if (!this.ensureBlocks(seq, numTokens)) {
          // A waiting sequence holds no blocks: give back the cached prefix it was about to reuse.
          this.releaseBlocks(seq);
          seq.numComputedTokens = 0;
          if (this.running.length === 0) {
            // Cannot fit even with the whole cache to itself: finish it rather than wait forever.
            this.waiting.shift();
            seq.status = SeqStatus.FINISHED_LENGTH;
            this.byId.delete(seq.id);
            this.finishedInSchedule.push(seq);
            finished.push(seq.id);
            continue;
          }
          break;
        }
        this.counters.numCachedPromptTokens += seq.numCachedTokens;
        this.waiting.shift();
        seq.status = SeqStatus.RUNNING;
        this.running.push(seq);
        scheduled.push(this.plan(seq, numTokens));
        budget -= numTokens;
      }
    }
    return { scheduled, numBatchedTokens: this.config.maxNumBatchedTokens - budget, preempted, finished };
  }

  /**
   * Apply a step's results: advance numComputedTokens, cache newly full blocks, append sampled
   * tokens and finish sequences that hit a stop token, max tokens or the context length.
   * `sampled` maps each sampling sequence to its new token. Returns the sequences finished in this
   * step (including those schedule() had to finish).
   */
  update(output: SchedulerOutput, sampled: ReadonlyMap<SeqId, number>): Sequence[] {
    const finished: Sequence[] = this.finishedInSchedule;
    this.finishedInSchedule = [];
    for (const s of output.scheduled) {
      const seq = this.byId.get(s.seqId);
      if (!seq || isFinished(seq) || seq.status !== SeqStatus.RUNNING) continue; // aborted meanwhile
      seq.numComputedTokens = s.startPos + s.numTokens;
      if (s.startPos < seq.numPromptTokens) {
        this.counters.numComputedPromptTokens += Math.min(seq.numPromptTokens, seq.numComputedTokens) - s.startPos;
      }
      this.cacheFullBlocks(seq);
      if (!s.sample) continue;
      const id = sampled.get(seq.id);
      if (id === undefined) continue;
      seq.tokenIds.push(id);
      const p = seq.params;
      let status: SeqStatus | undefined;
      if (!p.ignoreEos && p.stopTokenIds.has(id)) status = SeqStatus.FINISHED_STOPPED;
      else if (numOutputTokens(seq) >= p.maxTokens || seq.tokenIds.length >= this.config.maxModelLen) status = SeqStatus.FINISHED_LENGTH;
      if (status !== undefined) {
        const done = this.finish(seq.id, status);
        if (done) finished.push(done);
      }
    }
    return finished;
  }

  // ---- internals ----

  /** Lower sorts first: runs first, preempted last. */
  private compare(a: Sequence, b: Sequence): number {
    if (this.config.policy === "priority" && a.params.priority !== b.params.priority) return a.params.priority - b.params.priority;
    return a.arrivalIndex - b.arrivalIndex;
  }

  private insertWaiting(seq: Sequence, front: boolean): void {
    if (this.config.policy === "fcfs") {
      if (front) this.waiting.unshift(seq);
      else this.waiting.push(seq);
      return;
    }
    const i = this.waiting.findIndex((w) => this.compare(seq, w) < 0);
    if (i < 0) this.waiting.push(seq);
    else this.waiting.splice(i, 0, seq);
  }

  /** Reuse the longest cached prefix of full blocks (never the last token: it must be computed). */
  private admitFromCache(seq: Sequence): void {
    seq.numCachedTokens = 0;
    if (!this.config.enablePrefixCaching || seq.blockTable.length > 0) return;
    const { blockIds, hashes } = this.blocks.findCachedPrefix(seq.tokenIds);
    for (const id of blockIds) this.blocks.reuse(id);
    seq.blockTable = blockIds;
    seq.blockHashes = hashes;
    seq.numComputedTokens = blockIds.length * this.blocks.blockSize;
    seq.numCachedTokens = Math.min(seq.numComputedTokens, seq.numPromptTokens);
  }

  /** Grow the block table to hold `numTokens` more tokens; false (and no change) if blocks are short. */
  private ensureBlocks(seq: Sequence, numTokens: number): boolean {
    const needed = Math.ceil((seq.numComputedTokens + numTokens) / this.blocks.blockSize) - seq.blockTable.length;
    if (needed <= 0) return true;
    if (!this.blocks.canAllocate(needed)) return false;
    for (let i = 0; i < needed; i++) seq.blockTable.push(this.blocks.allocate());
    return true;
  }

  private plan(seq: Sequence, numTokens: number): ScheduledSeq {
    const startPos = seq.numComputedTokens;
    return {
      seqId: seq.id,
      startPos,
      numTokens,
      tokenIds: seq.tokenIds.slice(startPos, startPos + numTokens),
      blockTable: [...seq.blockTable],
      sample: startPos + numTokens === seq.tokenIds.length,
    };
  }

  private preempt(seq: Sequence): void {
    this.running = this.running.filter((s) => s !== seq);
    this.releaseBlocks(seq);
    seq.numComputedTokens = 0;
    seq.status = SeqStatus.WAITING;
    seq.numPreemptions++;
    this.counters.numPreemptions++;
    this.insertWaiting(seq, true);
  }

  private releaseBlocks(seq: Sequence): void {
    this.blocks.release(seq.blockTable);
    seq.blockTable = [];
    seq.blockHashes = [];
  }

  /** Hash every block whose slots are all computed, so later requests can share it. */
  private cacheFullBlocks(seq: Sequence): void {
    if (!this.config.enablePrefixCaching) return;
    const bs = this.blocks.blockSize;
    const numFull = Math.floor(seq.numComputedTokens / bs);
    for (let i = seq.blockHashes.length; i < numFull; i++) {
      const h = blockHash(seq.blockHashes[i - 1], seq.tokenIds.slice(i * bs, (i + 1) * bs));
      seq.blockHashes.push(h);
      this.blocks.markFull(seq.blockTable[i] as BlockId, h);
    }
  }
}
