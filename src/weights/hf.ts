/**
 * A Hugging Face model directory as ModelFiles:
 *   config.json                      -> ModelConfig (hf-config.ts)
 *   model.safetensors, or shards model-0000i-of-0000n.safetensors (+ model.safetensors.index.json)
 *   tokenizer.json + tokenizer_config.json (chat_template), generation_config.json (sampling defaults)
 * Tensors keep their stored dtype (F32/F16/BF16) and are read lazily under their GGUF names.
 *
 * Q/K layout: HF Llama/Mistral checkpoints store each head's Q and K rows permuted so that HF's
 * rotate_half RoPE works ("neox": pairs (i, i + d/2)). Rotating halves on those rows is exactly
 * rotating adjacent pairs ("norm") on the Meta/GGUF rows, so the weights run as-is with
 * ropeStyle "neox" (no copy). `unpermuteQK` / `permuteQK` convert between the two layouts
 * (as convert_hf_to_gguf.py does) for writers and test fixtures. Qwen2 is NeoX in both worlds.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { InvalidArgumentError, ModelFileError, UnsupportedError } from "../errors.js";
import type { ModelConfig } from "../models/config.js";
import { typeName } from "../quant/formats.js";
import { configFromHfJson } from "./hf-config.js";
import type { GenerationDefaults, ModelFiles, TokenizerSource } from "./model-files.js";
import { readSafetensor, readSafetensors, unsupportedDtype, type SafetensorsFile, type SafetensorsTensorInfo } from "./safetensors.js";
import type { WeightTensor } from "./tensor.js";

// ---- tensor names ----

const LAYER_NAMES: Readonly<Record<string, string>> = {
  "self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v", "self_attn.o_proj": "attn_output",
  "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up", "mlp.down_proj": "ffn_down",
  "input_layernorm": "attn_norm", "post_attention_layernorm": "ffn_norm",
};
const GLOBAL_NAMES: Readonly<Record<string, string>> = {
  "model.embed_tokens.weight": "token_embd.weight",
  "model.norm.weight": "output_norm.weight",
  "lm_head.weight": "output.weight",
};

/** HF tensor name -> GGUF name, or undefined for tensors Fennec does not use (e.g. rotary_emb.inv_freq). */
export function hfToGgufName(name: string): string | undefined {
  const global = GLOBAL_NAMES[name];
  if (global !== undefined) return global;
  const m = /^model\.layers\.(\d+)\.(.+)\.(weight|bias)$/.exec(name);
  if (!m) return undefined;
  const part = LAYER_NAMES[m[2] ?? ""];
  return part === undefined ? undefined : `blk.${Number(m[1])}.${part}.${m[3] ?? ""}`;
}

/** GGUF name -> HF name (the inverse of hfToGgufName over the names it maps). */
export function ggufToHfName(name: string): string | undefined {
  for (const [hf, gguf] of Object.entries(GLOBAL_NAMES)) if (gguf === name) return hf;
  const m = /^blk\.(\d+)\.(\w+)\.(weight|bias)$/.exec(name);
  if (!m) return undefined;
  const part = Object.entries(LAYER_NAMES).find(([, g]) => g === m[2])?.[0];
  return part === undefined ? undefined : `model.layers.${m[1] ?? ""}.${part}.${m[3] ?? ""}`;
}

/** ggml dims each tensor must have under `c` (undefined: no fixed shape known). */
function expectedDims(name: string, c: ModelConfig): readonly number[] | undefined {
  const q = c.numHeads * c.headDim;
  const kv = c.numKvHeads * c.headDim;
  const table: Record<string, readonly number[]> = {
    "token_embd.weight": [c.dim, c.vocabSize], "output.weight": [c.dim, c.vocabSize], "output_norm.weight": [c.dim],
    "attn_norm.weight": [c.dim], "ffn_norm.weight": [c.dim],
    "attn_q.weight": [c.dim, q], "attn_k.weight": [c.dim, kv], "attn_v.weight": [c.dim, kv], "attn_output.weight": [q, c.dim],
    "attn_q.bias": [q], "attn_k.bias": [kv], "attn_v.bias": [kv],
    "ffn_gate.weight": [c.dim, c.hiddenDim], "ffn_up.weight": [c.dim, c.hiddenDim], "ffn_down.weight": [c.hiddenDim, c.dim],
  };
  return table[name.replace(/^blk\.\d+\./, "")];
}

