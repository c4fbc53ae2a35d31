import { test } from "node:test";
import * as assert from "node:assert/strict";
import { BlockManager, blockHash } from "../../src/engine/block-manager.js";

const range = (a: number, b: number): number[] => Array.from({ length: b - a }, (_, i) => a + i);

test("allocates blocks in id order from a fresh cache, and counts them", () => {
  const bm = new BlockManager(4, 16);
  assert.deepEqual([bm.allocate(), bm.allocate(), bm.allocate()], [0, 1, 2]);
  assert.equal(bm.numFreeBlocks, 1);
  assert.equal(bm.canAllocate(1), true);
  assert.equal(bm.canAllocate(2), false);
  assert.equal(bm.stats().numUsedBlocks, 3);
});

test("release puts a sequence's blocks on the free list tail-first (its last block is evicted first)", () => {
  const bm = new BlockManager(4, 16);
  const seq = [bm.allocate(), bm.allocate(), bm.allocate()]; // 0 1 2, free: [3]
  bm.release(seq); // free list: 3, 2, 1, 0
  assert.deepEqual([bm.allocate(), bm.allocate(), bm.allocate(), bm.allocate()], [3, 2, 1, 0]);
  assert.throws(() => bm.allocate(), /no free block/);
});

test("reference counts: a shared block is freed only by its last holder", () => {
  const bm = new BlockManager(2, 16);
  const b = bm.allocate();
  bm.share(b);
  assert.equal(bm.refCount(b), 2);
  bm.release([b]);
  assert.equal(bm.numFreeBlocks, 1);
  bm.release([b]);
  assert.equal(bm.numFreeBlocks, 2);
  assert.throws(() => bm.release([b]), /already free/);
});

test("prefix cache: full blocks found by chained hash, never the last token, hits counted", () => {
  const bm = new BlockManager(8, 4);
  const tokens = range(100, 111); // 11 tokens: blocks [100..103], [104..107], partial [108..110]
  const ids = [bm.allocate(), bm.allocate(), bm.allocate()]; // 0 1 2
  const h0 = blockHash(undefined, tokens.slice(0, 4));
  const h1 = blockHash(h0, tokens.slice(4, 8));
  bm.markFull(ids[0] as number, h0);
  bm.markFull(ids[1] as number, h1);

  // Same 11 tokens: both full blocks are hits (the partial one is never cached).
  assert.deepEqual(bm.findCachedPrefix(tokens), { blockIds: [0, 1], hashes: [h0, h1] });
  // Exactly 8 tokens: the second block would cover the last token, so only 1 block is reused.
  assert.deepEqual(bm.findCachedPrefix(tokens.slice(0, 8)).blockIds, [0]);
  // Same second block content after a different first block: no hit (the hash chains the parent).
  assert.deepEqual(bm.findCachedPrefix([9, 9, 9, 9, ...tokens.slice(4)]).blockIds, []);
  const st = bm.stats();
  assert.equal(st.prefixQueries, 2 + 1 + 1);
  assert.equal(st.prefixHits, 2 + 1);
});

test("cached blocks survive release and are reused until evicted, in eviction order", () => {
  const bm = new BlockManager(3, 2);
  const a = [bm.allocate(), bm.allocate()]; // 0 1
  const ha = blockHash(undefined, [1, 2]);
  const hb = blockHash(ha, [3, 4]);
  bm.markFull(0, ha);
  bm.markFull(1, hb);
  bm.release(a); // free: 2, 1, 0 (block 1 evicted before block 0)
  assert.equal(bm.stats().numCachedFreeBlocks, 2);

  // A new request with the same 5 tokens reuses both cached blocks, taking them off the free list.
  const hit = bm.findCachedPrefix([1, 2, 3, 4, 5]);
  assert.deepEqual(hit.blockIds, [0, 1]);
  for (const id of hit.blockIds) bm.reuse(id);
  assert.equal(bm.numFreeBlocks, 1);
  bm.release(hit.blockIds); // free: 2, 1, 0

  // Allocating two fresh blocks evicts 2 (uncached) then 1 (cached): block 1's hash is forgotten.
  assert.deepEqual([bm.allocate(), bm.allocate()], [2, 1]);
  assert.deepEqual(bm.findCachedPrefix([1, 2, 3, 4, 5]).blockIds, [0]);
});

test("reset forgets cached prefixes of free blocks", () => {
  const bm = new BlockManager(2, 2);
  const b = bm.allocate();
  bm.markFull(b, blockHash(undefined, [1, 2]));
  bm.release([b]);
  bm.resetPrefixCache();
  assert.deepEqual(bm.findCachedPrefix([1, 2, 3]).blockIds, []);
});
