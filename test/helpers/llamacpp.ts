/**
 * Greedy decoding with full logits from two engines on the same GGUF file, for cross-checks:
 *  - llama.cpp through node-llama-cpp's prebuilt CPU build (controlledEvaluate: raw logits of
 *    every step, the greedy token chosen by llama.cpp's own sampler);
 *  - Fennec's forward pass, driven step by step (prefill the prompt, then one token per step).
 */
import { getLlama, type Llama } from "node-llama-cpp";
import { loadModel } from "../../src/index.js";
import type { BackendKind } from "../../src/backend/registry.js";

export interface GreedyStep {
  /** The greedy token at this step. */
  readonly token: number;
  /** Full logits row [vocab]. */
  readonly logits: Float32Array;
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
    const next = { generateNext: { token: true, logits: true, options: { temperature: 0 } } } as const;
    let input: (number | [number, typeof next])[] = promptIds.map((t, i) => (i === promptIds.length - 1 ? [t, next] : t));
    for (let s = 0; s < steps; s++) {
      const res = await seq.controlledEvaluate(input as never);
      const last = res[res.length - 1];
      const logitsMap = last?.next.logits;
      const token = last?.next.token;
      if (!logitsMap || token === undefined || token === null) throw new Error(`llama.cpp returned no logits/token at step ${s}`);
      const n = Math.max(...logitsMap.keys()) + 1;
      const logits = new Float32Array(n);
      for (const [id, v] of logitsMap) logits[id] = v;
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
  const kv = m.model.createKvCache(Math.ceil(total / blockSize), blockSize);
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