function requiredNames(c: ModelConfig): string[] {
  const names = ["token_embd.weight", "output_norm.weight"];
  if (!c.tiedEmbeddings) names.push("output.weight");
  const perLayer = ["attn_norm.weight", "attn_q.weight", "attn_k.weight", "attn_v.weight", "attn_output.weight",
    "ffn_norm.weight", "ffn_gate.weight", "ffn_up.weight", "ffn_down.weight"];
  if (c.hasQkvBias) perLayer.push("attn_q.bias", "attn_k.bias", "attn_v.bias");
  for (let i = 0; i < c.numLayers; i++) for (const p of perLayer) names.push(`blk.${i}.${p}`);
  return names;
}

// ---- Q/K permutation ----

/**
 * Reorder the rows of each head of a Q or K weight (dims [in, out]) or bias (dims [out]).
 * Within a head of size d, Meta row 2i + j (j in {0, 1}) is HF row j * d/2 + i.
 */
function shuffleHeadRows(w: WeightTensor, numHeads: number, toHf: boolean): WeightTensor {
  if (w.dims.length < 1 || w.dims.length > 2) throw new InvalidArgumentError("w", `tensor ${w.name}: expected 1 or 2 dims, got [${w.dims.join(", ")}]`);
  const rows = w.dims[w.dims.length - 1] as number;
  if (!Number.isInteger(numHeads) || numHeads <= 0 || rows % (2 * numHeads) !== 0) {
    throw new InvalidArgumentError("numHeads", `tensor ${w.name}: ${rows} rows is not a multiple of 2 * numHeads (${numHeads})`);
  }
  const rowBytes = w.data.byteLength / rows;
  const headDim = rows / numHeads;
  const half = headDim / 2;
  const out = Buffer.allocUnsafeSlow(w.data.byteLength);
  for (let h = 0; h < numHeads; h++) {
    for (let i = 0; i < half; i++) {
      for (let j = 0; j < 2; j++) {
        const meta = h * headDim + 2 * i + j;
        const hf = h * headDim + j * half + i;
        const [src, dst] = toHf ? [meta, hf] : [hf, meta];
        out.set(w.data.subarray(src * rowBytes, (src + 1) * rowBytes), dst * rowBytes);
      }
    }
  }
  return { name: w.name, type: w.type, dims: w.dims, data: new Uint8Array(out.buffer, out.byteOffset, out.byteLength) };
}

/** Meta/GGUF Q/K layout -> HF rotate-half layout (HF's convert_llama_weights_to_hf `permute`). numHeads: n_head for Q, n_kv_head for K. */
export function permuteQK(w: WeightTensor, numHeads: number): WeightTensor {
  return shuffleHeadRows(w, numHeads, true);
}

/** HF rotate-half Q/K layout -> Meta/GGUF layout (convert_hf_to_gguf.py's `permute`). Exact inverse of permuteQK. */
export function unpermuteQK(w: WeightTensor, numHeads: number): WeightTensor {
  return shuffleHeadRows(w, numHeads, false);
}

// ---- files in the directory ----

/** Parse a JSON file; undefined if it does not exist (unless required). */
export function readJsonFile(file: string, required: boolean, why = ""): unknown {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT" && !required) return undefined;
    throw new ModelFileError(file, "file", code === "ENOENT" ? `missing${why}` : `cannot read (${code ?? String(e)})`);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new ModelFileError(file, "JSON", `not valid JSON (${(e as Error).message})`);
  }
}

interface Located {
  readonly hfName: string;
  readonly file: SafetensorsFile;
  readonly info: SafetensorsTensorInfo;
}

const INDEX_FILE = "model.safetensors.index.json";
const SHARD_RE = /^model-\d+-of-\d+\.safetensors$/;

