import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { InvalidArgumentError } from "../../src/errors.js";
import { createRng, createSampler, randomSeed, type SamplingParams } from "../../src/sampling/index.js";
import { TOP_P_SORT_LIMIT, scanRow, topPSet, withWeights } from "../../src/sampling/select.js";

// ---- helpers ----------------------------------------------------------------------------------

/** Deterministic pseudo-Gaussian logits (sum of 4 uniforms), scaled. */
function randomLogits(n: number, seed: number, scale = 3): Float32Array {
  const rng = createRng(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (rng.next() + rng.next() + rng.next() + rng.next() - 2) * scale;
  return out;
}

function logitsFromProbs(probs: readonly number[]): Float32Array {
  return Float32Array.from(probs, (p) => Math.log(p));
}

/** Float64 log-softmax of `logits / temperature`. */
function logSoftmax(logits: ArrayLike<number>, temperature = 1): number[] {
  const xs = Array.from(logits, (l) => l / temperature);
  const m = Math.max(...xs);
  const logZ = m + Math.log(xs.reduce((s, x) => s + Math.exp(x - m), 0));
  return xs.map((x) => x - logZ);
}

/**
 * Reference distribution: full sort, top-k, softmax, top-p over the top-k renormalised probs
 * (smallest prefix with cumulative >= p), min-p relative to the max, renormalise.
 */
function referenceDistribution(logits: Float32Array, p: SamplingParams): number[] {
  const t = p.temperature ?? 1;
  const probs = logSoftmax(logits, t).map(Math.exp);
  let order = probs.map((_, i) => i).sort((a, b) => probs[b]! - probs[a]! || a - b);
  const k = p.topK ?? -1;
  if (k > 0) order = order.slice(0, k);
  const kMass = order.reduce((s, i) => s + probs[i]!, 0);
  const topP = p.topP ?? 1;
  let cum = 0;
  let n = order.length;
  for (let j = 0; j < order.length; j++) {
    cum += probs[order[j]!]! / kMass;
    if (topP < 1 && cum >= topP) {
      n = j + 1;
      break;
    }
  }
  order = order.slice(0, n);
  const pmax = probs[order[0]!]!;
  order = order.filter((i) => probs[i]! >= (p.minP ?? 0) * pmax);
  const mass = order.reduce((s, i) => s + probs[i]!, 0);
  const dist = new Array<number>(logits.length).fill(0);
  for (const i of order) dist[i] = probs[i]! / mass;
  return dist;
}

function frequencies(params: SamplingParams, logits: Float32Array, draws: number): number[] {
  const sampler = createSampler(params, logits.length);
  const counts = new Array<number>(logits.length).fill(0);
  for (let d = 0; d < draws; d++) counts[sampler.sample(logits, [], []).id]! += 1;
  return counts.map((c) => c / draws);
}

function maxAbsDiff(a: readonly number[], b: readonly number[]): number {
  return a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i]!)), 0);
}

function greedy(logits: readonly number[], params: SamplingParams, promptIds: number[], outputIds: number[]): number {
  return createSampler({ ...params, temperature: 0 }, logits.length).sample(Float32Array.from(logits), promptIds, outputIds).id;
}

function drawnIds(params: SamplingParams, logits: Float32Array, draws: number): Set<number> {
  const sampler = createSampler(params, logits.length);
  const ids = new Set<number>();
  for (let d = 0; d < draws; d++) ids.add(sampler.sample(logits, [], []).id);
  return ids;
}

// 20k draws: the standard error of a frequency is <= sqrt(0.25 / 20000) = 0.0035, so a max abs
// frequency error of 0.015 is > 4 sigma for every bin. Draws are seeded, so the test is deterministic.
const DRAWS = 20_000;
const FREQ_TOLERANCE = 0.015;

// ---- tests ------------------------------------------------------------------------------------

