/**
 * The paged KV cache's bookkeeping: which physical block holds which tokens of which sequence.
 * Pure data, no tensors (the model runner owns the memory; this only hands out block ids).
 *
 * - Blocks hold `blockSize` token slots. A sequence's block table lists its blocks in order.
 * - Reference counts: a block shared by several sequences (a common prefix, or `n` choices of one
 *   prompt) is freed only when the last of them lets go.
 * - Automatic prefix caching: every FULL block gets a chained hash (parent block's hash + its own
 *   token ids), recorded in `hashToBlock`. A new sequence whose leading blocks hash the same reuses
 *   them instead of recomputing their keys/values.
 * - Free list in eviction order (least recently freed first). A freed block keeps its cached
 *   contents and hash until it is popped for reuse ("evicted"), so a later request can still hit it.
 */
import { createHash } from "node:crypto";

export type BlockId = number;

interface Block {
  readonly id: BlockId;
  refCount: number;
  /** Hash of this block's content chain, once the block is full; undefined while filling. */
  hash: string | undefined;
  /** Doubly linked free list (only meaningful while refCount == 0). */
  prev: Block | undefined;
  next: Block | undefined;
  isFree: boolean;
}

export interface BlockManagerStats {
  readonly numBlocks: number;
  readonly numFreeBlocks: number;
  /** Blocks referenced by at least one sequence. */
  readonly numUsedBlocks: number;
  /** Free blocks that still hold a cached, hashed prefix. */
  readonly numCachedFreeBlocks: number;
  readonly prefixQueries: number;
  readonly prefixHits: number;
}

/** Chained hash of one full block: depends on every token before it, through the parent hash. */
export function blockHash(parentHash: string | undefined, tokenIds: ArrayLike<number>): string {
  const h = createHash("sha256");
  h.update(parentHash ?? "root");
  h.update(new Uint8Array(Int32Array.from(tokenIds).buffer));
  return h.digest("base64url");
}

export class BlockManager {
  readonly numBlocks: number;
  readonly blockSize: number;
  private readonly blocks: Block[];
  private readonly hashToBlock = new Map<string, Block>();
  // Sentinel-bounded free list: head.next is the next block to evict/reuse.
  private readonly head: Block;
  private readonly tail: Block;
  private numFree = 0;
  private prefixQueries = 0;
  private prefixHits = 0;

  constructor(numBlocks: number, blockSize: number) {
    if (!Number.isInteger(numBlocks) || numBlocks < 1) throw new RangeError(`numBlocks must be a positive integer, got ${numBlocks}`);
    if (!Number.isInteger(blockSize) || blockSize < 1) throw new RangeError(`blockSize must be a positive integer, got ${blockSize}`);
    this.numBlocks = numBlocks;
    this.blockSize = blockSize;
    const mk = (id: number): Block => ({ id, refCount: 0, hash: undefined, prev: undefined, next: undefined, isFree: false });
    this.head = mk(-1);
    this.tail = mk(-2);
    this.head.next = this.tail;
    this.tail.prev = this.head;
    this.blocks = Array.from({ length: numBlocks }, (_, i) => mk(i));
    for (const b of this.blocks) this.pushFree(b);
  }

  get numFreeBlocks(): number {
    return this.numFree;
  }

  stats(): BlockManagerStats {
    let cached = 0;
    for (let b = this.head.next; b && b !== this.tail; b = b.next) if (b.hash !== undefined) cached++;
    return {
      numBlocks: this.numBlocks,
      numFreeBlocks: this.numFree,
      numUsedBlocks: this.numBlocks - this.numFree,
      numCachedFreeBlocks: cached,
      prefixQueries: this.prefixQueries,
      prefixHits: this.prefixHits,
    };
  }

