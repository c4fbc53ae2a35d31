/**
 * Per-request token sampler, with vLLM's semantics and order:
 *   logit bias -> repetition penalty (prompt + output) -> presence/frequency penalties (output)
 *   -> temperature 0: argmax (ties -> lowest id)
 *   -> else: / temperature -> top-k -> top-p (on the top-k renormalised distribution) -> min-p
 *      -> draw from the renormalised survivors with the request's own seeded RNG.
 * Logprobs are those of the RAW logits (log-softmax before any of the above; vLLM's default
 * "raw_logprobs").
 *
 * Buffers: sample() never copies the logits row. Bias and penalties touch a sparse set of tokens,
 * so they are written into the caller's row in place, the original values are kept in a small map,
 * and they are written back before sample() returns (or throws): afterwards the row is bit-for-bit
 * what the caller passed. Everything else reads the row. Nothing is global; the RNG is the
 * sampler's own, so the ids depend only on (seed, sequence of rows), never on batch interleaving.
 */
import { createRng, randomSeed, type Rng } from "./rng.js";
import { resolveSamplingParams, type ResolvedSamplingParams } from "./params.js";
import {
  argmax,
  checkRow,
  type RowScan,
  collectAtLeast,
  keepAtLeast,
  maxLogit,
  softmaxStats,
  topPSet,
  topTokens,
  weightSum,
  withWeights,
  type Candidates,
  type SoftmaxStats,
} from "./select.js";
import type { SampleResult, SamplingParams, TokenLogprob } from "./types.js";

export interface Sampler {
  readonly params: ResolvedSamplingParams;
  /** The seed in use: the request's, or the random one drawn for it (log it to replay a run). */
  readonly seed: number;
  /**
   * Picks the next token. `logits`: [vocabSize] raw model output for this sequence (finite or
   * -Infinity); it is restored before returning. `promptIds` / `outputIds`: the sequence so far.
   * `scan`: the row's max and argmax as Backend.scanRows found them (argmax -1: invalid row), so
   * the row is not scanned again here; computed when absent.
   */
  sample(logits: Float32Array, promptIds: readonly number[], outputIds: readonly number[], scan?: RowScan): SampleResult;
}

/** Validates `params` once (InvalidArgumentError naming the field) and returns the request's sampler. */
export function createSampler(params: SamplingParams, vocabSize: number): Sampler {
  const resolved = Object.freeze(resolveSamplingParams(params, vocabSize));
  return new SeededSampler(resolved, vocabSize, resolved.seed ?? randomSeed());
}

/** Largest finite float32: a huge logit divided by a tiny repetition penalty is clamped here, not +Infinity. */
const FLOAT32_MAX = 3.4028234663852886e38;
/** First guess for the top-p candidate threshold, as a probability: at most 1024 tokens pass it. */
const TOP_P_FIRST_GUESS = 1 / 1024;

class SeededSampler implements Sampler {
  private readonly rng: Rng;

  constructor(
    readonly params: ResolvedSamplingParams,
    private readonly vocabSize: number,
    readonly seed: number,
  ) {
    this.rng = createRng(seed);
  }

  sample(logits: Float32Array, promptIds: readonly number[], outputIds: readonly number[], given?: RowScan): SampleResult {
    if (logits.length !== this.vocabSize) {
      throw new RangeError(`sampler: logits has ${logits.length} entries, expected vocabSize ${this.vocabSize}`);
    }
    // softmaxStats validates the row as it goes; without logprobs a comparison-only scan does.
    const raw = this.params.returnLogprobs ? softmaxStats(logits) : undefined;
    const scan: RowScan = raw ?? checkRow(logits, given);
    const numTop = raw ? this.params.logprobs : 0;
    const topLogprobs: TokenLogprob[] | undefined =
      raw && numTop > 0 ? topTokens(logits, numTop).map((id) => ({ id, logprob: logits[id]! - raw.logZ })) : undefined;

    const saved = new Map<number, number>(); // id -> raw logit, for every id written below
    let id: number;
    try {
      applyBiasAndPenalties(logits, this.params, promptIds, outputIds, saved);
      // Untouched row: the raw max (and, at temperature 1, the raw sum) are the processed ones too.
      id = this.pick(logits, saved.size === 0 ? scan : undefined, saved.size === 0 ? raw : undefined);
    } finally {
      for (const [i, v] of saved) logits[i] = v;
    }
    if (!raw) return { id };
    const logprob = logits[id]! - raw.logZ;
    return topLogprobs === undefined ? { id, logprob } : { id, logprob, topLogprobs };
  }

