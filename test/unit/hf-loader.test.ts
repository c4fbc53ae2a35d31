import { after, test } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { ggufToHfName, hfToGgufName, loadHfDirectory, permuteQK, unpermuteQK } from "../../src/weights/hf.js";
import { configFromHfJson } from "../../src/weights/hf-config.js";
import { writeSafetensors } from "../../src/weights/safetensors.js";
import { GgmlType } from "../../src/quant/formats.js";
import { ModelFileError, UnsupportedError } from "../../src/errors.js";
import type { WeightTensor } from "../../src/weights/tensor.js";
import { buildStories260KHf, encodeAs, hfNameOf, makeTempDir, shardFileName, writeHfDirectory, type HfTensor } from "../helpers/hf-fixture.js";
import { sharedModels } from "../helpers/paths.js";

const dirs: string[] = [];
const tempDir = (prefix: string): string => {
  const d = makeTempDir(prefix);
  dirs.push(d);
  return d;
};
after(() => { for (const d of dirs) fs.rmSync(d, { recursive: true, force: true }); });

/** A stories260K HF fixture in a temp dir that is removed after the tests. */
const fixture = (opts: Parameters<typeof buildStories260KHf>[0] = {}): ReturnType<typeof buildStories260KHf> =>
  buildStories260KHf({ dir: tempDir("fennec-hf-"), ...opts });

const isQk = (name: string): number | undefined => (/\.attn_q\./.test(name) ? 8 : /\.attn_k\./.test(name) ? 4 : undefined);
const same = (a: Uint8Array, b: Uint8Array): boolean => Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
const f32 = (t: WeightTensor): Float32Array => new Float32Array(t.data.buffer, t.data.byteOffset, t.data.byteLength / 4);

test("HF <-> GGUF tensor names", () => {
  assert.equal(hfToGgufName("model.embed_tokens.weight"), "token_embd.weight");
  assert.equal(hfToGgufName("model.norm.weight"), "output_norm.weight");
  assert.equal(hfToGgufName("lm_head.weight"), "output.weight");
  assert.equal(hfToGgufName("model.layers.12.self_attn.q_proj.weight"), "blk.12.attn_q.weight");
  assert.equal(hfToGgufName("model.layers.0.self_attn.k_proj.bias"), "blk.0.attn_k.bias");
  assert.equal(hfToGgufName("model.layers.3.self_attn.o_proj.weight"), "blk.3.attn_output.weight");
  assert.equal(hfToGgufName("model.layers.3.mlp.gate_proj.weight"), "blk.3.ffn_gate.weight");
  assert.equal(hfToGgufName("model.layers.3.mlp.up_proj.weight"), "blk.3.ffn_up.weight");
  assert.equal(hfToGgufName("model.layers.3.mlp.down_proj.weight"), "blk.3.ffn_down.weight");
  assert.equal(hfToGgufName("model.layers.3.input_layernorm.weight"), "blk.3.attn_norm.weight");
  assert.equal(hfToGgufName("model.layers.3.post_attention_layernorm.weight"), "blk.3.ffn_norm.weight");
  assert.equal(hfToGgufName("model.layers.0.self_attn.rotary_emb.inv_freq"), undefined);
  assert.equal(hfToGgufName("model.layers.0.mlp.experts.0.weight"), undefined);
  for (const n of ["token_embd.weight", "output.weight", "blk.7.attn_v.bias", "blk.7.ffn_down.weight", "blk.0.attn_norm.weight"]) {
    assert.equal(hfToGgufName(ggufToHfName(n) ?? ""), n);
  }
});

