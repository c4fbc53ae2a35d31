/**
 * llama2.c checkpoint (the legacy "version 0" format run.c reads) as ModelFiles.
 *
 * Layout (little endian): header 7 x int32
 *   dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len
 * (vocab_size < 0: a separate classifier `wcls` follows the weights; > 0: it shares the embedding),
 * then fp32 tensors, row-major, in run.c's memory_map_weights order (kv_dim = n_kv_heads * head_size):
 *   token_embedding_table [vocab, dim]      rms_att_weight [L, dim]
 *   wq [L, dim, dim]   wk [L, kv_dim, dim]   wv [L, kv_dim, dim]   wo [L, dim, dim]   (out, in)
 *   rms_ffn_weight [L, dim]   w1 [L, hidden, dim]   w2 [L, dim, hidden]   w3 [L, hidden, dim]
 *   rms_final_weight [dim]    freq_cis_real, freq_cis_imag [seq_len * head_size / 2] (unused)
 *   wcls [vocab, dim] (only when not shared)
 * Q/K rows are in the Meta layout (RoPE on adjacent pairs), as in GGUF: ropeStyle "norm".
 * Each [L, ...] tensor is L consecutive per-layer tensors, so every GGUF-named tensor is one
 * contiguous region, read lazily (once) into its own off-heap buffer.
 */
import * as fs from "node:fs";
import { ModelFileError, UnsupportedError } from "../errors.js";
import type { ModelConfig } from "../models/config.js";
import { GgmlType } from "../quant/formats.js";
import type { ModelFiles } from "./model-files.js";
import { openOrThrow, readFileRegion } from "./file-io.js";
import type { WeightTensor } from "./tensor.js";

export const LLAMA2C_HEADER_BYTES = 28;
const HEADER_FIELDS = ["dim", "hidden_dim", "n_layers", "n_heads", "n_kv_heads", "vocab_size", "seq_len"] as const;
/** "ak42" as a little-endian int32: the newer export.py versions (1, 2) that run.c does not read. */
const EXPORT_MAGIC = 0x616b3432;

export interface Llama2cHeader {
  readonly dim: number;
  readonly hiddenDim: number;
  readonly numLayers: number;
  readonly numHeads: number;
  readonly numKvHeads: number;
  /** |vocab_size| */
  readonly vocabSize: number;
  readonly seqLen: number;
  /** vocab_size > 0: the classifier is the token embedding. */
  readonly sharedClassifier: boolean;
}

interface Region {
  readonly name: string;
  /** ggml order. */
  readonly dims: readonly number[];
  readonly fileOffset: number;
  readonly byteLength: number;
}

export function parseLlama2cHeader(path: string, head: Buffer): Llama2cHeader {
  const v = HEADER_FIELDS.map((_, i) => head.readInt32LE(4 * i));
  const [dim, hiddenDim, numLayers, numHeads, numKvHeads, rawVocab, seqLen] = v as [number, number, number, number, number, number, number];
  if (dim === EXPORT_MAGIC) {
    throw new UnsupportedError(path, "header", `llama2.c export version ${hiddenDim} (magic "ak42") is not supported; expected the legacy version-0 checkpoint that run.c reads`);
  }
  HEADER_FIELDS.forEach((field, i) => {
    const x = v[i] as number;
    if (field === "vocab_size" ? x === 0 : x <= 0) {
      throw new ModelFileError(path, `header ${field}`, `expected a positive integer${field === "vocab_size" ? " (negative: unshared classifier)" : ""}, got ${x}: not a llama2.c checkpoint?`);
    }
  });
  if (dim % numHeads !== 0 || (dim / numHeads) % 2 !== 0) {
    throw new ModelFileError(path, "header n_heads", `dim ${dim} must split into ${numHeads} heads of an even size`);
  }
  if (numHeads % numKvHeads !== 0) {
    throw new ModelFileError(path, "header n_kv_heads", `n_heads ${numHeads} must be a multiple of n_kv_heads ${numKvHeads}`);
  }
  return { dim, hiddenDim, numLayers, numHeads, numKvHeads, vocabSize: Math.abs(rawVocab), seqLen, sharedClassifier: rawVocab > 0 };
}