  /** `scan` / `known`: facts about the row when it is untouched by bias and penalties. */
  private pick(logits: Float32Array, scan: RowScan | undefined, known: SoftmaxStats | undefined): number {
    const { temperature, topK, topP, minP } = this.params;
    if (temperature === 0) return scan?.argmax ?? argmax(logits);
    // Probabilities are p_i = w_i / W with w_i = exp((l_i - lmax) / T) in [0, 1]. Each filter keeps
    // a best-first prefix, so applying them as sets in any order gives vLLM's top-k -> top-p -> min-p,
    // as long as top-p's target is measured against the top-k mass (or W without top-k).
    // min-p: p_i >= minP * p_max  <=>  w_i >= minP  <=>  l_i >= lmax + T * log(minP).
    let candidates: Candidates;
    let targetMass: number;
    if (topK > 0) {
      const ids = topTokens(logits, topK);
      const lmax = logits[ids[0]!]!;
      const topKSet = withWeights(logits, ids, lmax, temperature);
      targetMass = topP * topKSet.mass;
      candidates = keepAtLeast(logits, topKSet, minPThreshold(lmax, temperature, minP));
    } else {
      const lmax = scan?.max ?? maxLogit(logits);
      const minPThr = minPThreshold(lmax, temperature, minP);
      if (topP === 1 && minP === 0) return this.drawFromRow(logits, lmax, known);
      const total = known !== undefined && temperature === 1 ? known.sum : weightSum(logits, lmax, temperature);
      targetMass = topP * total;
      candidates = topP < 1 ? topPCandidates(logits, lmax, temperature, total, topP, minPThr) : collectAtLeast(logits, minPThr, lmax, temperature);
    }
    if (topP < 1) candidates = topPSet(logits, candidates, targetMass);
    return candidates.ids[this.drawIndex(candidates.weights, candidates.mass)]!;
  }

  /** No filter: inverse CDF over the whole row in id order (any fixed order is a valid draw). */
  private drawFromRow(logits: Float32Array, lmax: number, known: SoftmaxStats | undefined): number {
    const t = this.params.temperature;
    const total = known !== undefined && t === 1 ? known.sum : weightSum(logits, lmax, t);
    const target = this.rng.next() * total;
    let acc = 0;
    let lastPositive = 0;
    for (let i = 0; i < logits.length; i++) {
      const w = Math.exp((logits[i]! - lmax) / t);
      if (w > 0) {
        acc += w;
        if (target < acc) return i;
        lastPositive = i;
      }
    }
    return lastPositive; // only reached when rounding put the target at or past the final sum
  }

  /** Index j drawn with probability weights[j] / mass (mass = sum of weights). */
  private drawIndex(weights: readonly number[], mass: number): number {
    const target = this.rng.next() * mass;
    let acc = 0;
    let lastPositive = 0;
    for (let j = 0; j < weights.length; j++) {
      const w = weights[j]!;
      if (w > 0) {
        acc += w;
        if (target < acc) return j;
        lastPositive = j;
      }
    }
    return lastPositive;
  }
}

function minPThreshold(lmax: number, temperature: number, minP: number): number {
  return minP > 0 ? lmax + temperature * Math.log(minP) : -Infinity;
}

/**
 * Candidates that contain the top-p set, found without touching most of the vocabulary: every id
 * with p_i >= t for a guess t (and with p_i >= the min-p bound). The ids above any threshold are a
 * best-first prefix, so once their mass reaches topP * W they contain the top-p set. Otherwise t
 * is lowered, down to (1 - topP) / V, where the ids left out weigh less than V * t = 1 - topP in
 * all, so the rest must reach topP. If the min-p bound is the higher threshold, the candidates are
 * exactly the min-p set, and the final set is a prefix of it whatever their mass.
 */
function topPCandidates(logits: Float32Array, lmax: number, temperature: number, total: number, topP: number, minPThr: number): Candidates {
  const floor = (1 - topP) / logits.length;
  for (let t = TOP_P_FIRST_GUESS; ; t /= 64) {
    const guess = Math.max(t, floor);
    // p_i >= guess  <=>  w_i >= guess * W  <=>  l_i >= lmax + T * log(guess * W)
    const guessThr = lmax + temperature * Math.log(guess * total);
    const isMinPBound = minPThr >= guessThr;
    const c = collectAtLeast(logits, isMinPBound ? minPThr : guessThr, lmax, temperature);
    if (c.mass >= topP * total || isMinPBound || guess === floor) return c;
  }
}

/**
 * Bias, then repetition penalty over prompt + output ids, then presence/frequency penalties over
 * output ids, written into `logits` in place; `saved` receives the raw value of each id touched.
 */
function applyBiasAndPenalties(
  logits: Float32Array,
  params: ResolvedSamplingParams,
  promptIds: readonly number[],
  outputIds: readonly number[],
  saved: Map<number, number>,
): void {
  const write = (id: number, value: number): void => {
    if (!saved.has(id)) saved.set(id, logits[id]!);
    logits[id] = Math.min(value, FLOAT32_MAX);
  };
  for (const [id, bias] of params.logitBias) write(id, logits[id]! + bias);

  const vocabSize = logits.length;
  const checkId = (id: number): void => {
    if (!(Number.isInteger(id) && id >= 0 && id < vocabSize)) {
      throw new RangeError(`sampler: token id ${id} is outside the vocabulary [0, ${vocabSize})`);
    }
  };
  const penalty = params.repetitionPenalty;
  if (penalty !== 1) {
    const seen = new Set<number>();
    for (const ids of [promptIds, outputIds]) {
      for (const id of ids) {
        if (seen.has(id)) continue;
        checkId(id);
        seen.add(id);
        const l = logits[id]!;
        write(id, l > 0 ? l / penalty : l * penalty);
      }
    }
  }
  const { presencePenalty, frequencyPenalty } = params;
  if (presencePenalty !== 0 || frequencyPenalty !== 0) {
    const counts = new Map<number, number>();
    for (const id of outputIds) counts.set(id, (counts.get(id) ?? 0) + 1);
    for (const [id, count] of counts) {
      checkId(id);
      write(id, logits[id]! - (frequencyPenalty * count + presencePenalty));
    }
  }
}