/** Every tensor of the checkpoint by HF name, with the shard that holds it. */
function locateTensors(dir: string): { tensors: Map<string, Located>; numShards: number; source: string } {
  const tensors = new Map<string, Located>();
  const indexPath = path.join(dir, INDEX_FILE);
  const index = readJsonFile(indexPath, false);
  if (index !== undefined) {
    const weightMap = isRecord(index) ? index["weight_map"] : undefined;
    if (!isRecord(weightMap)) throw new ModelFileError(indexPath, "weight_map", "missing or not an object of tensor name -> shard file");
    const shards = new Map<string, SafetensorsFile>();
    for (const [name, shard] of Object.entries(weightMap)) {
      if (typeof shard !== "string" || path.basename(shard) !== shard || !shard.endsWith(".safetensors")) {
        throw new ModelFileError(indexPath, `weight_map.${name}`, `expected a .safetensors file name in this directory, got ${JSON.stringify(shard)}`);
      }
      let file = shards.get(shard);
      if (!file) {
        file = readSafetensors(path.join(dir, shard));
        shards.set(shard, file);
      }
      const info = file.tensors.find((t) => t.name === name);
      if (!info) throw new ModelFileError(indexPath, `weight_map.${name}`, `points to ${shard}, which has no tensor "${name}"`);
      tensors.set(name, { hfName: name, file, info });
    }
    return { tensors, numShards: shards.size, source: indexPath };
  }
  let entries: string[];
  try {
    entries = fs.readdirSync(dir).sort();
  } catch (e) {
    throw new ModelFileError(dir, "directory", `cannot list (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  const files = entries.includes("model.safetensors") ? ["model.safetensors"] : entries.filter((e) => SHARD_RE.test(e));
  if (files.length === 0) {
    const hasBin = entries.some((e) => /^pytorch_model.*\.bin$/.test(e));
    if (hasBin) throw new UnsupportedError(dir, "weights", "only PyTorch .bin weights found; Fennec reads safetensors (convert the checkpoint or use a GGUF)");
    throw new ModelFileError(dir, "weights", `no model.safetensors, ${INDEX_FILE} or model-*-of-*.safetensors shards found`);
  }
  for (const name of files) {
    const file = readSafetensors(path.join(dir, name));
    for (const info of file.tensors) {
      const prev = tensors.get(info.name);
      if (prev) throw new ModelFileError(file.path, `tensor ${info.name}`, `also in ${path.basename(prev.file.path)} (and no ${INDEX_FILE} to say which wins)`);
      tensors.set(info.name, { hfName: info.name, file, info });
    }
  }
  const source = files.length === 1 ? path.join(dir, files[0] as string) : path.join(dir, "model-*-of-*.safetensors");
  return { tensors, numShards: files.length, source };
}

function chatTemplate(dir: string, tokenizerConfig: unknown, configPath: string): string | undefined {
  const raw = isRecord(tokenizerConfig) ? tokenizerConfig["chat_template"] : undefined;
  if (typeof raw === "string") return raw;
  if (Array.isArray(raw)) {
    for (const item of raw) {
      if (!isRecord(item) || typeof item["name"] !== "string" || typeof item["template"] !== "string") {
        throw new ModelFileError(configPath, "chat_template", "expected a string or a list of {name, template}");
      }
    }
    const def = (raw as Record<string, unknown>[]).find((t) => t["name"] === "default");
    return def ? (def["template"] as string) : undefined;
  }
  if (raw !== undefined && raw !== null) throw new ModelFileError(configPath, "chat_template", "expected a string or a list of {name, template}");
  // Newer transformers save the template beside tokenizer_config.json.
  const jinja = path.join(dir, "chat_template.jinja");
  if (fs.existsSync(jinja)) return fs.readFileSync(jinja, "utf8");
  const jsonPath = path.join(dir, "chat_template.json");
  const json = readJsonFile(jsonPath, false);
  const t = isRecord(json) ? json["chat_template"] : undefined;
  return typeof t === "string" ? t : undefined;
}

function generationDefaults(file: string): GenerationDefaults {
  const json = readJsonFile(file, false);
  if (json === undefined) return {};
  if (!isRecord(json)) throw new ModelFileError(file, "generation_config", "expected a JSON object");
  const num = (key: string, integer = false): number | undefined => {
    const v = json[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== "number" || !Number.isFinite(v) || v < 0 || (integer && !Number.isInteger(v))) {
      throw new ModelFileError(file, key, `expected a non-negative ${integer ? "integer" : "number"}, got ${JSON.stringify(v)}`);
    }
    return v;
  };
  const out: { -readonly [K in keyof GenerationDefaults]: GenerationDefaults[K] } = {};
  const temperature = num("temperature");
  const topP = num("top_p");
  const topK = num("top_k", true);
  const minP = num("min_p");
  const repetitionPenalty = num("repetition_penalty");
  if (temperature !== undefined) out.temperature = temperature;
  if (topP !== undefined) out.topP = topP;
  if (topK !== undefined) out.topK = topK;
  if (minP !== undefined) out.minP = minP;
  if (repetitionPenalty !== undefined) out.repetitionPenalty = repetitionPenalty;
  const eos = json["eos_token_id"];
  if (eos !== undefined && eos !== null) {
    const ids = Array.isArray(eos) ? eos : [eos];
    if (!ids.every((x) => Number.isSafeInteger(x) && (x as number) >= 0)) {
      throw new ModelFileError(file, "eos_token_id", `expected a token id or a list of token ids, got ${JSON.stringify(eos)}`);
    }
    out.eosTokenIds = ids as number[];
  }
  return out;
}

/**
 * The checkpoint's tensors by GGUF name: unused ones dropped, dtypes and shapes checked against
 * the config, required ones present. `source` names the weights (index or file) in errors.
 */
function mapTensors(tensors: ReadonlyMap<string, Located>, config: ModelConfig, source: string, configName: string): Map<string, Located> {
  const byGguf = new Map<string, Located>();
  for (const loc of tensors.values()) {
    const name = hfToGgufName(loc.hfName);
    if (name === undefined) continue; // rotary_emb.inv_freq and other buffers Fennec does not use
    if (name === "output.weight" && config.tiedEmbeddings) continue;
    const layer = /^blk\.(\d+)\./.exec(name)?.[1];
    if (layer !== undefined && Number(layer) >= config.numLayers) continue;
    if (loc.info.type === undefined) throw unsupportedDtype(loc.file.path, loc.info);
    const want = expectedDims(name, config);
    if (want && (want.length !== loc.info.dims.length || want.some((d, i) => loc.info.dims[i] !== d))) {
      throw new ModelFileError(loc.file.path, `tensor ${loc.hfName} shape`,
        `expected [${[...want].reverse().join(", ")}] for ${configName}'s sizes, got [${loc.info.shape.join(", ")}]`);
    }
    byGguf.set(name, loc);
  }
  for (const name of requiredNames(config)) {
    if (!byGguf.has(name)) {
      throw new ModelFileError(source, `tensor ${ggufToHfName(name) ?? name}`, `missing (required by ${config.arch}; maps to ${name})`);
    }
  }
  return byGguf;
}

