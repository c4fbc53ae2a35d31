import { test } from "node:test";
import * as assert from "node:assert/strict";
import { BlockManager } from "../../src/engine/block-manager.js";
import { Scheduler, type SchedulerConfig, type SchedulerOutput } from "../../src/engine/scheduler.js";
import { SeqStatus, createSequence, type Sequence, type SequenceParams } from "../../src/engine/sequence.js";

const EOS = 2;
const params = (over: Partial<SequenceParams> = {}): SequenceParams => ({
  sampling: { temperature: 0 }, maxTokens: 100, stopTokenIds: new Set([EOS]), ignoreEos: false, priority: 0, ...over,
});
const config = (over: Partial<SchedulerConfig> = {}): SchedulerConfig => ({
  maxNumBatchedTokens: 64, maxNumSeqs: 8, maxModelLen: 1024, policy: "fcfs", enablePrefixCaching: true, ...over,
});
const prompt = (n: number, start = 10): number[] => Array.from({ length: n }, (_, i) => start + i);

let nextIndex = 0;
function seq(id: number, promptIds: number[], p: SequenceParams = params()): Sequence {
  return createSequence(id, promptIds, p, nextIndex++);
}

/** Sample token 7 for every sequence that samples this step. */
function step(s: Scheduler, token = 7): { out: SchedulerOutput; finished: Sequence[] } {
  const out = s.schedule();
  const sampled = new Map(out.scheduled.filter((x) => x.sample).map((x) => [x.seqId, token]));
  return { out, finished: s.update(out, sampled) };
}
const shape = (out: SchedulerOutput): [number, number, number][] => out.scheduled.map((x) => [x.seqId, x.startPos, x.numTokens]);

test("chunked prefill: a long prompt is split by the token budget, decodes of others go first", () => {
  const s = new Scheduler(config({ maxNumBatchedTokens: 32 }), new BlockManager(64, 16));
  s.add(seq(1, prompt(5)));
  let r = step(s);
  assert.deepEqual(shape(r.out), [[1, 0, 5]]);
  assert.deepEqual(r.out.scheduled[0]?.blockTable, [0]);
  s.add(seq(2, prompt(100)));
  // Sequence 1 decodes (1 token), sequence 2 prefills in chunks of the remaining budget.
  r = step(s);
  assert.deepEqual(shape(r.out), [[1, 5, 1], [2, 0, 31]]);
  assert.equal(r.out.scheduled[1]?.sample, false);
  assert.deepEqual(r.out.scheduled[1]?.blockTable, [1, 2]);
  r = step(s);
  assert.deepEqual(shape(r.out), [[1, 6, 1], [2, 31, 31]]);
  r = step(s);
  assert.deepEqual(shape(r.out), [[1, 7, 1], [2, 62, 31]]);
  r = step(s);
  assert.deepEqual(shape(r.out), [[1, 8, 1], [2, 93, 7]]); // last chunk: 7 tokens, sampled
  assert.equal(r.out.scheduled[1]?.sample, true);
  assert.deepEqual(r.out.scheduled[1]?.blockTable, [1, 2, 3, 4, 5, 6, 7]);
  r = step(s);
  assert.deepEqual(shape(r.out), [[1, 9, 1], [2, 100, 1]]);
});

test("max tokens, stop token and context length finish a sequence and free its blocks", () => {
  const s = new Scheduler(config({ maxModelLen: 12 }), new BlockManager(8, 4));
  s.add(seq(1, prompt(4), params({ maxTokens: 2 })));
  s.add(seq(2, prompt(4, 50)));
  s.add(seq(3, prompt(9, 80)));
  let r = step(s);
  assert.deepEqual(shape(r.out), [[1, 0, 4], [2, 0, 4], [3, 0, 9]]);
  assert.deepEqual(r.finished, []);
  r = step(s);
  assert.deepEqual(r.finished.map((x) => [x.id, x.status]), [[1, SeqStatus.FINISHED_LENGTH]]);
  const r2 = s.schedule();
  s.update(r2, new Map([[2, EOS], [3, 7]]));
  assert.equal(s.get(2), undefined);
  // Sequence 3: 9 prompt + 3 sampled = 12 = maxModelLen.
  const seq3Done = step(s).finished.map((x) => [x.id, x.status]);
  assert.deepEqual(seq3Done, []);
  assert.equal(s.hasWork(), false);
  assert.equal(s.blocks.stats().numUsedBlocks, 0);
});