test("permuteQK / unpermuteQK: the exact rotate-half permutation and its inverse", () => {
  // One head of size 4, rows r0..r3 (Meta layout, pairs (r0,r1), (r2,r3)) -> HF halves [r0, r2 | r1, r3].
  const rows = (vals: number[], cols: number): WeightTensor => {
    const data = new Float32Array(vals.flatMap((v) => Array.from({ length: cols }, (_, c) => v * 10 + c)));
    return { name: "w", type: GgmlType.F32, dims: cols === 1 ? [vals.length] : [cols, vals.length], data: new Uint8Array(data.buffer) };
  };
  const w = rows([0, 1, 2, 3, 4, 5, 6, 7], 3); // 2 heads of 4, rows of 3 floats
  assert.deepEqual([...f32(permuteQK(w, 2))].filter((_, i) => i % 3 === 0), [0, 20, 10, 30, 40, 60, 50, 70]);
  assert.deepEqual([...f32(unpermuteQK(w, 2))].filter((_, i) => i % 3 === 0), [0, 20, 10, 30, 40, 60, 50, 70]);
  const w8 = rows([0, 1, 2, 3, 4, 5, 6, 7], 1); // a bias: 1 head of 8
  assert.deepEqual([...f32(permuteQK(w8, 1))], [0, 20, 40, 60, 10, 30, 50, 70]);
  assert.deepEqual([...f32(unpermuteQK(w8, 1))], [0, 40, 10, 50, 20, 60, 30, 70]);
  // Inverse pair on a real tensor, on raw bytes (any type).
  const { ggufTensors } = fixture({ numShards: 1 });
  const q = ggufTensors.get("blk.2.attn_q.weight");
  assert.ok(q);
  const p = permuteQK(q, 8);
  assert.ok(!same(p.data, q.data));
  assert.ok(same(unpermuteQK(p, 8).data, q.data));
  assert.ok(same(permuteQK(unpermuteQK(q, 8), 8).data, q.data));
  assert.deepEqual(p.dims, q.dims);
  assert.throws(() => permuteQK(q, 5), /numHeads: tensor blk\.2\.attn_q\.weight: 64 rows is not a multiple of 2 \* numHeads \(5\)/);
});

test("stories260K as a sharded HF directory (F32): config, names, Q/K permutation, shard resolution", () => {
  const fx = fixture({ numShards: 2 });
  assert.ok(fs.existsSync(path.join(fx.dir, shardFileName(0, 2))));
  assert.ok(fs.existsSync(path.join(fx.dir, shardFileName(1, 2))));
  const m = loadHfDirectory(fx.dir);
  assert.equal(m.format, "hf");
  assert.equal(m.path, fx.dir);
  assert.deepEqual({ ...m.config }, {
    arch: "llama", vocabSize: 512, dim: 64, hiddenDim: 172, numLayers: 5, numHeads: 8, numKvHeads: 4, headDim: 8,
    contextLength: 128, normEps: 1e-5, ropeTheta: 10000, ropeDim: 8, ropeStyle: "neox", ropeScaling: { type: "none" },
    tiedEmbeddings: true, hasQkvBias: false,
  });
  assert.equal(m.info["safetensorsFiles"], 2);
  assert.equal(m.info["hfArchitecture"], "LlamaForCausalLM");
  assert.equal(m.info["weightTypes"], "F32");
  assert.equal(m.tokenizerSource, undefined);
  assert.equal(m.chatTemplate, undefined);

  const expected = [...fx.ggufTensors.keys()].filter((n) => n !== "output.weight").sort();
  assert.deepEqual(m.tensorInfos.map((t) => t.name).sort(), expected, "GGUF names; inv_freq ignored; tied: no output.weight");
  const shardsSeen = new Set<string>();
  const index = JSON.parse(fs.readFileSync(path.join(fx.dir, "model.safetensors.index.json"), "utf8")) as { weight_map: Record<string, string> };
  for (const info of m.tensorInfos) {
    const ref = fx.ggufTensors.get(info.name);
    assert.ok(ref, info.name);
    assert.deepEqual(info.dims, ref.dims, info.name);
    const got = m.getTensor(info.name);
    assert.ok(got, info.name);
    assert.equal(got.name, info.name);
    assert.equal(got.type, GgmlType.F32);
    assert.deepEqual(got.dims, ref.dims, info.name);
    const heads = isQk(info.name);
    if (heads === undefined) {
      assert.ok(same(got.data, ref.data), `${info.name}: same bytes as the GGUF`);
    } else {
      assert.ok(!same(got.data, ref.data), `${info.name}: stored permuted (HF layout)`);
      assert.ok(same(got.data, permuteQK(ref, heads).data), `${info.name}: HF layout`);
      assert.ok(same(unpermuteQK(got, heads).data, ref.data), `${info.name}: unpermutes to the GGUF layout`);
    }
    assert.equal(m.getTensor(info.name), got, "cached");
    shardsSeen.add(index.weight_map[hfNameOf(info.name)] ?? "?");
  }
  assert.deepEqual([...shardsSeen].sort(), [shardFileName(0, 2), shardFileName(1, 2)]);
  assert.equal(m.getTensor("blk.0.rotary_emb.inv_freq"), undefined);
});