  /**
   * The longest run of leading full blocks of `tokenIds` already in the cache. Never covers the
   * whole sequence: the last token is always recomputed so the step has logits to sample from.
   * Returns the blocks (not yet referenced) and their hashes (reusable for the rest of the chain).
   */
  findCachedPrefix(tokenIds: readonly number[]): { blockIds: BlockId[]; hashes: string[] } {
    const maxFull = Math.floor((tokenIds.length - 1) / this.blockSize);
    const blockIds: BlockId[] = [];
    const hashes: string[] = [];
    let parent: string | undefined;
    for (let i = 0; i < maxFull; i++) {
      const h = blockHash(parent, tokenIds.slice(i * this.blockSize, (i + 1) * this.blockSize));
      this.prefixQueries++;
      const b = this.hashToBlock.get(h);
      if (!b) break;
      this.prefixHits++;
      blockIds.push(b.id);
      hashes.push(h);
      parent = h;
    }
    return { blockIds, hashes };
  }

  /** Can `n` new blocks be had (from free blocks, evicting cached ones if needed)? */
  canAllocate(n: number): boolean {
    return n <= this.numFree;
  }

  /** Take one reference on a cached block (removing it from the free list if it was free). */
  reuse(id: BlockId): void {
    const b = this.block(id);
    if (b.refCount === 0) this.removeFree(b);
    b.refCount++;
  }

  /** A fresh block (the least recently freed one; its cached content, if any, is evicted). */
  allocate(): BlockId {
    const b = this.head.next;
    if (!b || b === this.tail) throw new Error("BlockManager.allocate: no free block (check canAllocate first)");
    this.removeFree(b);
    if (b.hash !== undefined) {
      if (this.hashToBlock.get(b.hash) === b) this.hashToBlock.delete(b.hash);
      b.hash = undefined;
    }
    b.refCount = 1;
    return b.id;
  }

  /** Another reference to a block in use (forking a sequence: `n` choices share the prompt). */
  share(id: BlockId): void {
    const b = this.block(id);
    if (b.refCount < 1) throw new Error(`BlockManager.share: block ${id} is not in use`);
    b.refCount++;
  }

  /**
   * Record that block `id` is now full with the given content hash, so later sequences can reuse it.
   * If an identical block is already cached, the existing entry stays (first writer wins).
   */
  markFull(id: BlockId, hash: string): void {
    const b = this.block(id);
    b.hash = hash;
    if (!this.hashToBlock.has(hash)) this.hashToBlock.set(hash, b);
  }

  /** Drop one reference to each block. Blocks reaching zero go to the free list, tail first in reverse
   * order so that a sequence's LAST blocks are evicted before its first ones (prefixes live longest). */
  release(blockIds: readonly BlockId[]): void {
    for (let i = blockIds.length - 1; i >= 0; i--) {
      const b = this.block(blockIds[i] as BlockId);
      if (b.refCount < 1) throw new Error(`BlockManager.release: block ${b.id} is already free`);
      b.refCount--;
      if (b.refCount === 0) this.pushFree(b);
    }
  }

  refCount(id: BlockId): number {
    return this.block(id).refCount;
  }

  /** Forget every cached prefix (e.g. after a model reload); blocks in use are untouched. */
  resetPrefixCache(): void {
    this.hashToBlock.clear();
    for (const b of this.blocks) if (b.refCount === 0) b.hash = undefined;
  }

  private block(id: BlockId): Block {
    const b = this.blocks[id];
    if (!b) throw new RangeError(`block id ${id} out of range [0, ${this.numBlocks})`);
    return b;
  }

  private pushFree(b: Block): void {
    const last = this.tail.prev as Block;
    b.prev = last;
    b.next = this.tail;
    last.next = b;
    this.tail.prev = b;
    b.isFree = true;
    this.numFree++;
  }

  private removeFree(b: Block): void {
    if (!b.isFree) throw new Error(`block ${b.id} is not on the free list`);
    (b.prev as Block).next = b.next;
    (b.next as Block).prev = b.prev;
    b.prev = b.next = undefined;
    b.isFree = false;
    this.numFree--;
  }
}
