/**
 * Selection over a logits row without sorting the vocabulary. Token order everywhere: higher logit
 * first, ties broken by the lower id (so results never depend on sort stability or batch layout).
 */

/** Comparator for ids by that order (NaN differences fall back to the id). */
export function byLogitDesc(logits: Float32Array): (a: number, b: number) => number {
  return (a, b) => {
    const d = logits[b]! - logits[a]!;
    return d > 0 ? 1 : d < 0 ? -1 : a - b;
  };
}

/** Index of the largest logit; ties -> lowest id. */
export function argmax(logits: Float32Array): number {
  let best = 0;
  let bestValue = logits[0]!;
  for (let i = 1; i < logits.length; i++) {
    const v = logits[i]!;
    if (v > bestValue) {
      bestValue = v;
      best = i;
    }
  }
  return best;
}

export function maxLogit(logits: Float32Array): number {
  let m = -Infinity;
  for (let i = 0; i < logits.length; i++) {
    const v = logits[i]!;
    if (v > m) m = v;
  }
  return m;
}

/** max, its (lowest) id, sum_i exp(l_i - max) and log Z = max + log(sum): the log-softmax normaliser of a row. */
export interface SoftmaxStats {
  readonly max: number;
  readonly argmax: number;
  readonly sum: number;
  readonly logZ: number;
}

/** Throws RangeError unless the row is finite or -Infinity with at least one finite value. */
export function softmaxStats(logits: Float32Array): SoftmaxStats {
  const best = argmax(logits);
  const max = logits[best]!;
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += Math.exp(logits[i]! - max);
  const logZ = max + Math.log(sum);
  // NaN anywhere, +Infinity, or an all -Infinity row all end up here as a non-finite logZ.
  if (!Number.isFinite(logZ)) {
    throw new RangeError("sampler: logits must be finite or -Infinity, with at least one finite value");
  }
  return { max, argmax: best, sum, logZ };
}

/** The row's max and first argmax, found by the same pass that validates it. */
export interface RowScan {
  readonly max: number;
  readonly argmax: number;
}

/**
 * The row's max and first argmax in one pass; argmax -1 when the row has a NaN or +Infinity, or no
 * value above -Infinity (Backend.scanRows does the same natively, for a whole batch of rows).
 */
export function scanRow(logits: Float32Array): RowScan {
  let best = -1;
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) {
    const v = logits[i]!;
    if (v !== v || v === Infinity) return { max: NaN, argmax: -1 };
    if (v > max) {
      max = v;
      best = i;
    }
  }
  return { max, argmax: best };
}

/**
 * Throws RangeError unless the row is finite or -Infinity with at least one finite value (`scan`:
 * the row's scanRow result when already known); returns its max and argmax, so greedy sampling of
 * an untouched row needs no second pass over the vocabulary.
 */
export function checkRow(logits: Float32Array, scan: RowScan = scanRow(logits)): RowScan {
  if (scan.argmax < 0) throw new RangeError("sampler: logits must be finite or -Infinity, with at least one finite value");
  return scan;
}

/**
 * The k best ids (k <= logits.length), best first. A size-k heap whose root is the worst kept id:
 * O(V log k) worst case, ~V comparisons in practice, then O(k log k) to order the k survivors.
 */
export function topTokens(logits: Float32Array, k: number): number[] {
  const n = Math.min(k, logits.length);
  if (n <= 0) return [];
  const heap = new Int32Array(n);
  // "a is worse than b": lower logit, or equal logit and higher id.
  const worse = (a: number, b: number): boolean => {
    const la = logits[a]!;
    const lb = logits[b]!;
    return la < lb || (la === lb && a > b);
  };
  const siftDown = (start: number): void => {
    let i = start;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= n) return;
      const right = left + 1;
      let child = left;
      if (right < n && worse(heap[right]!, heap[left]!)) child = right;
      if (!worse(heap[child]!, heap[i]!)) return;
      const tmp = heap[i]!;
      heap[i] = heap[child]!;
      heap[child] = tmp;
      i = child;
    }
  };
  for (let i = 0; i < n; i++) heap[i] = i;
  for (let i = (n >> 1) - 1; i >= 0; i--) siftDown(i);
  let rootValue = logits[heap[0]!]!;
  for (let i = n; i < logits.length; i++) {
    // A later id with an equal logit is worse than the root, so only strictly greater values enter.
    if (logits[i]! > rootValue) {
      heap[0] = i;
      siftDown(0);
      rootValue = logits[heap[0]!]!;
    }
  }
  return Array.from(heap).sort(byLogitDesc(logits));
}

/** W = sum_i exp((l_i - lmax) / T): the softmax denominator of logits / T, scaled by exp(-lmax / T). */
export function weightSum(logits: Float32Array, lmax: number, temperature: number): number {
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += Math.exp((logits[i]! - lmax) / temperature);
  return sum;
}

