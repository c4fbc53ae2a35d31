/** Per-request sampling parameters (names follow vLLM's SamplingParams, camelCased). */
export interface SamplingParams {
  /** 0 = greedy (argmax). Default 1. */
  readonly temperature?: number;
  /** Keep the k most likely tokens; 0 or -1 = off. */
  readonly topK?: number;
  /** Nucleus sampling: smallest set of tokens with cumulative probability >= p; 1 = off. */
  readonly topP?: number;
  /** Drop tokens whose probability is < minP * p(max); 0 = off. */
  readonly minP?: number;
  /** > 1 discourages tokens seen in the prompt or output (divide positive logits, multiply negative). 1 = off. */
  readonly repetitionPenalty?: number;
  /** Subtracted once from the logit of every token present in the output. 0 = off. */
  readonly presencePenalty?: number;
  /** Subtracted count-times from the logit of every token in the output. 0 = off. */
  readonly frequencyPenalty?: number;
  /** Added to the logits of the given token ids (-100 bans, +100 forces). */
  readonly logitBias?: Readonly<Record<number, number>>;
  /** Seed of the request's own RNG: same seed + same inputs = same tokens. Random if absent. */
  readonly seed?: number;
  /** Return the logprobs of the chosen token and of the top-N alternatives (0 = chosen token only;
   * absent = none: sampling then skips the log-softmax over the vocabulary). */
  readonly logprobs?: number;
}

export interface TokenLogprob {
  readonly id: number;
  readonly logprob: number;
}

export interface SampleResult {
  readonly id: number;
  /** log p(id) under the model's distribution (log-softmax of the raw logits), when logprobs were requested. */
  readonly logprob?: number;
  /** The top-N alternatives by logprob, most likely first, when params.logprobs > 0. */
  readonly topLogprobs?: readonly TokenLogprob[];
}