describe("rng", () => {
  it("matches the xoshiro128** + splitmix64 reference (C) for seed 42", () => {
    const rng = createRng(42);
    assert.deepEqual([rng.nextUint32(), rng.nextUint32(), rng.nextUint32(), rng.nextUint32()], [1776835114, 4165204688, 17111135, 2317295270]);
    const neg = createRng(-1);
    assert.equal(neg.nextUint32(), 477689756);
  });

  it("next() is in [0, 1) with mean ~0.5; same seed same sequence", () => {
    const a = createRng(7);
    const b = createRng(7);
    let sum = 0;
    for (let i = 0; i < 10_000; i++) {
      const x = a.next();
      assert.ok(x >= 0 && x < 1);
      assert.equal(b.next(), x);
      sum += x;
    }
    assert.ok(Math.abs(sum / 10_000 - 0.5) < 0.01);
  });

  it("randomSeed() gives safe integers that differ", () => {
    const s = randomSeed();
    assert.ok(Number.isSafeInteger(s) && s >= 0);
    assert.notEqual(randomSeed(), randomSeed());
  });
});

describe("greedy", () => {
  it("picks the argmax, ties -> lowest id", () => {
    assert.equal(greedy([0.1, 3, -2, 2.9], {}, [], []), 1);
    assert.equal(greedy([1, 5, 5, 5], {}, [], []), 1);
    const logits = randomLogits(5000, 1);
    let best = 0;
    for (let i = 0; i < logits.length; i++) if (logits[i]! > logits[best]!) best = i;
    assert.equal(createSampler({ temperature: 0 }, 5000).sample(logits, [], []).id, best);
  });

  it("ignores top-k / top-p / min-p", () => {
    assert.equal(greedy([0.1, 3, -2], { topK: 1, topP: 0.1, minP: 0.9 }, [], []), 1);
  });
});

describe("temperature sampling", () => {
  const logits = Float32Array.from([2, 1.5, 1, 0.5, 0, -0.5, -1, -3]);
  for (const temperature of [1, 0.7, 2]) {
    it(`matches softmax(logits / ${temperature}) (max abs freq error <= ${FREQ_TOLERANCE}, chi2 < 24.3 = p 0.001 at 7 df)`, () => {
      const freq = frequencies({ temperature, seed: 123 }, logits, DRAWS);
      const expected = logSoftmax(logits, temperature).map(Math.exp);
      assert.ok(maxAbsDiff(freq, expected) <= FREQ_TOLERANCE, `max abs diff ${maxAbsDiff(freq, expected)}`);
      const chi2 = freq.reduce((s, f, i) => s + (DRAWS * (f - expected[i]!)) ** 2 / (DRAWS * expected[i]!), 0);
      assert.ok(chi2 < 24.3, `chi2 ${chi2}`);
    });
  }

  const combos: SamplingParams[] = [
    { topK: 5 },
    { topK: 5, temperature: 1.5, topP: 0.8 },
    { topP: 0.9 },
    { topP: 0.6, temperature: 0.8 },
    { minP: 0.2 },
    { minP: 0.1, topP: 0.95, temperature: 1.3 },
    { topK: 20, minP: 0.3 },
  ];
  for (const params of combos) {
    it(`filters renormalise like a full-sort reference: ${JSON.stringify(params)}`, () => {
      const l = randomLogits(64, 99, 1.5);
      const freq = frequencies({ ...params, seed: 5 }, l, DRAWS);
      const expected = referenceDistribution(l, params);
      assert.ok(maxAbsDiff(freq, expected) <= FREQ_TOLERANCE, `max abs diff ${maxAbsDiff(freq, expected)}`);
      freq.forEach((f, i) => {
        if (expected[i] === 0) assert.equal(f, 0, `token ${i} is filtered out but was drawn`);
      });
    });
  }
});

describe("top-k", () => {
  it("never returns a token outside the k best (large vocab, hot temperature)", () => {
    const logits = randomLogits(20_000, 3);
    const best = Array.from(logits.keys()).sort((a, b) => logits[b]! - logits[a]!).slice(0, 5);
    const ids = drawnIds({ topK: 5, temperature: 5, seed: 1 }, logits, 3000);
    assert.deepEqual([...ids].sort((a, b) => a - b), [...best].sort((a, b) => a - b));
  });

  it("breaks ties at the cut by lowest id; -1, 0 and >= vocab are off", () => {
    assert.deepEqual([...drawnIds({ topK: 2, seed: 1 }, Float32Array.from([1, 2, 2, 2]), 500)].sort(), [1, 2]);
    for (const topK of [-1, 0, 4, 100]) {
      assert.equal(drawnIds({ topK, seed: 1 }, Float32Array.from([0, 0, 0, 0]), 500).size, 4);
    }
  });
});

