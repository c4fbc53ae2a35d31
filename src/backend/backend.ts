/**
 * The narrow interface between the forward pass and the numeric kernels (ggml-style). The
 * reference backend (`backend/js/`) implements it in plain TypeScript, fp32 math, dequantizing
 * each format: it is the oracle. The native backend (C/C++ SIMD addon) implements the same calls.
 *
 * Conventions: activations are row-major Float32Array, one row per token: `x[n, dim]`.
 * Weights are WeightTensor in ggml order (`dims[0]` = row length). Outputs are written into
 * caller-provided buffers (no allocation in the hot path).
 */
import type { WeightTensor } from "../weights/tensor.js";
import type { KvDtype } from "./kv-dtype.js";

export type { KvDtype } from "./kv-dtype.js";

/** One sequence's slice of a flattened batch, for attention over the paged KV cache. */
export interface AttentionSeq {
  /** Index of this sequence's first query token in the batch. */
  readonly queryStart: number;
  /** Number of query tokens (prefill chunk length, or 1 for decode). */
  readonly queryLen: number;
  /** Tokens in the KV cache for this sequence after this step (previous context + queryLen). */
  readonly contextLen: number;
  /** Physical block id of each logical block of this sequence. */
  readonly blockTable: Int32Array;
}

/**
 * One layer's paged KV cache: `numBlocks * blockSize` slots, each one row of kvDim = `numKvHeads *
 * headDim` values stored as `dtype` (see kv-dtype.ts): fp32 values, or the bytes of f16 values /
 * Q8_0 blocks (slot s at byte s * kvRowBytes(dtype, kvDim)).
 */
export type KvLayer =
  | { readonly dtype: "f32"; readonly k: Float32Array; readonly v: Float32Array }
  | { readonly dtype: "f16" | "q8_0"; readonly k: Uint8Array; readonly v: Uint8Array };

export interface AttentionArgs {
  /** Queries, [numTokens, numHeads * headDim], already rotated. */
  readonly q: Float32Array;
  readonly kv: KvLayer;
  readonly numHeads: number;
  readonly numKvHeads: number;
  readonly headDim: number;
  readonly blockSize: number;
  /** Softmax scale, normally 1/sqrt(headDim). */
  readonly scale: number;
  readonly seqs: readonly AttentionSeq[];
  /** Output, [numTokens, numHeads * headDim]. */
  readonly out: Float32Array;
}

export interface Backend {
  readonly name: string;
  /** KV-cache storage types storeKv and attention accept. */
  readonly kvDtypes: readonly KvDtype[];

  /**
   * out[n, rows] = x[n, cols] · W^T, where W has dims [cols, rows] (each weight row is one output).
   * Any supported weight type; x and out are fp32.
   */
  matmul(w: WeightTensor, x: Float32Array, n: number, out: Float32Array): void;

  /**
   * Optional: several matmuls over the same activations (all weights with the same row length),
   * outs[i] = x · ws[i]^T, as one unit of work: a layer's q/k/v or gate/up projections. Same result
   * as calling matmul for each; a backend that has it saves per-call overhead (one dispatch, one
   * activation quantization). Callers fall back to matmul when it is absent (see matmulEach).
   */
  matmulMany?(ws: readonly WeightTensor[], x: Float32Array, n: number, outs: readonly Float32Array[]): void;

  /**
   * Optional: a weight rewritten, in place, into a layout this backend's matmul and getRows read
   * faster (a load-time repack, as llama.cpp's CPU "extra" buffer types). Returns the tensor to use
   * from then on (w itself when there is nothing to do); w's bytes then belong to the result only.
   */
  packWeight?(w: WeightTensor): WeightTensor;

  /**
   * Optional: ask the OS to back `mem`, not yet touched, with huge pages (Linux transparent huge
   * pages, 2 MiB). For the KV cache, which attention reads in full at every step: with 4 KiB pages
   * every few rows cost a TLB walk (`bench:kernels --attention --scatter`, llama-3.2-1b at 4096
   * keys: 10.1 ms per call on 4 KiB pages, 7.2 on huge pages).
   */
  adviseHugePages?(mem: ArrayBufferView): void;

  /** out[i, :] = row ids[i] of w, dequantized to fp32 (embedding lookup). */
  getRows(w: WeightTensor, ids: ArrayLike<number>, out: Float32Array): void;

  /** out[i, :] = x[i, :] / rms(x[i, :]) * weight, over n rows of `dim`. out may alias x. */
  rmsNorm(x: Float32Array, weight: Float32Array, n: number, dim: number, eps: number, out: Float32Array): void;

  /**
   * Rotate, in place, the first `ropeDim` dims of every head of x[n, numHeads * headDim] by the
   * angle positions[i] * invFreq[j]. `invFreq` has ropeDim / 2 entries (scaling already applied).
   */
  rope(x: Float32Array, n: number, numHeads: number, headDim: number, ropeDim: number,
       positions: Int32Array, invFreq: Float32Array, style: "norm" | "neox"): void;

  /** Write k[i], v[i] ([n, kvDim] each) into cache slot slotMapping[i] of one layer, converted to its dtype. */
  storeKv(kv: KvLayer, k: Float32Array, v: Float32Array, n: number, kvDim: number, slotMapping: Int32Array): void;

  /** Causal attention of each sequence's queries over its cached keys/values (GQA aware), in fp32 whatever the cache's dtype. */
  attention(args: AttentionArgs): void;

  /** out[i] = silu(gate[i]) * up[i] for i < len. out may alias gate. */
  siluMul(gate: Float32Array, up: Float32Array, len: number, out: Float32Array): void;

  /** out[i] = a[i] + b[i] for i < len. out may alias a. */
  add(a: Float32Array, b: Float32Array, len: number, out: Float32Array): void;

  /** x[r, :] += bias for each of n rows (bias length = row length). */
  addBias(x: Float32Array, bias: Float32Array, n: number): void;

  /**
   * For each of n logits rows of x [n, dim]: max[r] and argmax[r], the lowest index holding the max;
   * argmax[r] = -1 when the row has a NaN or +Infinity, or no value above -Infinity (rows the
   * sampler refuses). One pass per row for the sampler, off the JavaScript thread's slow loop.
   */
  scanRows(x: Float32Array, n: number, dim: number, max: Float32Array, argmax: Int32Array): void;
}

/** outs[i] = x · ws[i]^T for each i: one backend.matmulMany call when the backend has it, else one matmul each. */
export function matmulEach(backend: Backend, ws: readonly WeightTensor[], x: Float32Array, n: number,
                           outs: readonly Float32Array[]): void {
  if (backend.matmulMany) {
    backend.matmulMany(ws, x, n, outs);
    return;
  }
  for (let i = 0; i < ws.length; i++) backend.matmul(ws[i] as WeightTensor, x, n, outs[i] as Float32Array);
}
