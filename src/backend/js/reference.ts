/**
 * The reference backend: plain TypeScript, fp32 math, every quantized weight dequantized row by row.
 * Simple and obviously correct: it is the oracle the native kernels are tested against, and the
 * fallback when the native addon is unavailable.
 */
import type { AttentionArgs, Backend, KvLayer } from "../backend.js";
import type { WeightTensor } from "../../weights/tensor.js";
import { dequantize, dequantizeRow } from "../../quant/dequant.js";
import { GgmlType } from "../../quant/formats.js";
import { quantizeInto } from "../../quant/quantize.js";
import { scanRow } from "../../sampling/select.js";
import { KV_DTYPES, KV_GGML_TYPE, checkKvDtype, kvRowBytes } from "../kv-dtype.js";

/** Cols and rows of a 2-D weight (ggml order: dims[0] = cols). */
function matrixShape(w: WeightTensor): { cols: number; rows: number } {
  const cols = w.dims[0] ?? 1;
  const rows = w.dims.slice(1).reduce((a, b) => a * b, 1);
  return { cols, rows };
}

/** An fp32 weight viewed in place (no copy); undefined for other types. */
function f32View(w: WeightTensor): Float32Array | undefined {
  if (w.type !== GgmlType.F32 || w.data.byteOffset % 4 !== 0) return undefined;
  return new Float32Array(w.data.buffer, w.data.byteOffset, w.data.byteLength / 4);
}

/**
 * Rows 0..seq.contextLen of one sequence's cached K and V as fp32, [contextLen, kvDim] each, read
 * through its block table and converted from the cache's dtype with src/quant's decoders.
 */
function readKvRows(kv: KvLayer, blockTable: Int32Array, contextLen: number, blockSize: number, kvDim: number,
  kOut: Float32Array, vOut: Float32Array): void {
  const rb = kvRowBytes(kv.dtype, kvDim);
  for (let p = 0; p < contextLen; p++) {
    const slot = (blockTable[Math.floor(p / blockSize)] as number) * blockSize + (p % blockSize);
    if (kv.dtype === "f32") {
      kOut.set(kv.k.subarray(slot * kvDim, (slot + 1) * kvDim), p * kvDim);
      vOut.set(kv.v.subarray(slot * kvDim, (slot + 1) * kvDim), p * kvDim);
    } else {
      const type = KV_GGML_TYPE[kv.dtype];
      dequantize(type, kv.k.subarray(slot * rb, (slot + 1) * rb), kvDim, kOut, p * kvDim);
      dequantize(type, kv.v.subarray(slot * rb, (slot + 1) * rb), kvDim, vOut, p * kvDim);
    }
  }
}