test("single model.safetensors, shards without an index, and an untied lm_head", () => {
  const single = fixture({ numShards: 1, untied: true });
  const m = loadHfDirectory(single.dir);
  assert.equal(m.config.tiedEmbeddings, false);
  assert.equal(m.info["safetensorsFiles"], 1);
  const out = m.getTensor("output.weight");
  const ref = single.ggufTensors.get("output.weight");
  assert.ok(out && ref);
  assert.ok(same(out.data, ref.data));

  // tie_word_embeddings true wins over a stored lm_head (the GGUF convention: no output.weight when tied).
  const tiedAnyway = fixture({ untied: true, configOverrides: { tie_word_embeddings: true } });
  const t = loadHfDirectory(tiedAnyway.dir);
  assert.equal(t.config.tiedEmbeddings, true);
  assert.equal(t.getTensor("output.weight"), undefined);

  // tie_word_embeddings false but no lm_head.weight: tied.
  const noHead = fixture({ configOverrides: { tie_word_embeddings: false } });
  assert.equal(loadHfDirectory(noHead.dir).config.tiedEmbeddings, true);

  const noIndex = fixture({ numShards: 3 });
  fs.rmSync(path.join(noIndex.dir, "model.safetensors.index.json"));
  const s = loadHfDirectory(noIndex.dir);
  assert.equal(s.info["safetensorsFiles"], 3);
  assert.equal(s.tensorInfos.length, 47);
  assert.ok(s.getTensor("blk.4.ffn_down.weight"));
});

test("F16 and BF16 checkpoints keep their type; values are the rounded F32 weights", () => {
  for (const dtype of ["F16", "BF16"] as const) {
    const fx = fixture({ dtype, numShards: 2 });
    const m = loadHfDirectory(fx.dir);
    assert.equal(m.info["weightTypes"], dtype);
    assert.equal(m.info["torchDtype"], dtype === "F16" ? "float16" : "bfloat16");
    for (const info of m.tensorInfos) {
      assert.equal(info.type, dtype === "F16" ? GgmlType.F16 : GgmlType.BF16);
      const got = m.getTensor(info.name);
      const ref = fx.ggufTensors.get(info.name);
      assert.ok(got && ref);
      const heads = isQk(info.name);
      const refHf = heads === undefined ? ref : permuteQK(ref, heads);
      assert.ok(same(got.data, encodeAs(f32(refHf), dtype)), `${dtype} ${info.name}`);
      assert.equal(got.data.byteLength, (ref.data.byteLength / 4) * 2);
    }
  }
});

// ---- Qwen2 and config.json parsing ----

const QWEN25_05B = {
  architectures: ["Qwen2ForCausalLM"], attention_dropout: 0.0, bos_token_id: 151643, eos_token_id: 151643, hidden_act: "silu",
  hidden_size: 896, initializer_range: 0.02, intermediate_size: 4864, max_position_embeddings: 32768, max_window_layers: 24,
  model_type: "qwen2", num_attention_heads: 14, num_hidden_layers: 24, num_key_value_heads: 2, rms_norm_eps: 1e-6,
  rope_theta: 1000000.0, sliding_window: 32768, tie_word_embeddings: true, torch_dtype: "bfloat16",
  transformers_version: "4.43.1", use_cache: true, use_sliding_window: false, vocab_size: 151936,
};