describe("top-p", () => {
  const probs = [0.5, 0.25, 0.125, 0.0625, 0.0625];
  const cases: [number, number[]][] = [
    [0.3, [0]],
    [0.7, [0, 1]],
    [0.8, [0, 1, 2]],
    [0.9, [0, 1, 2, 3]],
    [0.99, [0, 1, 2, 3, 4]],
  ];
  for (const [topP, kept] of cases) {
    it(`p=${topP} keeps exactly ${JSON.stringify(kept)} of ${JSON.stringify(probs)}`, () => {
      const ids = drawnIds({ topP, seed: 11 }, logitsFromProbs(probs), 2000);
      assert.deepEqual([...ids].sort((a, b) => a - b), kept);
    });
  }

  it("is relative to the top-k renormalised distribution", () => {
    // top-2 of [0.5, 0.25, ...] renormalised is [2/3, 1/3]; p = 0.6 keeps only token 0.
    assert.deepEqual([...drawnIds({ topK: 2, topP: 0.6, seed: 2 }, logitsFromProbs(probs), 500)], [0]);
  });

  it("cuts exactly inside a flat tail of 9996 tied tokens (threshold fallback path)", () => {
    // Head mass 0.95, tail 9996 x 5e-6. p = 0.990012 needs 0.040012 / 5e-6 = 8002.4 -> 8003 tail
    // tokens; ties go to the lowest ids, so the kept tail is ids 4..8006.
    const tail = new Array<number>(9996).fill(5e-6);
    const logits = logitsFromProbs([0.4, 0.3, 0.2, 0.05, ...tail]);
    // 3000 draws: ~120 land in the kept tail (P(none above 7000) ~ e^-35); were ids 8007.. kept
    // (mass 0.01) they would get ~30 draws.
    const sampler = createSampler({ topP: 0.990012, seed: 3 }, logits.length);
    let maxTail = -1;
    for (let d = 0; d < 3000; d++) maxTail = Math.max(maxTail, sampler.sample(logits, [], []).id);
    assert.ok(maxTail <= 8006, `drew token ${maxTail}, beyond the top-p cut`);
    assert.ok(maxTail > 7000, `tail barely sampled (max ${maxTail})`);
  });
});

describe("topPSet (binned cut for large candidate sets)", () => {
  const cases = [[0.5, 0.5], [1, 0.9], [3, 0.99], [0.01, 0.3], [2, 0.05]] as const;
  for (const [k, [scale, topP]] of cases.entries()) {
    it(`equals a full sort on 5000 random logits (scale ${scale}, p ${topP})`, () => {
      // Coarse rounding makes many exact ties, so the id tie-break is exercised too.
      const logits = randomLogits(5000, 40 + k, scale).map((l) => Math.round(l * 64) / 64);
      const ids = Array.from(logits.keys());
      const lmax = Math.max(...logits);
      const c = withWeights(logits, ids, lmax, 1);
      const got = topPSet(logits, c, topP * c.mass);
      const order = [...ids].sort((a, b) => logits[b]! - logits[a]! || a - b);
      let cum = 0;
      let n = 0;
      while (n < order.length && cum < topP * c.mass) cum += Math.exp(logits[order[n++]!]! - lmax);
      assert.ok(ids.length > TOP_P_SORT_LIMIT, "test should exercise the binned path");
      assert.deepEqual([...got.ids].sort((a, b) => a - b), order.slice(0, n).sort((a, b) => a - b));
      assert.ok(Math.abs(got.mass - cum) < 1e-9 * c.mass);
    });
  }
});

describe("min-p", () => {
  const probs = [0.4, 0.3, 0.15, 0.1, 0.05];
  it("keeps p >= minP * p_max (0.3 * 0.4 = 0.12 keeps 3 tokens)", () => {
    assert.deepEqual([...drawnIds({ minP: 0.3, seed: 4 }, logitsFromProbs(probs), 2000)].sort(), [0, 1, 2]);
    assert.deepEqual([...drawnIds({ minP: 1, seed: 4 }, logitsFromProbs(probs), 500)], [0]);
  });

  it("is relative to the temperature-scaled distribution", () => {
    // T = 2: p ~ sqrt(probs) = [.632, .548, .387, .316, .224]; 0.55 * .632 = .348 keeps 3 tokens.
    assert.deepEqual([...drawnIds({ minP: 0.55, temperature: 2, seed: 4 }, logitsFromProbs(probs), 2000)].sort(), [0, 1, 2]);
  });
});

