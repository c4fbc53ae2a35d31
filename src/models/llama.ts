/**
 * The Llama-family transformer (Llama 1/2/3, TinyLlama, SmolLM, Mistral; Qwen2 adds q/k/v biases),
 * as one forward pass over a flattened batch. Read top to bottom:
 *
 *   x = embed(tokens)                                   [n, dim]
 *   for each layer:
 *     h = rmsnorm(x) ; q,k,v = h·Wq, h·Wk, h·Wv (+bias)  [n, nH*hd], [n, nKv*hd] x2
 *     rope(q, k) ; kvCache[slot] = k, v
 *     x += attention(q, kvCache) · Wo                   causal, grouped-query, paged
 *     h = rmsnorm(x) ; x += (silu(h·Wgate) * h·Wup) · Wdown
 *   logits = rmsnorm(x[wanted rows]) · Wout              [m, vocab]
 *
 * The batch may mix several sequences, each a prefill chunk or one decode token: attention uses
 * each sequence's block table; everything else is per token and does not care.
 */
import type { AttentionSeq, Backend, KvLayer } from "../backend/backend.js";
import { matmulEach } from "../backend/backend.js";
import { DEFAULT_KV_DTYPE, allocKvLayer, checkKvDtype, type KvDtype } from "../backend/kv-dtype.js";
import type { ModelConfig } from "./config.js";
import type { ModelFiles } from "../weights/model-files.js";
import type { WeightTensor } from "../weights/tensor.js";
import { InvalidArgumentError, ModelFileError } from "../errors.js";
import { dequantize } from "../quant/dequant.js";
import { numElements } from "../weights/tensor.js";
import { ropeInvFreq } from "./rope.js";

/** One step's worth of tokens, already laid out by the scheduler (or the simple generator). */
export interface ForwardBatch {
  /** [numTokens] token ids of all sequences, concatenated. */
  readonly tokenIds: Int32Array;
  /** [numTokens] position of each token within its own sequence. */
  readonly positions: Int32Array;
  /** [numTokens] KV-cache slot (block * blockSize + offset) each token's k/v is written to. */
  readonly slotMapping: Int32Array;
  readonly seqs: readonly AttentionSeq[];
  /** Batch rows whose logits are needed (the last token of each sequence that samples this step). */
  readonly logitIndices: Int32Array;
}

/** Paged KV cache for all layers: `numBlocks` blocks of `blockSize` token slots, stored as `dtype`. */
export interface KvCache {
  readonly dtype: KvDtype;
  readonly layers: readonly KvLayer[];
  readonly blockSize: number;
  readonly numBlocks: number;
}

export interface Model {
  readonly config: ModelConfig;
  readonly backend: Backend;
  /** Run the batch; returns logits [logitIndices.length, vocabSize] (a buffer reused by the next call). */
  forward(batch: ForwardBatch, kvCache: KvCache): Float32Array;
  /**
   * A zeroed cache (default dtype f16). Throws InvalidArgumentError when the dtype cannot hold this
   * model's heads (q8_0 needs headDim % 32 == 0) or the backend lacks it.
   */
  createKvCache(numBlocks: number, blockSize: number, dtype?: KvDtype): KvCache;
}

interface LayerWeights {
  readonly attnNorm: Float32Array;
  readonly wq: WeightTensor;
  readonly wk: WeightTensor;
  readonly wv: WeightTensor;
  readonly bq: Float32Array | undefined;
  readonly bk: Float32Array | undefined;
  readonly bv: Float32Array | undefined;
  readonly wo: WeightTensor;
  readonly ffnNorm: Float32Array;
  readonly wGate: WeightTensor;
  readonly wUp: WeightTensor;
  readonly wDown: WeightTensor;
}

