/** Sampling: per-request samplers (penalties, temperature, top-k/top-p/min-p, raw logprobs) and their seeded RNG. */
export type { SampleResult, SamplingParams, TokenLogprob } from "./types.js";
export { createSampler, type Sampler } from "./sampler.js";
export { resolveSamplingParams, MAX_LOGPROBS, type ResolvedSamplingParams } from "./params.js";
export { createRng, randomSeed, Xoshiro128StarStar, type Rng } from "./rng.js";