test("prefix caching: a second request with the same prefix computes only its new tokens", () => {
  const s = new Scheduler(config({ maxNumBatchedTokens: 256 }), new BlockManager(32, 16));
  const shared = prompt(200);
  s.add(seq(1, [...shared, 1, 2, 3], params({ maxTokens: 1 })));
  let r = step(s);
  assert.deepEqual(shape(r.out), [[1, 0, 203]]);
  assert.deepEqual(r.out.scheduled[0]?.blockTable, range(0, 13));
  assert.equal(r.finished.length, 1); // blocks released but the 12 full ones stay cached
  s.add(seq(2, [...shared, 4, 5], params({ maxTokens: 1 })));
  r = step(s);
  // 200 shared tokens = 12 full blocks (192 tokens) reused; 10 tokens computed.
  assert.deepEqual(shape(r.out), [[2, 192, 10]]);
  assert.deepEqual(r.out.scheduled[0]?.blockTable.slice(0, 12), range(0, 12));
  assert.equal(r.finished[0]?.numCachedTokens, 192);
  assert.equal(s.counters.numCachedPromptTokens, 192);
  assert.equal(s.counters.numComputedPromptTokens, 203 + 10);
});

test("preemption by recompute when blocks run out: the newest sequence yields, then resumes", () => {
  // 4 blocks of 4 slots = 16 tokens of KV. Two sequences of 6 prompt tokens (2 blocks each).
  const s = new Scheduler(config(), new BlockManager(4, 4));
  s.add(seq(1, prompt(6)));
  s.add(seq(2, prompt(6, 40)));
  let r = step(s);
  assert.deepEqual(shape(r.out), [[1, 0, 6], [2, 0, 6]]);
  step(s); // 7 tokens each: still 2 blocks each
  step(s); // 8 tokens each
  // Next decode needs a third block for sequence 1: none free, so sequence 2 (newest) is preempted.
  r = step(s);
  assert.deepEqual(r.out.preempted, [2]);
  assert.deepEqual(shape(r.out), [[1, 8, 1]]);
  assert.equal(s.get(2)?.status, SeqStatus.WAITING);
  assert.equal(s.get(2)?.numComputedTokens, 0);
  assert.equal(s.counters.numPreemptions, 1);
  // Sequence 2 keeps its tokens (prompt + 3 sampled) and recomputes them when room returns.
  assert.equal(s.get(2)?.tokenIds.length, 9);
  s.finish(1, SeqStatus.FINISHED_ABORTED);
  r = step(s);
  // Its 2 full blocks (2, 3) were cached on release, but sequence 1's new block evicted block 3
  // (a sequence's last block goes first): block 2 is reused and recompute starts at token 4.
  assert.deepEqual(shape(r.out), [[2, 4, 5]]);
  assert.deepEqual(r.out.scheduled[0]?.blockTable.slice(0, 1), [2]);
});

test("a sequence that cannot fit even alone is finished with 'length', never a deadlock", () => {
  const s = new Scheduler(config(), new BlockManager(2, 4));
  s.add(seq(1, prompt(20)));
  const r = step(s);
  assert.deepEqual(r.out.finished, [1]);
  assert.deepEqual(r.finished.map((x) => [x.id, x.status]), [[1, SeqStatus.FINISHED_LENGTH]]);
  assert.equal(s.hasWork(), false);
  assert.equal(s.blocks.stats().numUsedBlocks, 0);
});

test("maxNumSeqs caps running sequences; FCFS order of admission", () => {
  const s = new Scheduler(config({ maxNumSeqs: 2 }), new BlockManager(16, 4));
  for (const id of [1, 2, 3]) s.add(seq(id, prompt(3)));
  const r = step(s);
  assert.deepEqual(shape(r.out).map((x) => x[0]), [1, 2]);
  assert.equal(s.numWaiting, 1);
});

test("priority policy: lower priority value is admitted first and preempted last", () => {
  const s = new Scheduler(config({ policy: "priority", maxNumSeqs: 1 }), new BlockManager(16, 4));
  s.add(seq(1, prompt(3), params({ priority: 5 })));
  s.add(seq(2, prompt(3), params({ priority: 1 })));
  const r = step(s);
  assert.deepEqual(shape(r.out).map((x) => x[0]), [2]);
});

test("abort frees the sequence's blocks immediately", () => {
  const s = new Scheduler(config(), new BlockManager(8, 4));
  s.add(seq(1, prompt(10)));
  step(s);
  assert.equal(s.blocks.stats().numUsedBlocks, 3);
  s.finish(1, SeqStatus.FINISHED_ABORTED);
  assert.equal(s.blocks.stats().numUsedBlocks, 0);
  assert.equal(s.hasWork(), false);
});

function range(a: number, b: number): number[] {
  return Array.from({ length: b - a }, (_, i) => a + i);
}