/** Scratch activations, sized for the largest batch seen so far. */
interface Scratch {
  capacity: number;
  x: Float32Array; // [n, dim] residual stream
  h: Float32Array; // [n, dim] normed input / projection output
  q: Float32Array; // [n, nH*hd]
  k: Float32Array; // [n, kvDim]
  v: Float32Array; // [n, kvDim]
  att: Float32Array; // [n, nH*hd]
  gate: Float32Array; // [n, hidden]
  up: Float32Array; // [n, hidden]
}

export function buildLlamaModel(files: ModelFiles, backend: Backend): Model {
  const c = files.config;
  const tensor = (name: string, dims: readonly number[]): WeightTensor => {
    const t = files.getTensor(name);
    if (!t) throw new ModelFileError(files.path, `tensor ${name}`, "missing (required by the " + c.arch + " architecture)");
    const ok = t.dims.length === dims.length && dims.every((d, i) => t.dims[i] === d);
    if (!ok) throw new ModelFileError(files.path, `tensor ${name}`, `expected dims [${dims.join(", ")}], got [${t.dims.join(", ")}]`);
    return t;
  };
  const vector = (name: string, len: number): Float32Array => toF32(tensor(name, [len]));
  const optionalVector = (name: string, len: number): Float32Array | undefined =>
    files.getTensor(name) ? vector(name, len) : undefined;

  const qDim = c.numHeads * c.headDim;
  const kvDim = c.numKvHeads * c.headDim;
  const tokenEmbd = tensor("token_embd.weight", [c.dim, c.vocabSize]);
  const output = c.tiedEmbeddings ? tokenEmbd : tensor("output.weight", [c.dim, c.vocabSize]);
  const outputNorm = vector("output_norm.weight", c.dim);
  const layers: LayerWeights[] = [];
  for (let i = 0; i < c.numLayers; i++) {
    const p = `blk.${i}.`;
    layers.push({
      attnNorm: vector(p + "attn_norm.weight", c.dim),
      wq: tensor(p + "attn_q.weight", [c.dim, qDim]),
      wk: tensor(p + "attn_k.weight", [c.dim, kvDim]),
      wv: tensor(p + "attn_v.weight", [c.dim, kvDim]),
      bq: c.hasQkvBias ? vector(p + "attn_q.bias", qDim) : optionalVector(p + "attn_q.bias", qDim),
      bk: c.hasQkvBias ? vector(p + "attn_k.bias", kvDim) : optionalVector(p + "attn_k.bias", kvDim),
      bv: c.hasQkvBias ? vector(p + "attn_v.bias", kvDim) : optionalVector(p + "attn_v.bias", kvDim),
      wo: tensor(p + "attn_output.weight", [qDim, c.dim]),
      ffnNorm: vector(p + "ffn_norm.weight", c.dim),
      wGate: tensor(p + "ffn_gate.weight", [c.dim, c.hiddenDim]),
      wUp: tensor(p + "ffn_up.weight", [c.dim, c.hiddenDim]),
      wDown: tensor(p + "ffn_down.weight", [c.hiddenDim, c.dim]),
    });
  }
  const freqFactors = files.getTensor("rope_freqs.weight");
  const invFreq = ropeInvFreq(c, freqFactors ? toF32(freqFactors) : undefined);
  const attnScale = 1 / Math.sqrt(c.headDim);

  const scratch: Scratch = allocScratch(0, c);
  let logits = new Float32Array(0);
  let lastRows = new Float32Array(0);

  function forward(batch: ForwardBatch, kvCache: KvCache): Float32Array {
    const n = batch.tokenIds.length;
    if (n > scratch.capacity) Object.assign(scratch, allocScratch(n, c));
    const { x, h, q, k, v, att, gate, up } = scratch;

    backend.getRows(tokenEmbd, batch.tokenIds, x);
    for (let l = 0; l < c.numLayers; l++) {
      const w = layers[l] as LayerWeights;
      const kv = kvCache.layers[l] as KvLayer;
      // --- attention block ---
      backend.rmsNorm(x, w.attnNorm, n, c.dim, c.normEps, h);
      matmulEach(backend, [w.wq, w.wk, w.wv], h, n, [q, k, v]);
      if (w.bq) backend.addBias(q, w.bq, n);
      if (w.bk) backend.addBias(k, w.bk, n);
      if (w.bv) backend.addBias(v, w.bv, n);
      backend.rope(q, n, c.numHeads, c.headDim, c.ropeDim, batch.positions, invFreq, c.ropeStyle);
      backend.rope(k, n, c.numKvHeads, c.headDim, c.ropeDim, batch.positions, invFreq, c.ropeStyle);
      backend.storeKv(kv, k, v, n, kvDim, batch.slotMapping);
      backend.attention({
        q, kv, numHeads: c.numHeads, numKvHeads: c.numKvHeads, headDim: c.headDim,
        blockSize: kvCache.blockSize, scale: attnScale, seqs: batch.seqs, out: att,
      });
      backend.matmul(w.wo, att, n, h);
      backend.add(x, h, n * c.dim, x);
      // --- feed-forward block (SwiGLU) ---
      backend.rmsNorm(x, w.ffnNorm, n, c.dim, c.normEps, h);
      matmulEach(backend, [w.wGate, w.wUp], h, n, [gate, up]);
      backend.siluMul(gate, up, n * c.hiddenDim, gate);
      backend.matmul(w.wDown, gate, n, h);
      backend.add(x, h, n * c.dim, x);
    }

    // Only the rows that will be sampled go through the (vocab-sized) output projection.
    const m = batch.logitIndices.length;
    if (lastRows.length < m * c.dim) lastRows = new Float32Array(m * c.dim);
    for (let i = 0; i < m; i++) {
      const row = batch.logitIndices[i] as number;
      lastRows.set(x.subarray(row * c.dim, (row + 1) * c.dim), i * c.dim);
    }
    backend.rmsNorm(lastRows, outputNorm, m, c.dim, c.normEps, lastRows);
    if (logits.length < m * c.vocabSize) logits = new Float32Array(m * c.vocabSize);
    backend.matmul(output, lastRows, m, logits);
    return logits.subarray(0, m * c.vocabSize);
  }

  function createKvCache(numBlocks: number, blockSize: number, dtype: KvDtype = DEFAULT_KV_DTYPE): KvCache {
    checkKvDtype(dtype, c.numKvHeads, c.headDim);
    if (!backend.kvDtypes.includes(dtype)) {
      throw new InvalidArgumentError("kvCacheDtype", `the ${backend.name} backend has no ${dtype} KV cache (it has ${backend.kvDtypes.join(", ")})`);
    }
    const slots = numBlocks * blockSize;
    const kvLayers: KvLayer[] = [];
    for (let l = 0; l < c.numLayers; l++) {
      const layer = allocKvLayer(dtype, slots, kvDim);  // fresh memory: advised before any write
      backend.adviseHugePages?.(layer.k);
      backend.adviseHugePages?.(layer.v);
      kvLayers.push(layer);
    }
    return { dtype, layers: kvLayers, blockSize, numBlocks };
  }

  return { config: c, backend, forward, createKvCache };
}

function allocScratch(n: number, c: ModelConfig): Scratch {
  const qDim = c.numHeads * c.headDim;
  const kvDim = c.numKvHeads * c.headDim;
  return {
    capacity: n,
    x: new Float32Array(n * c.dim),
    h: new Float32Array(n * c.dim),
    q: new Float32Array(n * qDim),
    k: new Float32Array(n * kvDim),
    v: new Float32Array(n * kvDim),
    att: new Float32Array(n * qDim),
    gate: new Float32Array(n * c.hiddenDim),
    up: new Float32Array(n * c.hiddenDim),
  };
}

/** A small tensor (norm weight, bias, rope factors) as fp32, whatever its stored type. */
function toF32(t: WeightTensor): Float32Array {
  const n = numElements(t.dims);
  const out = new Float32Array(n);
  dequantize(t.type, t.data, n, out);
  return out;
}