test("Qwen2 config.json (Qwen2.5-0.5B): qwen2 arch, QKV bias, tied, NeoX RoPE", () => {
  const c = configFromHfJson(QWEN25_05B, "config.json");
  assert.deepEqual({ ...c }, {
    arch: "qwen2", vocabSize: 151936, dim: 896, hiddenDim: 4864, numLayers: 24, numHeads: 14, numKvHeads: 2, headDim: 64,
    contextLength: 32768, normEps: 1e-6, ropeTheta: 1000000, ropeDim: 64, ropeStyle: "neox", ropeScaling: { type: "none" },
    tiedEmbeddings: true, hasQkvBias: true,
  });
  assert.equal(configFromHfJson({ ...QWEN25_05B, tie_word_embeddings: false }, "config.json").tiedEmbeddings, false);
  const noTie: Record<string, unknown> = { ...QWEN25_05B };
  delete noTie["tie_word_embeddings"];
  assert.equal(configFromHfJson(noTie, "config.json").tiedEmbeddings, false, "Qwen2Config default");
  const windowed = configFromHfJson({ ...QWEN25_05B, use_sliding_window: true, sliding_window: 4096 }, "config.json");
  assert.equal(windowed.contextLength, 4096);
});

test("Llama / Mistral config.json: defaults, head_dim, llama3 and linear rope scaling", () => {
  const llama32 = {
    architectures: ["LlamaForCausalLM"], model_type: "llama", hidden_size: 2048, intermediate_size: 8192, num_hidden_layers: 16,
    num_attention_heads: 32, num_key_value_heads: 8, head_dim: 64, max_position_embeddings: 131072, rms_norm_eps: 1e-5,
    rope_theta: 500000.0, vocab_size: 128256, tie_word_embeddings: true, hidden_act: "silu", attention_bias: false, mlp_bias: false,
    rope_scaling: { factor: 32.0, high_freq_factor: 4.0, low_freq_factor: 1.0, original_max_position_embeddings: 8192, rope_type: "llama3" },
  };
  const c = configFromHfJson(llama32, "config.json");
  assert.equal(c.arch, "llama");
  assert.equal(c.ropeStyle, "neox");
  assert.equal(c.headDim, 64);
  assert.equal(c.tiedEmbeddings, true);
  assert.deepEqual(c.ropeScaling, { type: "llama3", factor: 32, lowFreqFactor: 1, highFreqFactor: 4, originalContextLength: 8192 });
  const linear = configFromHfJson({ ...llama32, rope_scaling: { type: "linear", factor: 4 } }, "config.json");
  assert.deepEqual(linear.ropeScaling, { type: "linear", factor: 4 });
  assert.deepEqual(configFromHfJson({ ...llama32, rope_scaling: null }, "config.json").ropeScaling, { type: "none" });

  const minimal = { architectures: ["LlamaForCausalLM"], hidden_size: 64, intermediate_size: 172, num_hidden_layers: 2, num_attention_heads: 8, vocab_size: 32 };
  const d = configFromHfJson(minimal, "config.json");
  assert.equal(d.numKvHeads, 8);
  assert.equal(d.headDim, 8);
  assert.equal(d.ropeTheta, 10000);
  assert.equal(d.normEps, 1e-6);
  assert.equal(d.contextLength, 2048);
  assert.equal(d.tiedEmbeddings, false);

  const mistral = { ...minimal, architectures: ["MistralForCausalLM"], model_type: "mistral", max_position_embeddings: 32768, sliding_window: 4096 };
  assert.equal(configFromHfJson(mistral, "config.json").arch, "llama");
  assert.equal(configFromHfJson(mistral, "config.json").contextLength, 4096, "no sliding-window attention: clamp to the window");
  assert.equal(configFromHfJson({ ...mistral, sliding_window: null }, "config.json").contextLength, 32768);
  assert.equal(configFromHfJson({ ...minimal, architectures: undefined, model_type: "mistral" }, "config.json").arch, "llama");
});

