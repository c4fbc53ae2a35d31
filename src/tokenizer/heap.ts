/**
 * Binary min-heap of candidate merges, ordered by (key, left): the best merge has the smallest key
 * (a BPE rank, or a negated SentencePiece score) and, among equals, the leftmost position.
 */
export interface MergeCandidate {
  /** Smaller is better. */
  readonly key: number;
  /** Index of the left symbol. */
  readonly left: number;
  /** Index of the right symbol. */
  readonly right: number;
  /** Combined length of both symbols when the candidate was made (stale if it no longer matches). */
  readonly size: number;
}

export class MergeHeap {
  private readonly items: MergeCandidate[] = [];

  get size(): number {
    return this.items.length;
  }

  push(item: MergeCandidate): void {
    const a = this.items;
    a.push(item);
    let i = a.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = a[parent] as MergeCandidate;
      if (!less(item, p)) break;
      a[i] = p;
      i = parent;
    }
    a[i] = item;
  }

  pop(): MergeCandidate | undefined {
    const a = this.items;
    const top = a[0];
    const last = a.pop();
    if (top === undefined || last === undefined || a.length === 0) return top;
    const n = a.length;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      let c = l;
      if (r < n && less(a[r] as MergeCandidate, a[l] as MergeCandidate)) c = r;
      const child = a[c] as MergeCandidate;
      if (!less(child, last)) break;
      a[i] = child;
      i = c;
    }
    a[i] = last;
    return top;
  }
}

function less(x: MergeCandidate, y: MergeCandidate): boolean {
  return x.key < y.key || (x.key === y.key && x.left < y.left);
}