/** Where every tensor lives, and the file size the header implies. */
function layout(h: Llama2cHeader): { regions: Region[]; totalBytes: number } {
  const headSize = h.dim / h.numHeads;
  const kvDim = h.numKvHeads * headSize;
  const L = h.numLayers;
  const regions: Region[] = [];
  let offset = LLAMA2C_HEADER_BYTES;
  /** One stored tensor: `rowMajor` is its per-layer [rows, cols] (or [n]); stacked over L layers if `perLayer`. */
  const add = (name: string, rowMajor: readonly number[], perLayer: boolean): void => {
    const dims = [...rowMajor].reverse();
    const bytes = 4 * rowMajor.reduce((a, b) => a * b, 1);
    const count = perLayer ? L : 1;
    for (let i = 0; i < count; i++) {
      regions.push({ name: perLayer ? `blk.${i}.${name}` : name, dims, fileOffset: offset, byteLength: bytes });
      offset += bytes;
    }
  };
  add("token_embd.weight", [h.vocabSize, h.dim], false);
  add("attn_norm.weight", [h.dim], true);
  add("attn_q.weight", [h.dim, h.dim], true);
  add("attn_k.weight", [kvDim, h.dim], true);
  add("attn_v.weight", [kvDim, h.dim], true);
  add("attn_output.weight", [h.dim, h.dim], true);
  add("ffn_norm.weight", [h.dim], true);
  add("ffn_gate.weight", [h.hiddenDim, h.dim], true); // w1
  add("ffn_down.weight", [h.dim, h.hiddenDim], true); // w2
  add("ffn_up.weight", [h.hiddenDim, h.dim], true); // w3
  add("output_norm.weight", [h.dim], false);
  offset += 2 * 4 * h.seqLen * (headSize / 2); // freq_cis_real, freq_cis_imag: unused (RoPE is computed)
  if (!h.sharedClassifier) add("output.weight", [h.vocabSize, h.dim], false);
  return { regions, totalBytes: offset };
}

export function configFromLlama2cHeader(h: Llama2cHeader): ModelConfig {
  const headDim = h.dim / h.numHeads;
  const config: ModelConfig = {
    arch: "llama",
    vocabSize: h.vocabSize,
    dim: h.dim,
    hiddenDim: h.hiddenDim,
    numLayers: h.numLayers,
    numHeads: h.numHeads,
    numKvHeads: h.numKvHeads,
    headDim,
    contextLength: h.seqLen,
    normEps: 1e-5,
    ropeTheta: 10000,
    ropeDim: headDim,
    ropeStyle: "norm",
    ropeScaling: { type: "none" },
    tiedEmbeddings: h.sharedClassifier,
    hasQkvBias: false,
  };
  return Object.freeze(config);
}

/** Load a llama2.c `.bin` checkpoint; `tokenizerPath` is its `tokenizer.bin` (llama2.c files do not embed one). */
export function loadLlama2c(binPath: string, tokenizerPath?: string): ModelFiles {
  const fd = openOrThrow(binPath);
  let header: Llama2cHeader;
  let fileSize: number;
  try {
    fileSize = fs.fstatSync(fd).size;
    if (fileSize < LLAMA2C_HEADER_BYTES) {
      throw new ModelFileError(binPath, "header", `file is ${fileSize} bytes, too small for the ${LLAMA2C_HEADER_BYTES}-byte llama2.c header: truncated`);
    }
    const head = Buffer.alloc(LLAMA2C_HEADER_BYTES);
    fs.readSync(fd, head, 0, LLAMA2C_HEADER_BYTES, 0);
    header = parseLlama2cHeader(binPath, head);
  } finally {
    fs.closeSync(fd);
  }
  const { regions, totalBytes } = layout(header);
  if (fileSize !== totalBytes) {
    const h = header;
    throw new ModelFileError(binPath, "size",
      `expected ${totalBytes} bytes for this header (dim ${h.dim}, hidden_dim ${h.hiddenDim}, n_layers ${h.numLayers}, n_heads ${h.numHeads}, ` +
      `n_kv_heads ${h.numKvHeads}, vocab_size ${h.sharedClassifier ? "" : "-"}${h.vocabSize}, seq_len ${h.seqLen}), got ${fileSize}: ` +
      (fileSize < totalBytes ? "truncated" : "corrupt (trailing bytes)"));
  }
  if (tokenizerPath !== undefined && !fs.existsSync(tokenizerPath)) {
    throw new ModelFileError(tokenizerPath, "file", "no such file (the llama2.c tokenizer, e.g. tokenizer.bin)");
  }

  const byName = new Map(regions.map((r) => [r.name, r]));
  const loaded = new Map<string, WeightTensor>();
  const getTensor = (name: string): WeightTensor | undefined => {
    const hit = loaded.get(name);
    if (hit) return hit;
    const r = byName.get(name);
    if (!r) return undefined;
    const fd2 = openOrThrow(binPath);
    try {
      const data = readFileRegion(fd2, binPath, `tensor ${name} data`, r.fileOffset, r.byteLength);
      const t: WeightTensor = { name, type: GgmlType.F32, dims: r.dims, data };
      loaded.set(name, t);
      return t;
    } finally {
      fs.closeSync(fd2);
    }
  };

  return {
    path: binPath,
    format: "llama2c",
    config: configFromLlama2cHeader(header),
    getTensor,
    forgetTensor: (name: string) => { loaded.delete(name); },
    tensorInfos: regions.map((r) => ({ name: r.name, type: GgmlType.F32, dims: r.dims })),
    tokenizerSource: tokenizerPath !== undefined ? { kind: "llama2c", path: tokenizerPath } : undefined,
    chatTemplate: undefined,
    generationDefaults: {},
    info: { sharedClassifier: header.sharedClassifier },
  };
}