describe("penalties and bias (greedy on crafted logits)", () => {
  const base = [2, 1.5, -3, -4];
  it("repetition penalty divides positive logits, over prompt and output, once per token", () => {
    assert.equal(greedy(base, { repetitionPenalty: 1.3 }, [0], []), 0); // 2 / 1.3 = 1.54 > 1.5
    assert.equal(greedy(base, { repetitionPenalty: 1.4 }, [0], []), 1); // 2 / 1.4 = 1.43 < 1.5
    assert.equal(greedy(base, { repetitionPenalty: 1.4 }, [], [0]), 1);
    assert.equal(greedy(base, { repetitionPenalty: 1.3 }, [0, 0], [0, 0, 0]), 0); // not 2 / 1.3^5
  });

  it("repetition penalty multiplies negative logits", () => {
    const neg = [-1, -1.5, -3];
    assert.equal(greedy(neg, { repetitionPenalty: 1.4 }, [0], []), 0); // -1.4 > -1.5
    assert.equal(greedy(neg, { repetitionPenalty: 1.6 }, [0], []), 1); // -1.6 < -1.5
    assert.equal(greedy(neg, { repetitionPenalty: 0.5 }, [1], []), 1); // < 1 encourages: -0.75
  });

  it("presence penalty subtracts once, output tokens only", () => {
    assert.equal(greedy(base, { presencePenalty: 0.4 }, [], [0, 0, 0]), 0); // 1.6
    assert.equal(greedy(base, { presencePenalty: 0.6 }, [], [0]), 1); // 1.4
    assert.equal(greedy(base, { presencePenalty: 2 }, [0, 0], []), 0); // prompt does not count
    assert.equal(greedy(base, { presencePenalty: -1 }, [], [1]), 1); // negative encourages: 2.5
  });

  it("frequency penalty subtracts count times; combines with presence", () => {
    assert.equal(greedy(base, { frequencyPenalty: 0.1 }, [], [0, 0, 0]), 0); // 1.7
    assert.equal(greedy(base, { frequencyPenalty: 0.2 }, [], [0, 0, 0]), 1); // 1.4
    assert.equal(greedy(base, { frequencyPenalty: 0.1, presencePenalty: 0.15 }, [], [0, 0, 0]), 0); // 1.55
    assert.equal(greedy(base, { frequencyPenalty: 0.1, presencePenalty: 0.25 }, [], [0, 0, 0]), 1); // 1.45
    assert.equal(greedy(base, { frequencyPenalty: 2 }, [0, 0, 0], []), 0); // prompt does not count
  });

  it("order: bias, then repetition, then presence/frequency", () => {
    // bias first: (1 + 1.2) / 2 = 1.1 < 1.5; penalty first would give 0.5 + 1.2 = 1.7.
    assert.equal(greedy([1, 1.5], { logitBias: { 0: 1.2 }, repetitionPenalty: 2 }, [0], []), 1);
    // repetition first: 2 / 2 - 0.5 = 0.5 < 0.6; presence first would give 1.5 / 2 = 0.75.
    assert.equal(greedy([2, 0.6], { repetitionPenalty: 2, presencePenalty: 0.5 }, [], [0]), 1);
  });

  it("logit bias -100 bans and +100 forces", () => {
    assert.equal(greedy(base, { logitBias: { 0: -100 } }, [], []), 1);
    const logits = randomLogits(1000, 8);
    const banned = createSampler({ logitBias: { [greedy(Array.from(logits), {}, [], [])]: -100 } }, 1000);
    const top = greedy(Array.from(logits), {}, [], []);
    const forced = createSampler({ logitBias: { 17: 100 }, seed: 9, temperature: 1.5 }, 1000);
    for (let d = 0; d < 1000; d++) {
      assert.notEqual(banned.sample(logits, [], []).id, top);
      assert.equal(forced.sample(logits, [], []).id, 17);
    }
  });

  it("leaves the caller's logits unchanged", () => {
    const logits = randomLogits(500, 12);
    const before = logits.slice();
    const s = createSampler({ repetitionPenalty: 1.7, presencePenalty: 1, frequencyPenalty: 0.5, logitBias: { 3: 50, 4: -100 }, topP: 0.9, seed: 1 }, 500);
    s.sample(logits, [1, 2, 3, 3], [4, 5, 5, 6]);
    assert.deepEqual(logits, before);
    assert.throws(() => s.sample(logits, [1, 2, 3], [4, 999]), RangeError);
    assert.deepEqual(logits, before); // restored on throw too
  });
});

