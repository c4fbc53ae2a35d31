/**
 * Logits of every position of one prompt, run as a single prefill batch on the reference backend,
 * with an f32 KV cache (the default f16 would add its rounding to every comparison made with these).
 */
import { createReferenceBackend } from "../../src/backend/js/reference.js";
import { buildModel } from "../../src/models/registry.js";
import type { ModelFiles } from "../../src/weights/model-files.js";

/** stories260K's first 8 golden tokens (BOS first). */
export const STORIES_TOKENS: readonly number[] = [1, 403, 407, 261, 378, 432, 383, 286];

/** [tokens.length, vocabSize] logits, a copy (the model reuses its buffer). */
export function logitsOf(files: ModelFiles, tokens: readonly number[] = STORIES_TOKENS): Float32Array {
  const model = buildModel(files, createReferenceBackend());
  const positions = Int32Array.from(tokens, (_, i) => i);
  return model.forward({
    tokenIds: Int32Array.from(tokens), positions, slotMapping: positions,
    seqs: [{ queryStart: 0, queryLen: tokens.length, contextLen: tokens.length, blockTable: Int32Array.of(0) }],
    logitIndices: positions,
  }, model.createKvCache(Math.ceil(tokens.length / 16), 16, "f32")).slice();
}