test("config.json errors name the file, the field and the supported values", () => {
  const base = { architectures: ["LlamaForCausalLM"], hidden_size: 64, intermediate_size: 172, num_hidden_layers: 2, num_attention_heads: 8, vocab_size: 32 };
  const check = (json: unknown, re: RegExp, cls: typeof ModelFileError = ModelFileError): void => {
    assert.throws(() => configFromHfJson(json, "/m/config.json"), (e: unknown) => {
      assert.ok(e instanceof cls, String(e));
      assert.match(e.message, re);
      return true;
    });
  };
  check({ ...base, architectures: ["GPT2LMHeadModel"] },
    /^\/m\/config\.json: architectures: \["GPT2LMHeadModel"\] is not supported \(expected one of: LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM\)$/, UnsupportedError);
  check({ ...base, architectures: undefined, model_type: "gpt2" }, /config\.json: model_type: "gpt2" is not supported \(expected one of: llama, mistral, qwen2\)/, UnsupportedError);
  check({ ...base, architectures: undefined }, /config\.json: architectures: missing, and no model_type either/);
  check({ ...base, model_type: "qwen2" }, /config\.json: model_type: "qwen2" contradicts architectures/);
  check({ ...base, hidden_size: undefined }, /config\.json: hidden_size: missing \(expected a number\)/);
  check({ ...base, num_attention_heads: "8" }, /config\.json: num_attention_heads: expected a number, got "8"/);
  check({ ...base, num_hidden_layers: 2.5 }, /config\.json: num_hidden_layers: expected a positive integer, got 2.5/);
  check({ ...base, num_key_value_heads: 3 }, /config\.json: num_key_value_heads: num_attention_heads \(8\) must be a multiple/);
  check({ ...base, hidden_act: "gelu" }, /config\.json: hidden_act: "gelu" is not supported/, UnsupportedError);
  check({ ...base, attention_bias: true }, /config\.json: attention_bias: true/, UnsupportedError);
  check({ ...base, rope_scaling: { rope_type: "yarn", factor: 4 } }, /config\.json: rope_scaling\.rope_type: "yarn" is not supported/, UnsupportedError);
  check({ ...base, rope_scaling: { rope_type: "llama3", factor: 8 } }, /config\.json: rope_scaling\.low_freq_factor: missing/);
  check([1, 2], /config\.json: config: expected a JSON object/);
});

function qwenTinyTensors(layers: number, dim: number, heads: number, kvHeads: number, hidden: number, vocab: number): HfTensor[] {
  const hd = dim / heads;
  let seed = 1;
  const rnd = (n: number): Float32Array => new Float32Array(n).map(() => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32) - 0.5);
  const t = (name: string, shape: number[]): HfTensor => ({ name, shape, data: rnd(shape.reduce((a, b) => a * b, 1)) });
  const out: HfTensor[] = [t("model.embed_tokens.weight", [vocab, dim]), t("model.norm.weight", [dim])];
  for (let i = 0; i < layers; i++) {
    const p = `model.layers.${i}.`;
    out.push(
      t(p + "input_layernorm.weight", [dim]), t(p + "post_attention_layernorm.weight", [dim]),
      t(p + "self_attn.q_proj.weight", [heads * hd, dim]), t(p + "self_attn.q_proj.bias", [heads * hd]),
      t(p + "self_attn.k_proj.weight", [kvHeads * hd, dim]), t(p + "self_attn.k_proj.bias", [kvHeads * hd]),
      t(p + "self_attn.v_proj.weight", [kvHeads * hd, dim]), t(p + "self_attn.v_proj.bias", [kvHeads * hd]),
      t(p + "self_attn.o_proj.weight", [dim, heads * hd]),
      t(p + "mlp.gate_proj.weight", [hidden, dim]), t(p + "mlp.up_proj.weight", [hidden, dim]), t(p + "mlp.down_proj.weight", [dim, hidden]),
    );
  }
  return out;
}

