/**
 * Greedy decoding with full logits from two engines on the same GGUF file, for cross-checks:
 *  - llama.cpp through node-llama-cpp's prebuilt CPU build (controlledEvaluate: the probabilities
 *    of every token at every step, the greedy token chosen by llama.cpp's own sampler);
 *  - Fennec's forward pass, driven step by step (prefill the prompt, then one token per step).
 */
import { getLlama, type Llama } from "node-llama-cpp";
import { loadModel } from "../../src/index.js";
import { openModelFiles } from "../../src/weights/load.js";
import type { BackendKind } from "../../src/backend/registry.js";
import type { KvDtype } from "../../src/backend/kv-dtype.js";

export interface GreedyStep {
  /** The greedy token at this step. */
  readonly token: number;
  /** Full row [vocab]: Fennec's logits; llama.cpp's log-probabilities (logits up to a constant). */
  readonly logits: Float32Array;
}

/** A logits row as log-probabilities (log-softmax, in float64), so rows from both engines compare directly. */
export function logSoftmax(row: Float32Array): Float64Array {
  let max = -Infinity;
  for (const v of row) if (v > max) max = v;
  let sum = 0;
  for (const v of row) sum += Math.exp(v - max);
  const lse = max + Math.log(sum);
  return Float64Array.from(row, (v) => v - lse);
}

let llamaPromise: Promise<Llama> | undefined;
export function llamaCpp(): Promise<Llama> {
  llamaPromise ??= getLlama({ gpu: false, build: "never", logLevel: "error" as never, progressLogs: false });
  return llamaPromise;
}

export interface LlamaCppOptions {
  readonly threads?: number;
  readonly contextSize?: number;
  /** KV cache element type (default F32, so attention is fp32 like Fennec's). */
  readonly kvType?: "F32" | "F16";
}

/** llama.cpp: prompt, then `steps` greedy tokens, with the logits that chose each. */
export async function llamaCppGreedy(modelPath: string, promptIds: readonly number[], steps: number, opts: LlamaCppOptions = {}): Promise<GreedyStep[]> {
  const vocabSize = openModelFiles(modelPath).config.vocabSize;
  const llama = await llamaCpp();
  const model = await llama.loadModel({ modelPath, gpuLayers: 0 });
  const kvType = opts.kvType ?? "F32";
  const ctx = await model.createContext({
    contextSize: opts.contextSize ?? 256, threads: opts.threads ?? 2, batchSize: 256, sequences: 1, flashAttention: false,
    experimentalKvCacheKeyType: kvType, experimentalKvCacheValueType: kvType,
  });
  try {
    const seq = ctx.getSequence();
    const out: GreedyStep[] = [];
    // node-llama-cpp (3.21) gives the softmax of the logits (float32, every token), not the logits:
    // their logs are the logits up to a per-step constant (-Infinity where the softmax underflowed).
    const next = { generateNext: { token: true, probabilities: true, options: { temperature: 0 } } } as const;
    let input: (number | [number, typeof next])[] = promptIds.map((t, i) => (i === promptIds.length - 1 ? [t, next] : t));
    for (let s = 0; s < steps; s++) {
      const res = await seq.controlledEvaluate(input as never);
      const last = res[res.length - 1];
      const probs = last?.next.probabilities;
      const token = last?.next.token;
      if (!probs || token === undefined || token === null) throw new Error(`llama.cpp returned no probabilities/token at step ${s}`);
      const logits = new Float32Array(vocabSize).fill(-Infinity);
      for (const [id, p] of probs) if (id < logits.length) logits[id] = Math.log(p);
      out.push({ token, logits });
      input = [[token, next]];
    }
    return out;
  } finally {
    await ctx.dispose();
    await model.dispose();
  }
}

export interface FennecOptions {
  readonly backend?: BackendKind;
  readonly threads?: number;
  /** Instead of Fennec's own greedy tokens, feed these (teacher forcing). */
  readonly forcedTokens?: readonly number[];
  /** KV cache dtype (default f32, as llamaCppGreedy's default F32 cache). */
  readonly kvDtype?: KvDtype;
}

function argmax(row: Float32Array): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if ((row[i] as number) > (row[best] as number)) best = i;
  return best;
}

/** Fennec: prompt, then `steps` greedy tokens, with the logits that chose each. */
export async function fennecGreedy(modelPath: string, promptIds: readonly number[], steps: number, opts: FennecOptions = {}): Promise<{ steps: GreedyStep[]; backend: string }> {
  const m = await loadModel(modelPath, { backend: opts.backend ?? "auto", ...(opts.threads !== undefined ? { threads: opts.threads } : {}) });
  const blockSize = 16;
  const total = promptIds.length + steps;
  const kv = m.model.createKvCache(Math.ceil(total / blockSize), blockSize, opts.kvDtype ?? "f32");
  const blockTable = Int32Array.from({ length: kv.numBlocks }, (_, i) => i);
  const run = (ids: readonly number[], start: number): Float32Array => {
    const positions = Int32Array.from(ids, (_, i) => start + i);
    return m.model.forward({
      tokenIds: Int32Array.from(ids), positions, slotMapping: positions,
      seqs: [{ queryStart: 0, queryLen: ids.length, contextLen: start + ids.length, blockTable }],
      logitIndices: Int32Array.of(ids.length - 1),
    }, kv);
  };
  const out: GreedyStep[] = [];
  let logits = run(promptIds, 0).slice();
  for (let s = 0; s < steps; s++) {
    const token = argmax(logits);
    out.push({ token, logits });
    if (s + 1 < steps) logits = run([opts.forcedTokens?.[s] ?? token], promptIds.length + s).slice();
  }
  return { steps: out, backend: m.backend.name };
}
