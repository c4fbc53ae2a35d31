/**
 * Validation and defaults for SamplingParams, done once per request. Every bad value raises an
 * InvalidArgumentError whose `param` is the SamplingParams field name (camelCase).
 */
import { InvalidArgumentError } from "../errors.js";
import type { SamplingParams } from "./types.js";

/** Most alternatives a request may ask for (OpenAI's limit for top_logprobs). */
export const MAX_LOGPROBS = 20;
/** OpenAI's range for presence_penalty / frequency_penalty. */
export const MAX_ABS_PENALTY = 2;
/** OpenAI's range for logit_bias values. */
export const MAX_ABS_LOGIT_BIAS = 100;

/** SamplingParams with every default filled in and every value checked. */
export interface ResolvedSamplingParams {
  readonly temperature: number;
  /** Number of most likely tokens kept; 0 = off (the -1 / 0 / >= vocabSize spellings all map to 0). */
  readonly topK: number;
  readonly topP: number;
  readonly minP: number;
  readonly repetitionPenalty: number;
  readonly presencePenalty: number;
  readonly frequencyPenalty: number;
  /** [tokenId, bias] pairs, ascending by id. */
  readonly logitBias: readonly (readonly [number, number])[];
  /** The request's seed; undefined = the sampler draws a random one (and reports it). */
  readonly seed: number | undefined;
  readonly logprobs: number;
  /** Whether logprobs were asked for at all (computing them costs a pass over the vocabulary). */
  readonly returnLogprobs: boolean;
}

function num(param: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || Number.isNaN(value)) {
    throw new InvalidArgumentError(param, `must be a number, got ${describe(value)}`);
  }
  return value;
}

function describe(value: unknown): string {
  return typeof value === "number" ? String(value) : typeof value === "string" ? JSON.stringify(value) : typeof value;
}

function inRange(param: string, value: number, lo: number, hi: number, what: string): number {
  if (!(Number.isFinite(value) && value >= lo && value <= hi)) {
    throw new InvalidArgumentError(param, `must be ${what}, got ${value}`);
  }
  return value;
}

function resolveLogitBias(raw: unknown, vocabSize: number): [number, number][] {
  if (raw === undefined) return [];
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
    throw new InvalidArgumentError("logitBias", "must be an object mapping token ids to biases");
  }
  const pairs: [number, number][] = [];
  for (const [key, bias] of Object.entries(raw)) {
    const id = /^(0|[1-9][0-9]*)$/.test(key) ? Number(key) : NaN;
    if (!(Number.isSafeInteger(id) && id < vocabSize)) {
      throw new InvalidArgumentError("logitBias", `key ${JSON.stringify(key)} is not a token id in [0, ${vocabSize})`);
    }
    if (typeof bias !== "number" || !(Number.isFinite(bias) && Math.abs(bias) <= MAX_ABS_LOGIT_BIAS)) {
      throw new InvalidArgumentError(
        "logitBias",
        `bias of token ${id} must be a number in [-${MAX_ABS_LOGIT_BIAS}, ${MAX_ABS_LOGIT_BIAS}], got ${describe(bias)}`,
      );
    }
    pairs.push([id, bias]);
  }
  return pairs.sort((a, b) => a[0] - b[0]);
}

/** Checks `params` against a vocabulary of `vocabSize` tokens and fills in the defaults. */
export function resolveSamplingParams(params: SamplingParams, vocabSize: number): ResolvedSamplingParams {
  if (!(Number.isSafeInteger(vocabSize) && vocabSize > 0)) {
    throw new InvalidArgumentError("vocabSize", `must be a positive integer, got ${describe(vocabSize)}`);
  }
  const temperature = num("temperature", params.temperature, 1);
  if (!(Number.isFinite(temperature) && temperature >= 0)) {
    throw new InvalidArgumentError("temperature", `must be a finite number >= 0, got ${temperature}`);
  }
  const topK = num("topK", params.topK, -1);
  if (!(Number.isSafeInteger(topK) && topK >= -1)) {
    throw new InvalidArgumentError("topK", `must be an integer >= -1 (-1 or 0 = off), got ${topK}`);
  }
  const topP = num("topP", params.topP, 1);
  if (!(Number.isFinite(topP) && topP > 0 && topP <= 1)) {
    throw new InvalidArgumentError("topP", `must be in (0, 1], got ${topP}`);
  }
  const minP = inRange("minP", num("minP", params.minP, 0), 0, 1, "in [0, 1]");
  const repetitionPenalty = num("repetitionPenalty", params.repetitionPenalty, 1);
  if (!(Number.isFinite(repetitionPenalty) && repetitionPenalty > 0)) {
    throw new InvalidArgumentError("repetitionPenalty", `must be a finite number > 0, got ${repetitionPenalty}`);
  }
  const penaltyRange = `in [-${MAX_ABS_PENALTY}, ${MAX_ABS_PENALTY}]`;
  const presencePenalty = inRange("presencePenalty", num("presencePenalty", params.presencePenalty, 0), -MAX_ABS_PENALTY, MAX_ABS_PENALTY, penaltyRange);
  const frequencyPenalty = inRange("frequencyPenalty", num("frequencyPenalty", params.frequencyPenalty, 0), -MAX_ABS_PENALTY, MAX_ABS_PENALTY, penaltyRange);
  const logprobs = num("logprobs", params.logprobs, 0);
  if (!(Number.isSafeInteger(logprobs) && logprobs >= 0 && logprobs <= MAX_LOGPROBS)) {
    throw new InvalidArgumentError("logprobs", `must be an integer in [0, ${MAX_LOGPROBS}], got ${logprobs}`);
  }
  const seed = params.seed === undefined ? undefined : num("seed", params.seed, 0);
  if (seed !== undefined && !Number.isSafeInteger(seed)) {
    throw new InvalidArgumentError("seed", `must be an integer in [-(2^53-1), 2^53-1], got ${seed}`);
  }
  return {
    temperature,
    topK: topK > 0 && topK < vocabSize ? topK : 0,
    topP,
    minP,
    repetitionPenalty,
    presencePenalty,
    frequencyPenalty,
    logitBias: resolveLogitBias(params.logitBias, vocabSize),
    seed,
    logprobs: Math.min(logprobs, vocabSize),
    returnLogprobs: params.logprobs !== undefined,
  };
}