const QWEN_TINY = { ...QWEN25_05B, hidden_size: 16, intermediate_size: 32, num_hidden_layers: 2, num_attention_heads: 2, num_key_value_heads: 1, vocab_size: 10 };

test("Qwen2 directory: biases mapped, tokenizer.json + chat template + generation defaults", () => {
  const dir = tempDir("fennec-hf-qwen-");
  const tensors = qwenTinyTensors(2, 16, 2, 1, 32, 10);
  const qwenTok = path.join(sharedModels, "tokenizers/qwen2");
  const tokenizerConfig = JSON.parse(fs.readFileSync(path.join(qwenTok, "tokenizer_config.json"), "utf8")) as Record<string, unknown>;
  writeHfDirectory(dir, {
    config: QWEN_TINY, tensors, dtype: "BF16", tokenizerConfig,
    tokenizerJson: path.join(qwenTok, "tokenizer.json"),
    generationConfig: { bos_token_id: 151643, do_sample: true, eos_token_id: [151645, 151643], pad_token_id: 151643,
      repetition_penalty: 1.1, temperature: 0.7, top_k: 20, top_p: 0.8, transformers_version: "4.37.0" },
  });
  const m = loadHfDirectory(dir);
  assert.equal(m.config.arch, "qwen2");
  assert.equal(m.config.hasQkvBias, true);
  assert.equal(m.config.tiedEmbeddings, true);
  const bias = m.getTensor("blk.1.attn_k.bias");
  assert.ok(bias);
  assert.deepEqual(bias.dims, [8]);
  assert.equal(bias.type, GgmlType.BF16);
  const src = tensors.find((t) => t.name === "model.layers.1.self_attn.k_proj.bias");
  assert.ok(src);
  assert.ok(same(bias.data, encodeAs(src.data, "BF16")), "Qwen2 Q/K are not permuted");
  assert.deepEqual(m.getTensor("blk.0.attn_q.weight")?.dims, [16, 16]);
  assert.deepEqual(m.getTensor("blk.0.attn_v.weight")?.dims, [16, 8]);
  assert.deepEqual(m.tokenizerSource, { kind: "tokenizer.json", path: path.join(dir, "tokenizer.json"), configPath: path.join(dir, "tokenizer_config.json") });
  assert.equal(m.chatTemplate, tokenizerConfig["chat_template"]);
  assert.match(m.chatTemplate ?? "", /<\|im_start\|>/);
  assert.deepEqual(m.generationDefaults, { temperature: 0.7, topP: 0.8, topK: 20, repetitionPenalty: 1.1, eosTokenIds: [151645, 151643] });

  // A missing bias is a missing required tensor for Qwen2.
  const noBias = tempDir("fennec-hf-qwen-nobias-");
  writeHfDirectory(noBias, { config: QWEN_TINY, tensors: tensors.filter((t) => t.name !== "model.layers.0.self_attn.v_proj.bias") });
  assert.throws(() => loadHfDirectory(noBias),
    /model\.safetensors: tensor model\.layers\.0\.self_attn\.v_proj\.bias: missing \(required by qwen2; maps to blk\.0\.attn_v\.bias\)/);
});