// ---- the loader ----

export function loadHfDirectory(dir: string): ModelFiles {
  if (!fs.statSync(dir, { throwIfNoEntry: false })?.isDirectory()) throw new ModelFileError(dir, "directory", "not a directory");
  const configPath = path.join(dir, "config.json");
  const json = readJsonFile(configPath, true, ": a Hugging Face model directory needs config.json");
  const baseConfig = configFromHfJson(json, configPath);
  const { tensors, numShards, source } = locateTensors(dir);
  // No lm_head.weight means the output projection is the embedding, whatever config.json says.
  const config: ModelConfig = Object.freeze({ ...baseConfig, tiedEmbeddings: baseConfig.tiedEmbeddings || !tensors.has("lm_head.weight") });

  const byGguf = mapTensors(tensors, config, source, path.basename(configPath));

  const loaded = new Map<string, WeightTensor>();
  const getTensor = (name: string): WeightTensor | undefined => {
    const hit = loaded.get(name);
    if (hit) return hit;
    const loc = byGguf.get(name);
    if (!loc) return undefined;
    const t = readSafetensor(loc.file, loc.info, name);
    loaded.set(name, t);
    return t;
  };

  const tokenizerPath = path.join(dir, "tokenizer.json");
  const tokenizerConfigPath = path.join(dir, "tokenizer_config.json");
  const tokenizerConfig = readJsonFile(tokenizerConfigPath, false);
  const tokenizerSource: TokenizerSource | undefined = fs.existsSync(tokenizerPath)
    ? { kind: "tokenizer.json", path: tokenizerPath, configPath: tokenizerConfig !== undefined ? tokenizerConfigPath : undefined }
    : undefined;

  const rawArchs = isRecord(json) ? json["architectures"] : undefined;
  const torchDtype = isRecord(json) ? json["torch_dtype"] ?? json["dtype"] : undefined;
  const types = [...new Set([...byGguf.values()].map((l) => typeName(l.info.type ?? 0)))];
  return {
    path: dir,
    format: "hf",
    config,
    getTensor,
    forgetTensor: (name: string) => { loaded.delete(name); },
    tensorInfos: [...byGguf].map(([name, l]) => ({ name, type: l.info.type ?? 0, dims: l.info.dims })),
    tokenizerSource,
    chatTemplate: chatTemplate(dir, tokenizerConfig, tokenizerConfigPath),
    generationDefaults: generationDefaults(path.join(dir, "generation_config.json")),
    info: {
      name: path.basename(path.resolve(dir)),
      hfArchitecture: Array.isArray(rawArchs) && typeof rawArchs[0] === "string" ? rawArchs[0] : "",
      ...(typeof torchDtype === "string" ? { torchDtype } : {}),
      weightTypes: types.join(", "),
      safetensorsFiles: numShards,
    },
  };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