describe("seeds", () => {
  const logits = randomLogits(2000, 21, 1);
  const run = (seed: number, n: number): number[] => {
    const s = createSampler({ seed, topP: 0.95 }, 2000);
    return Array.from({ length: n }, () => s.sample(logits, [], []).id);
  };

  it("same seed same sequence, different seeds differ", () => {
    assert.deepEqual(run(1234, 100), run(1234, 100));
    assert.notDeepEqual(run(1234, 100), run(1235, 100));
  });

  it("without a seed, the sampler draws one and reports it", () => {
    const s = createSampler({}, 10);
    assert.ok(Number.isSafeInteger(s.seed));
    assert.equal(createSampler({ seed: 77 }, 10).seed, 77);
  });

  it("interleaving samplers does not change any one's output", () => {
    const alone = run(42, 200);
    const a = createSampler({ seed: 42, topP: 0.95 }, 2000);
    const b = createSampler({ seed: 42, topP: 0.95 }, 2000);
    const c = createSampler({ seed: 7, temperature: 0.5, repetitionPenalty: 1.2 }, 2000);
    const outA: number[] = [];
    const outB: number[] = [];
    for (let i = 0; i < 200; i++) {
      outA.push(a.sample(logits, [], []).id);
      c.sample(logits, [1, 2], outA);
      if (i % 3 === 0) c.sample(logits, [], []);
      outB.push(b.sample(logits, [], []).id);
    }
    assert.deepEqual(outA, alone);
    assert.deepEqual(outB, alone);
  });
});

describe("logprobs", () => {
  const logits = randomLogits(3000, 31);
  const expected = logSoftmax(logits);
  const order = Array.from(logits.keys()).sort((a, b) => expected[b]! - expected[a]! || a - b);

  it("chosen + top-N match a direct log-softmax of the raw logits, sorted best first", () => {
    const params: SamplingParams = { logprobs: 5, temperature: 0.6, repetitionPenalty: 1.5, logitBias: { 10: 5 }, seed: 3 };
    const s = createSampler(params, 3000);
    for (let d = 0; d < 50; d++) {
      const r = s.sample(logits, [order[0]!], [order[1]!]);
      assert.ok(Math.abs((r.logprob ?? NaN) - expected[r.id]!) < 1e-5);
      assert.ok(r.topLogprobs !== undefined);
      assert.deepEqual(r.topLogprobs.map((t) => t.id), order.slice(0, 5));
      for (const t of r.topLogprobs) assert.ok(Math.abs(t.logprob - expected[t.id]!) < 1e-5);
    }
  });

  it("logprobs 0 gives only the chosen token's; greedy too", () => {
    const r = createSampler({ temperature: 0, logprobs: 0 }, 3000).sample(logits, [], []);
    assert.equal(r.id, order[0]);
    assert.equal(r.topLogprobs, undefined);
    assert.ok(Math.abs((r.logprob ?? NaN) - expected[order[0]!]!) < 1e-5);
  });

  it("no logprobs requested: none computed, same token chosen", () => {
    for (const temperature of [0, 0.7]) {
      const a = createSampler({ temperature, seed: 9 }, 3000).sample(logits, [], []);
      const b = createSampler({ temperature, seed: 9, logprobs: 2 }, 3000).sample(logits, [], []);
      assert.equal(a.logprob, undefined);
      assert.equal(a.topLogprobs, undefined);
      assert.equal(a.id, b.id);
    }
  });

  it("rejects a logits row of the wrong size or without a finite value", () => {
    const s = createSampler({}, 4);
    assert.throws(() => s.sample(new Float32Array(5), [], []), RangeError);
    assert.throws(() => s.sample(Float32Array.from([0, NaN, 0, 0]), [], []), RangeError);
    assert.throws(() => s.sample(new Float32Array(4).fill(-Infinity), [], []), RangeError);
    assert.equal(s.sample(Float32Array.from([-Infinity, 0, -Infinity, -Infinity]), [], []).id, 1);
  });

  it("takes the row scan from the caller (Backend.scanRows) instead of scanning again", () => {
    const row = Float32Array.from([0.5, 3, 1, 3]);
    assert.deepEqual(scanRow(row), { max: 3, argmax: 1 });
    const greedy = createSampler({ temperature: 0 }, 4);
    assert.equal(greedy.sample(row, [], [], { max: 3, argmax: 1 }).id, 1);
    // The given scan is trusted: a different argmax proves the row was not scanned again.
    assert.equal(greedy.sample(row, [], [], { max: 3, argmax: 3 }).id, 3);
    // argmax -1: the backend found a NaN / +Infinity / no finite value, refused like the sampler's own check.
    assert.throws(() => greedy.sample(row, [], [], { max: NaN, argmax: -1 }), RangeError);
    assert.deepEqual(scanRow(Float32Array.from([0, Infinity])), { max: NaN, argmax: -1 });
    // Penalties touch the row, so the pick rescans it: the given scan only validates.
    const penalized = createSampler({ temperature: 0, logitBias: { 1: -10 } }, 4);
    assert.equal(penalized.sample(row, [], [], { max: 3, argmax: 1 }).id, 3);
  });
});