test("chat_template as a list of named templates takes \"default\"; chat_template.jinja; scalar eos", () => {
  const dir = tempDir("fennec-hf-tpl-");
  const tensors = qwenTinyTensors(2, 16, 2, 1, 32, 10);
  writeHfDirectory(dir, {
    config: QWEN_TINY, tensors,
    tokenizerConfig: { chat_template: [{ name: "tool_use", template: "T" }, { name: "default", template: "D" }] },
    generationConfig: { eos_token_id: 7, temperature: 0.6 },
  });
  let m = loadHfDirectory(dir);
  assert.equal(m.chatTemplate, "D");
  assert.equal(m.tokenizerSource, undefined, "no tokenizer.json");
  assert.deepEqual(m.generationDefaults, { temperature: 0.6, eosTokenIds: [7] });

  fs.writeFileSync(path.join(dir, "tokenizer_config.json"), JSON.stringify({ model_max_length: 100 }));
  fs.writeFileSync(path.join(dir, "chat_template.jinja"), "J");
  m = loadHfDirectory(dir);
  assert.equal(m.chatTemplate, "J");

  fs.writeFileSync(path.join(dir, "generation_config.json"), JSON.stringify({ temperature: "hot" }));
  assert.throws(() => loadHfDirectory(dir), /generation_config\.json: temperature: expected a non-negative number, got "hot"/);
  fs.writeFileSync(path.join(dir, "generation_config.json"), JSON.stringify({ eos_token_id: ["x"] }));
  assert.throws(() => loadHfDirectory(dir), /generation_config\.json: eos_token_id: expected a token id or a list of token ids/);
});

// ---- loader errors: each names the file and the field ----

const expectError = (fn: () => unknown, cls: typeof ModelFileError, ...res: RegExp[]): void => {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof cls, `expected ${cls.name}, got ${String(e)}`);
    for (const re of res) assert.match(e.message, re);
    return true;
  });
};

test("errors: missing config.json, not a directory, no weights, PyTorch-only weights", () => {
  const fx = fixture();
  fs.rmSync(path.join(fx.dir, "config.json"));
  expectError(() => loadHfDirectory(fx.dir), ModelFileError, /config\.json: file: missing: a Hugging Face model directory needs config\.json/);

  const nope = path.join(fx.dir, "does-not-exist");
  expectError(() => loadHfDirectory(nope), ModelFileError, /does-not-exist: directory: not a directory/);

  const empty = tempDir("fennec-hf-empty-");
  fs.writeFileSync(path.join(empty, "config.json"), JSON.stringify(fx.config));
  expectError(() => loadHfDirectory(empty), ModelFileError, /: weights: no model\.safetensors, model\.safetensors\.index\.json or model-\*-of-\*\.safetensors shards found/);
  fs.writeFileSync(path.join(empty, "pytorch_model.bin"), "x");
  expectError(() => loadHfDirectory(empty), UnsupportedError, /weights: only PyTorch \.bin weights found/);

  const badJson = fixture();
  fs.writeFileSync(path.join(badJson.dir, "config.json"), "{ not json");
  expectError(() => loadHfDirectory(badJson.dir), ModelFileError, /config\.json: JSON: not valid JSON/);
});

test("errors: unsupported architecture in config.json", () => {
  const fx = fixture({ configOverrides: { architectures: ["PhiForCausalLM"], model_type: undefined } });
  expectError(() => loadHfDirectory(fx.dir), UnsupportedError,
    new RegExp(`${escape(path.join(fx.dir, "config.json"))}: architectures: \\["PhiForCausalLM"\\] is not supported \\(expected one of: LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM\\)`));
});

test("errors: unsupported dtype names the shard, the tensor and the dtype", () => {
  const dir = tempDir("fennec-hf-f64-");
  const tensors = qwenTinyTensors(2, 16, 2, 1, 32, 10);
  writeHfDirectory(dir, { config: QWEN_TINY, tensors });
  // Rewrite with the norm stored as F64.
  writeSafetensors(path.join(dir, "model.safetensors"), tensors.map((t) => t.name === "model.norm.weight"
    ? { name: t.name, dtype: "F64", shape: t.shape, data: new Uint8Array(new Float64Array(t.data).buffer) }
    : { name: t.name, dtype: "F32", shape: t.shape, data: encodeAs(t.data, "F32") }));
  expectError(() => loadHfDirectory(dir), UnsupportedError,
    /model\.safetensors: tensor model\.norm\.weight dtype: F64 is not supported \(expected one of: F32, F16, BF16\)/);
});