export function createReferenceBackend(): Backend {
  // One dequantized-row scratch buffer, grown on demand.
  let rowBuf = new Float32Array(0);
  const scratchRow = (n: number): Float32Array => {
    if (rowBuf.length < n) rowBuf = new Float32Array(n);
    return rowBuf;
  };

  // The current sequence's K and V rows as fp32 (attention), grown on demand.
  let kRows = new Float32Array(0);
  let vRows = new Float32Array(0);

  return {
    name: "reference",
    kvDtypes: KV_DTYPES,

    matmul(w, x, n, out) {
      const { cols, rows } = matrixShape(w);
      const f32 = f32View(w);
      const row = scratchRow(cols);
      // Loop over weight rows outermost so each row is dequantized once per call, then dotted with all n inputs.
      for (let r = 0; r < rows; r++) {
        let wr: Float32Array;
        let base = 0;
        if (f32) {
          wr = f32;
          base = r * cols;
        } else {
          dequantizeRow(w, r, row);
          wr = row;
        }
        for (let t = 0; t < n; t++) {
          const xo = t * cols;
          let s = 0;
          for (let c = 0; c < cols; c++) s += (wr[base + c] as number) * (x[xo + c] as number);
          out[t * rows + r] = s;
        }
      }
    },

    getRows(w, ids, out) {
      const { cols, rows } = matrixShape(w);
      for (let i = 0; i < ids.length; i++) {
        const id = ids[i] as number;
        if (!(id >= 0 && id < rows)) throw new RangeError(`getRows: id ${id} out of range [0, ${rows}) for ${w.name}`);
        dequantizeRow(w, id, out, i * cols);
      }
    },

    rmsNorm(x, weight, n, dim, eps, out) {
      for (let t = 0; t < n; t++) {
        const o = t * dim;
        let ss = 0;
        for (let i = 0; i < dim; i++) {
          const v = x[o + i] as number;
          ss += v * v;
        }
        const inv = 1 / Math.sqrt(ss / dim + eps);
        for (let i = 0; i < dim; i++) out[o + i] = (x[o + i] as number) * inv * (weight[i] as number);
      }
    },

    rope(x, n, numHeads, headDim, ropeDim, positions, invFreq, style) {
      const half = ropeDim / 2;
      for (let t = 0; t < n; t++) {
        const pos = positions[t] as number;
        for (let h = 0; h < numHeads; h++) {
          const o = (t * numHeads + h) * headDim;
          for (let j = 0; j < half; j++) {
            const angle = pos * (invFreq[j] as number);
            const cos = Math.cos(angle);
            const sin = Math.sin(angle);
            // "norm" rotates the adjacent pair (2j, 2j+1); "neox" rotates (j, j + ropeDim/2).
            const i0 = style === "norm" ? o + 2 * j : o + j;
            const i1 = style === "norm" ? i0 + 1 : i0 + half;
            const a = x[i0] as number;
            const b = x[i1] as number;
            x[i0] = a * cos - b * sin;
            x[i1] = a * sin + b * cos;
          }
        }
      }
    },

    storeKv(kv: KvLayer, k, v, n, kvDim, slotMapping) {
      const rb = kvRowBytes(kv.dtype, kvDim);
      for (let t = 0; t < n; t++) {
        const slot = slotMapping[t] as number;
        if (kv.dtype === "f32") {
          kv.k.set(k.subarray(t * kvDim, (t + 1) * kvDim), slot * kvDim);
          kv.v.set(v.subarray(t * kvDim, (t + 1) * kvDim), slot * kvDim);
        } else {
          // f16: round to nearest even; q8_0: ggml's reference Q8_0 blocks (src/quant's encoders).
          quantizeInto(KV_GGML_TYPE[kv.dtype], k, t * kvDim, kvDim, kv.k, slot * rb);
          quantizeInto(KV_GGML_TYPE[kv.dtype], v, t * kvDim, kvDim, kv.v, slot * rb);
        }
      }
    },

    attention(args: AttentionArgs) {
      const { q, kv, numHeads, numKvHeads, headDim, blockSize, scale, seqs, out } = args;
      const kvDim = numKvHeads * headDim;
      const groupSize = numHeads / numKvHeads;
      // The whole rows would decode fine, but the native kernels read q8_0 per head: refuse the same shapes.
      checkKvDtype(kv.dtype, numKvHeads, headDim);
      let scores = new Float32Array(0);
      for (const seq of seqs) {
        if (scores.length < seq.contextLen) scores = new Float32Array(seq.contextLen);
        if (kRows.length < seq.contextLen * kvDim) {
          kRows = new Float32Array(seq.contextLen * kvDim);
          vRows = new Float32Array(seq.contextLen * kvDim);
        }
        readKvRows(kv, seq.blockTable, seq.contextLen, blockSize, kvDim, kRows, vRows);
        // Query i of this chunk sits at position contextLen - queryLen + i and sees keys 0..that position.
        const firstPos = seq.contextLen - seq.queryLen;
        for (let i = 0; i < seq.queryLen; i++) {
          const t = seq.queryStart + i;
          const numKeys = firstPos + i + 1;
          for (let h = 0; h < numHeads; h++) {
            const kvHead = Math.floor(h / groupSize);
            const qo = (t * numHeads + h) * headDim;
            let max = -Infinity;
            for (let p = 0; p < numKeys; p++) {
              const ko = p * kvDim + kvHead * headDim;
              let s = 0;
              for (let d = 0; d < headDim; d++) s += (q[qo + d] as number) * (kRows[ko + d] as number);
              s *= scale;
              scores[p] = s;
              if (s > max) max = s;
            }
            let sum = 0;
            for (let p = 0; p < numKeys; p++) {
              const e = Math.exp((scores[p] as number) - max);
              scores[p] = e;
              sum += e;
            }
            const oo = (t * numHeads + h) * headDim;
            out.fill(0, oo, oo + headDim);
            for (let p = 0; p < numKeys; p++) {
              const vo = p * kvDim + kvHead * headDim;
              const wgt = (scores[p] as number) / sum;
              for (let d = 0; d < headDim; d++) out[oo + d] = (out[oo + d] as number) + wgt * (vRows[vo + d] as number);
            }
          }
        }
      }
    },

    siluMul(gate, up, len, out) {
      for (let i = 0; i < len; i++) {
        const g = gate[i] as number;
        out[i] = (g / (1 + Math.exp(-g))) * (up[i] as number);
      }
    },

    add(a, b, len, out) {
      for (let i = 0; i < len; i++) out[i] = (a[i] as number) + (b[i] as number);
    },

    scanRows(x, n, dim, max, argmax) {
      for (let r = 0; r < n; r++) {
        const s = scanRow(x.subarray(r * dim, (r + 1) * dim));
        max[r] = s.max;
        argmax[r] = s.argmax;
      }
    },

    addBias(x, bias, n) {
      const d = bias.length;
      for (let t = 0; t < n; t++) for (let i = 0; i < d; i++) x[t * d + i] = (x[t * d + i] as number) + (bias[i] as number);
    },
  };
}
