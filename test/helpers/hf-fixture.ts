/**
 * Hugging Face model directories for tests, written into temp dirs:
 *  - `writeHfDirectory`: any config.json + HF-named F32 tensors, stored as F32/F16/BF16, in one
 *    model.safetensors or n shards with model.safetensors.index.json;
 *  - `buildStories260KHf`: stories260K.gguf re-exported the way HF stores Llama checkpoints
 *    (row-major shapes, Q/K permuted to the rotate-half layout), so an HF load must reproduce the
 *    GGUF model's logits exactly (F32) when run with ropeStyle "neox".
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { readGguf, readTensors } from "../../src/weights/gguf.js";
import { permuteQK } from "../../src/weights/hf.js";
import { writeSafetensors, type SafetensorsWriteTensor } from "../../src/weights/safetensors.js";
import { f32ToBf16Array, f32ToF16Array } from "../../src/quant/half.js";
import { GgmlType } from "../../src/quant/formats.js";
import type { WeightTensor } from "../../src/weights/tensor.js";
import { stories } from "./paths.js";

export type HfDtype = "F32" | "F16" | "BF16";

export interface HfTensor {
  /** HF name, e.g. "model.layers.0.self_attn.q_proj.weight". */
  readonly name: string;
  /** Row-major shape ([out, in] for a linear weight). */
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

export interface HfDirectoryOptions {
  readonly config: Readonly<Record<string, unknown>>;
  readonly tensors: readonly HfTensor[];
  /** Storage dtype of every tensor (default F32). */
  readonly dtype?: HfDtype;
  /** 1 (default): model.safetensors; n > 1: model-0000i-of-0000n.safetensors + index. */
  readonly numShards?: number;
  readonly tokenizerConfig?: Readonly<Record<string, unknown>>;
  readonly generationConfig?: Readonly<Record<string, unknown>>;
  /** tokenizer.json: a path to copy, or an object to write. */
  readonly tokenizerJson?: string | Readonly<Record<string, unknown>>;
}

export function makeTempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** F32 values -> little-endian bytes of `dtype` (16-bit types rounded to nearest even). */
export function encodeAs(data: Float32Array, dtype: HfDtype): Uint8Array {
  if (dtype === "F32") return new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
  const out = new Uint8Array(2 * data.length);
  (dtype === "F16" ? f32ToF16Array : f32ToBf16Array)(data, data.length, out);
  return out;
}

export function shardFileName(i: number, n: number): string {
  return `model-${String(i + 1).padStart(5, "0")}-of-${String(n).padStart(5, "0")}.safetensors`;
}

/** Write an HF model directory into `dir` (created if needed). */
export function writeHfDirectory(dir: string, opts: HfDirectoryOptions): void {
  fs.mkdirSync(dir, { recursive: true });
  const dtype = opts.dtype ?? "F32";
  const numShards = opts.numShards ?? 1;
  fs.writeFileSync(path.join(dir, "config.json"), JSON.stringify({ torch_dtype: torchDtype(dtype), ...opts.config }, null, 2));
  const encoded: SafetensorsWriteTensor[] = opts.tensors.map((t) => ({ name: t.name, dtype, shape: t.shape, data: encodeAs(t.data, dtype) }));
  if (numShards === 1) {
    writeSafetensors(path.join(dir, "model.safetensors"), encoded, { format: "pt" });
  } else {
    const perShard = Math.ceil(encoded.length / numShards);
    const weightMap: Record<string, string> = {};
    let totalSize = 0;
    for (let i = 0; i < numShards; i++) {
      const part = encoded.slice(i * perShard, (i + 1) * perShard);
      const file = shardFileName(i, numShards);
      writeSafetensors(path.join(dir, file), part, { format: "pt" });
      for (const t of part) {
        weightMap[t.name] = file;
        totalSize += t.data.byteLength;
      }
    }
    const index = { metadata: { total_size: totalSize }, weight_map: weightMap };
    fs.writeFileSync(path.join(dir, "model.safetensors.index.json"), JSON.stringify(index, null, 2));
  }
  if (opts.tokenizerConfig) fs.writeFileSync(path.join(dir, "tokenizer_config.json"), JSON.stringify(opts.tokenizerConfig, null, 2));
  if (opts.generationConfig) fs.writeFileSync(path.join(dir, "generation_config.json"), JSON.stringify(opts.generationConfig, null, 2));
  if (typeof opts.tokenizerJson === "string") fs.copyFileSync(opts.tokenizerJson, path.join(dir, "tokenizer.json"));
  else if (opts.tokenizerJson) fs.writeFileSync(path.join(dir, "tokenizer.json"), JSON.stringify(opts.tokenizerJson));
}

function torchDtype(dtype: HfDtype): string {
  return dtype === "F32" ? "float32" : dtype === "F16" ? "float16" : "bfloat16";
}

export function f32View(t: WeightTensor): Float32Array {
  if (t.type !== GgmlType.F32) throw new Error(`${t.name}: expected an F32 tensor`);
  const copy = t.data.byteOffset % 4 === 0 ? t.data : t.data.slice();
  return new Float32Array(copy.buffer, copy.byteOffset, copy.byteLength / 4);
}