test("errors: truncated shard, corrupt shard header, missing tensor, bad index, wrong shape", () => {
  const trunc = fixture({ numShards: 2 });
  const shard2 = path.join(trunc.dir, shardFileName(1, 2));
  fs.truncateSync(shard2, fs.statSync(shard2).size - 10);
  expectError(() => loadHfDirectory(trunc.dir), ModelFileError,
    new RegExp(`${escape(shard2)}: tensor [\\w.]+ data_offsets: .* outside the \\d+-byte data section .*truncated`));

  const corrupt = fixture({ numShards: 2 });
  const shard1 = path.join(corrupt.dir, shardFileName(0, 2));
  const fd = fs.openSync(shard1, "r+");
  fs.writeSync(fd, Buffer.from("{{{{"), 0, 4, 8);
  fs.closeSync(fd);
  expectError(() => loadHfDirectory(corrupt.dir), ModelFileError, new RegExp(`${escape(shard1)}: header JSON: not valid JSON`));

  // A tensor missing from both the shard and the index.
  const missing = fixture({ numShards: 1 });
  const mf = path.join(missing.dir, "model.safetensors");
  const stRead = fs.readFileSync(mf);
  const hdrLen = Number(stRead.readBigUInt64LE(0));
  const header = JSON.parse(stRead.subarray(8, 8 + hdrLen).toString("utf8")) as Record<string, unknown>;
  delete header["model.layers.3.mlp.up_proj.weight"];
  const newHeader = Buffer.from(JSON.stringify(header));
  const newLen = Buffer.alloc(8);
  newLen.writeBigUInt64LE(BigInt(newHeader.length));
  fs.writeFileSync(mf, Buffer.concat([newLen, newHeader, stRead.subarray(8 + hdrLen)]));
  expectError(() => loadHfDirectory(missing.dir), ModelFileError,
    new RegExp(`${escape(mf)}: tensor model\\.layers\\.3\\.mlp\\.up_proj\\.weight: missing \\(required by llama; maps to blk\\.3\\.ffn_up\\.weight\\)`));

  // The index points at a tensor its shard does not have.
  const badIndex = fixture({ numShards: 2 });
  const indexPath = path.join(badIndex.dir, "model.safetensors.index.json");
  const index = JSON.parse(fs.readFileSync(indexPath, "utf8")) as { weight_map: Record<string, string> };
  const movedName = Object.keys(index.weight_map).find((n) => index.weight_map[n] === shardFileName(0, 2));
  assert.ok(movedName);
  index.weight_map[movedName] = shardFileName(1, 2);
  fs.writeFileSync(indexPath, JSON.stringify(index));
  expectError(() => loadHfDirectory(badIndex.dir), ModelFileError,
    new RegExp(`${escape(indexPath)}: weight_map\\.${escape(movedName)}: points to ${escape(shardFileName(1, 2))}, which has no tensor`));
  index.weight_map[movedName] = "../../etc/passwd.safetensors";
  fs.writeFileSync(indexPath, JSON.stringify(index));
  expectError(() => loadHfDirectory(badIndex.dir), ModelFileError, /weight_map\.[\w.]+: expected a \.safetensors file name in this directory/);

  // Dropped from the index only: still missing (the index is authoritative).
  const dropped = fixture({ numShards: 2 });
  const droppedIndex = path.join(dropped.dir, "model.safetensors.index.json");
  const di = JSON.parse(fs.readFileSync(droppedIndex, "utf8")) as { weight_map: Record<string, string> };
  delete di.weight_map["model.norm.weight"];
  fs.writeFileSync(droppedIndex, JSON.stringify(di));
  expectError(() => loadHfDirectory(dropped.dir), ModelFileError,
    new RegExp(`${escape(droppedIndex)}: tensor model\\.norm\\.weight: missing`));

  // config.json sizes that do not match the weights.
  const wrong = fixture({ configOverrides: { intermediate_size: 160 } });
  expectError(() => loadHfDirectory(wrong.dir), ModelFileError,
    /model\.safetensors: tensor model\.layers\.0\.mlp\.\w+_proj\.weight shape: expected \[\d+, \d+\] for config\.json's sizes, got \[\d+, \d+\]/);
});

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