describe("parameter validation", () => {
  const bad: [string, Record<string, unknown>][] = [
    ["temperature", { temperature: -0.1 }],
    ["temperature", { temperature: Infinity }],
    ["temperature", { temperature: NaN }],
    ["temperature", { temperature: "1" }],
    ["topP", { topP: 0 }],
    ["topP", { topP: 1.01 }],
    ["minP", { minP: -0.01 }],
    ["minP", { minP: 1.5 }],
    ["topK", { topK: -2 }],
    ["topK", { topK: 2.5 }],
    ["repetitionPenalty", { repetitionPenalty: 0 }],
    ["repetitionPenalty", { repetitionPenalty: -1 }],
    ["presencePenalty", { presencePenalty: 2.01 }],
    ["presencePenalty", { presencePenalty: -Infinity }],
    ["frequencyPenalty", { frequencyPenalty: -2.5 }],
    ["logprobs", { logprobs: 21 }],
    ["logprobs", { logprobs: -1 }],
    ["logprobs", { logprobs: 1.5 }],
    ["logitBias", { logitBias: { 100: 1 } }],
    ["logitBias", { logitBias: { "-1": 1 } }],
    ["logitBias", { logitBias: { abc: 1 } }],
    ["logitBias", { logitBias: { "01": 1 } }],
    ["logitBias", { logitBias: { 5: 101 } }],
    ["logitBias", { logitBias: { 5: NaN } }],
    ["logitBias", { logitBias: [1, 2] }],
    ["seed", { seed: 1.5 }],
    ["seed", { seed: 2 ** 60 }],
  ];
  for (const [field, params] of bad) {
    it(`${JSON.stringify(params, (_k, v: unknown) => (typeof v === "number" && !Number.isFinite(v) ? String(v) : v))} -> ${field}`, () => {
      assert.throws(
        () => createSampler(params as SamplingParams, 100),
        (e: unknown) => e instanceof InvalidArgumentError && e.param === field && e.message.startsWith(`${field}:`),
      );
    });
  }

  it("vocabSize must be a positive integer", () => {
    for (const v of [0, -1, 1.5, NaN]) {
      assert.throws(() => createSampler({}, v), (e: unknown) => e instanceof InvalidArgumentError && e.param === "vocabSize");
    }
  });

  it("accepts the edges of every range", () => {
    createSampler({ temperature: 0, topP: 1, minP: 1, topK: -1, repetitionPenalty: 1e-3, presencePenalty: -2, frequencyPenalty: 2, logprobs: 20, logitBias: { 0: -100, 99: 100 }, seed: -5 }, 100);
    createSampler({ topP: 1e-9, minP: 0, topK: 0, logprobs: 0, seed: Number.MAX_SAFE_INTEGER }, 100);
  });
});