/** Token ids with their weights w = exp((l - lmax) / T), in no particular order unless stated. */
export interface Candidates {
  ids: number[];
  weights: number[];
  mass: number;
}

export function withWeights(logits: Float32Array, ids: number[], lmax: number, temperature: number): Candidates {
  const weights = new Array<number>(ids.length);
  let mass = 0;
  for (let j = 0; j < ids.length; j++) {
    const w = Math.exp((logits[ids[j]!]! - lmax) / temperature);
    weights[j] = w;
    mass += w;
  }
  return { ids, weights, mass };
}

/** Every id whose logit is >= threshold (ascending ids), with its weight. */
export function collectAtLeast(logits: Float32Array, threshold: number, lmax: number, temperature: number): Candidates {
  const ids: number[] = [];
  const weights: number[] = [];
  let mass = 0;
  for (let i = 0; i < logits.length; i++) {
    const l = logits[i]!;
    if (l >= threshold) {
      const w = Math.exp((l - lmax) / temperature);
      ids.push(i);
      weights.push(w);
      mass += w;
    }
  }
  return { ids, weights, mass };
}

/** The candidates whose logit is >= threshold (order kept). */
export function keepAtLeast(logits: Float32Array, c: Candidates, threshold: number): Candidates {
  if (threshold === -Infinity) return c;
  const ids: number[] = [];
  const weights: number[] = [];
  let mass = 0;
  for (let j = 0; j < c.ids.length; j++) {
    const id = c.ids[j]!;
    if (logits[id]! >= threshold) {
      ids.push(id);
      weights.push(c.weights[j]!);
      mass += c.weights[j]!;
    }
  }
  return { ids, weights, mass };
}

/** Below this many candidates, top-p just sorts them. */
export const TOP_P_SORT_LIMIT = 1024;
const TOP_P_BINS = 4096;

/**
 * The top-p set of `c`: the shortest best-first prefix whose mass reaches `targetMass` (all of `c`
 * if it never does; never empty). Large sets are not sorted: ids are binned by logit (bins follow
 * the order, bin 0 = best), the bin where the running mass crosses the target is found, and only
 * that bin is sorted. O(n) plus the sort of one bin.
 */
export function topPSet(logits: Float32Array, c: Candidates, targetMass: number): Candidates {
  const n = c.ids.length;
  if (n <= TOP_P_SORT_LIMIT) return sortedPrefix(logits, c, c.ids.map((_, j) => j), 0, targetMass, { ids: [], weights: [], mass: 0 });
  let hi = -Infinity;
  let lo = Infinity;
  for (const id of c.ids) {
    const l = logits[id]!;
    if (l > hi) hi = l;
    if (l < lo) lo = l;
  }
  const span = hi - lo;
  // span 0 (all tied) or non-finite (a -Infinity logit): one bin, i.e. sort everything.
  const scale = span > 0 && Number.isFinite(span) ? (TOP_P_BINS - 1) / span : 0;
  const bins = new Uint16Array(n);
  const binMass = new Float64Array(TOP_P_BINS);
  for (let j = 0; j < n; j++) {
    const b = Math.min(TOP_P_BINS - 1, Math.floor((hi - logits[c.ids[j]!]!) * scale)) || 0;
    bins[j] = b;
    binMass[b] = binMass[b]! + c.weights[j]!;
  }
  let crossing = TOP_P_BINS - 1;
  let before = 0;
  for (let b = 0; b < TOP_P_BINS; b++) {
    if (before + binMass[b]! >= targetMass) {
      crossing = b;
      break;
    }
    before += binMass[b]!;
  }
  const kept: Candidates = { ids: [], weights: [], mass: 0 };
  const inCrossing: number[] = [];
  for (let j = 0; j < n; j++) {
    const b = bins[j]!;
    if (b < crossing) {
      kept.ids.push(c.ids[j]!);
      kept.weights.push(c.weights[j]!);
      kept.mass += c.weights[j]!;
    } else if (b === crossing) {
      inCrossing.push(j);
    }
  }
  return sortedPrefix(logits, c, inCrossing, kept.mass, targetMass, kept);
}

/** Sorts positions `js` of `c` best first and appends them to `out` until its mass reaches the target. */
function sortedPrefix(logits: Float32Array, c: Candidates, js: number[], massBefore: number, targetMass: number, out: Candidates): Candidates {
  const order = byLogitDesc(logits);
  js.sort((a, b) => order(c.ids[a]!, c.ids[b]!));
  let mass = massBefore;
  for (const j of js) {
    out.ids.push(c.ids[j]!);
    out.weights.push(c.weights[j]!);
    mass += c.weights[j]!;
    if (mass >= targetMass) break;
  }
  out.mass = mass;
  return out;
}