/**
 * GGUF name -> HF name, spelled out independently of the loader's table (so a fixture built with it
 * checks the loader's mapping instead of mirroring it).
 */
export function hfNameOf(ggufName: string): string {
  const globals: Record<string, string> = {
    "token_embd.weight": "model.embed_tokens.weight", "output_norm.weight": "model.norm.weight", "output.weight": "lm_head.weight",
  };
  const perLayer: Record<string, string> = {
    attn_norm: "input_layernorm", ffn_norm: "post_attention_layernorm",
    attn_q: "self_attn.q_proj", attn_k: "self_attn.k_proj", attn_v: "self_attn.v_proj", attn_output: "self_attn.o_proj",
    ffn_gate: "mlp.gate_proj", ffn_up: "mlp.up_proj", ffn_down: "mlp.down_proj",
  };
  const g = globals[ggufName];
  if (g !== undefined) return g;
  const m = /^blk\.(\d+)\.(\w+)\.(weight|bias)$/.exec(ggufName);
  const part = m ? perLayer[m[2] ?? ""] : undefined;
  if (!m || part === undefined) throw new Error(`no HF name for ${ggufName}`);
  return `model.layers.${m[1] ?? ""}.${part}.${m[3] ?? ""}`;
}

export interface Stories260KHfOptions {
  /** Target directory (default: a fresh temp dir). */
  readonly dir?: string;
  readonly dtype?: HfDtype;
  readonly numShards?: number;
  /** Write lm_head.weight (from the GGUF's output.weight) and tie_word_embeddings false. Default: tied, no lm_head. */
  readonly untied?: boolean;
  /** Also store a `rotary_emb.inv_freq` buffer per layer (old checkpoints do; loaders must ignore it). Default true. */
  readonly withInvFreq?: boolean;
  /** Config keys to override / add. */
  readonly configOverrides?: Readonly<Record<string, unknown>>;
  readonly tokenizerConfig?: Readonly<Record<string, unknown>>;
  readonly generationConfig?: Readonly<Record<string, unknown>>;
}

export interface Stories260KHf {
  readonly dir: string;
  readonly ggufPath: string;
  readonly config: Readonly<Record<string, unknown>>;
  /** The GGUF tensors the fixture was made from, by GGUF name. */
  readonly ggufTensors: ReadonlyMap<string, WeightTensor>;
}

/** Re-export stories260K.gguf as an HF LlamaForCausalLM directory (Q/K permuted as HF stores them). */
export function buildStories260KHf(opts: Stories260KHfOptions = {}): Stories260KHf {
  const ggufPath = stories("stories260K.gguf");
  const file = readGguf(ggufPath);
  const ggufTensors = readTensors(file);
  const meta = (k: string): number => {
    const v = file.metadata.get(`llama.${k}`);
    if (typeof v !== "number") throw new Error(`stories260K.gguf: llama.${k} missing`);
    return v;
  };
  const numHeads = meta("attention.head_count");
  const numKvHeads = meta("attention.head_count_kv");
  const embd = ggufTensors.get("token_embd.weight");
  if (!embd) throw new Error("stories260K.gguf: no token_embd.weight");
  const config: Record<string, unknown> = {
    architectures: ["LlamaForCausalLM"],
    model_type: "llama",
    hidden_size: meta("embedding_length"),
    intermediate_size: meta("feed_forward_length"),
    num_hidden_layers: meta("block_count"),
    num_attention_heads: numHeads,
    num_key_value_heads: numKvHeads,
    max_position_embeddings: meta("context_length"),
    rms_norm_eps: 1e-5,
    rope_theta: 10000,
    vocab_size: embd.dims[1],
    hidden_act: "silu",
    tie_word_embeddings: opts.untied !== true,
    bos_token_id: 1,
    eos_token_id: 2,
    ...opts.configOverrides,
  };

  const tensors: HfTensor[] = [];
  for (const [name, t] of ggufTensors) {
    if (name === "output.weight" && opts.untied !== true) continue;
    const hfName = hfNameOf(name);
    let w = t;
    if (/\.attn_q\./.test(name)) w = permuteQK(t, numHeads);
    if (/\.attn_k\./.test(name)) w = permuteQK(t, numKvHeads);
    tensors.push({ name: hfName, shape: [...t.dims].reverse(), data: f32View(w) });
  }
  if (opts.withInvFreq !== false) {
    const headDim = Number(config["hidden_size"]) / numHeads;
    const inv = new Float32Array(headDim / 2).map((_, j) => Math.pow(10000, (-2 * j) / headDim));
    for (let i = 0; i < Number(config["num_hidden_layers"]); i++) {
      tensors.push({ name: `model.layers.${i}.self_attn.rotary_emb.inv_freq`, shape: [headDim / 2], data: inv });
    }
  }
  const dir = opts.dir ?? makeTempDir("fennec-hf-stories-");
  writeHfDirectory(dir, {
    config,
    tensors,
    ...(opts.dtype ? { dtype: opts.dtype } : {}),
    ...(opts.numShards ? { numShards: opts.numShards } : {}),
    ...(opts.tokenizerConfig ? { tokenizerConfig: opts.tokenizerConfig } : {}),
    ...(opts.generationConfig ? { generationConfig: opts.generationConfig } : {}),
  });
  return { dir, ggufPath, config, ggufTensors };
}
