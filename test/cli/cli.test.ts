/**
 * The `fennec` command as a user runs it: bin/fennec.js on the built dist/ (npm test builds first).
 */
import { test } from "node:test";
import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { golden, repoRoot, sharedModels, stories } from "../helpers/paths.js";

const bin = path.join(repoRoot, "bin/fennec.js");
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "fennec-cli-"));

function fennec(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: "utf8" });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const continuation = fs.readFileSync(golden("stories260K_t0_n64_prompt_once_upon_a_time.txt"), "utf8")
  .replace(/\n$/, "").slice("Once upon a time".length);

test("run: GGUF greedy continuation on stdout (no prompt echo), speed on stderr", () => {
  const r = fennec("run", stories("stories260K.gguf"), "--prompt", "Once upon a time", "--max-tokens", "64", "--temperature", "0");
  assert.equal(r.code, 0, r.stderr);
  // The golden file is run.c's 64 steps counted from BOS (60 new tokens); 64 new tokens extend it.
  assert.ok(r.stdout.startsWith(continuation), r.stdout);
  assert.ok(r.stdout.length > continuation.length);
  assert.match(r.stderr, /prefill 5 tokens in [\d.]+ ms \([\d.]+ tok\/s\), decode 64 tokens in [\d.]+ ms \([\d.]+ tok\/s\)/);
});

test("run: llama2.c .bin with --tokenizer tok512.bin gives the same text", () => {
  const r = fennec("run", stories("stories260K.bin"), "--tokenizer", stories("tok512.bin"), "--prompt", "Once upon a time", "--max-tokens", "60", "--temperature", "0");
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, continuation);
});

test("run: same seed, same sampled text; other seed, other text", () => {
  const args = ["run", stories("stories260K.gguf"), "--prompt", "Once upon a time", "--max-tokens", "40", "--temperature", "1", "--top-k", "0", "--top-p", "1", "--min-p", "0"];
  const a = fennec(...args, "--seed", "7");
  const b = fennec(...args, "--seed", "7");
  const c = fennec(...args, "--seed", "8");
  assert.equal(a.code, 0, a.stderr);
  assert.equal(a.stdout, b.stdout);
  assert.notEqual(a.stdout, c.stdout);
});

test("info: architecture, parameters, tensor types, context, tokenizer, template", () => {
  const r = fennec("info", stories("stories260K.gguf"), "--json");
  assert.equal(r.code, 0, r.stderr);
  const info = JSON.parse(r.stdout) as Record<string, unknown>;
  assert.equal(info["architecture"], "llama");
  // 512*64 (embd) + 512*64 (output) + 64 (norm) + 5 * (4*64*64 ... ) computed from the tensor list:
  const perLayer = 64 * 64 + 64 * 32 * 2 + 64 * 64 + 3 * 64 * 172 + 2 * 64;
  assert.equal(info["parameters"], `${2 * 512 * 64 + 64 + 5 * perLayer} (${((2 * 512 * 64 + 64 + 5 * perLayer) / 1e3).toFixed(1)}K)`);
  assert.equal(info["tensor types"], "F32 x48");
  assert.equal(info["context length"], 128);
  assert.equal(info["tokenizer"], "SentencePiece-style BPE, 512 tokens");
  assert.equal(info["chat template"], "absent");
  const text = fennec("info", stories("stories260K.gguf"));
  assert.match(text.stdout, /^architecture\s+llama$/m);
});

test("tokenize: ids of a model's tokenizer and of a tokenizer file agree", () => {
  const a = fennec("tokenize", stories("stories260K.gguf"), "Once upon a time");
  const b = fennec("tokenize", stories("tok512.bin"), "Once upon a time");
  assert.equal(a.code, 0, a.stderr);
  assert.match(a.stdout, /^1( \d+)+\n$/);
  assert.equal(a.stdout, b.stdout);
  const q = fennec("tokenize", path.join(sharedModels, "tokenizers/qwen2/tokenizer.json"), "Hello world", "--no-special");
  assert.equal(q.stdout, "9707 1879\n");
});

// ---- bad input: one line naming the file and field, exit code 1, no stack trace ----

function expectUserError(r: ReturnType<typeof fennec>, pattern: RegExp): void {
  assert.equal(r.code, 1, `exit code (stderr: ${r.stderr})`);
  assert.equal(r.stdout, "");
  const lines = r.stderr.trimEnd().split("\n");
  assert.equal(lines.length, 1, `one line, got:\n${r.stderr}`);
  assert.doesNotMatch(r.stderr, /\n\s+at /);
  assert.match(lines[0] ?? "", pattern);
}

test("run --kv-cache-dtype: f32 gives run.c's text too; a bad name or q8_0 for stories260K's 8-wide heads is one line", () => {
  const r = fennec("run", stories("stories260K.gguf"), "--prompt", "Once upon a time", "--max-tokens", "60", "--temperature", "0", "--kv-cache-dtype", "f32");
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, continuation);
  expectUserError(fennec("run", stories("stories260K.gguf"), "--prompt", "x", "--kv-cache-dtype", "q4_0"),
    /^fennec: --kv-cache-dtype: expected f32, f16, q8_0, got "q4_0"$/);
  expectUserError(fennec("run", stories("stories260K.gguf"), "--prompt", "x", "--kv-cache-dtype", "q8_0"),
    /^fennec: kvCacheDtype: q8_0 stores blocks of 32 values within a head, but this model's headDim is 8 \(not a multiple of 32\): use f16/);
});

test("error: missing model file", () => {
  const p = path.join(tmp, "missing.gguf");
  expectUserError(fennec("run", p, "--prompt", "x"), new RegExp(`^fennec: ${p}: file: no such file or directory$`));
});

test("error: truncated GGUF", () => {
  const p = path.join(tmp, "trunc.gguf");
  fs.writeFileSync(p, fs.readFileSync(stories("stories260K.gguf")).subarray(0, 300000));
  expectUserError(fennec("run", p, "--prompt", "x"), new RegExp(`^fennec: ${p}: tensor [\\w.]+ data: .*truncated$`));
});

test("error: corrupt GGUF (garbage after the magic)", () => {
  const p = path.join(tmp, "corrupt.gguf");
  const b = fs.readFileSync(stories("stories260K.gguf"));
  b.fill(0xff, 8, 24); // tensor and kv counts
  fs.writeFileSync(p, b);
  expectUserError(fennec("info", p), new RegExp(`^fennec: ${p}: .*(corrupt|too large)`));
});

test("error: unsupported GGUF version", () => {
  const p = path.join(tmp, "v9.gguf");
  const b = fs.readFileSync(stories("stories260K.gguf"));
  b.writeUInt32LE(9, 4);
  fs.writeFileSync(p, b);
  expectUserError(fennec("run", p, "--prompt", "x"), /version: GGUF version 9 is not supported \(expected 1, 2 or 3\)$/);
});

test("error: unknown tensor type", () => {
  const p = path.join(tmp, "ttype.gguf");
  const b = fs.readFileSync(stories("stories260K.gguf"));
  // Find the first tensor info ("token_embd.weight") and corrupt its type field.
  const nameAt = b.indexOf("token_embd.weight");
  const typeAt = nameAt + "token_embd.weight".length + 4 + 2 * 8;
  b.writeUInt32LE(123, typeAt);
  fs.writeFileSync(p, b);
  expectUserError(fennec("run", p, "--prompt", "x"), /tensor token_embd.weight type: unknown ggml type 123$/);
});

test("error: unknown architecture", () => {
  const p = path.join(tmp, "arch.gguf");
  const b = fs.readFileSync(stories("stories260K.gguf"));
  const at = b.indexOf("general.architecture") + "general.architecture".length + 4 + 8;
  assert.equal(b.toString("latin1", at, at + 5), "llama");
  b.write("lluma", at, "latin1");
  fs.writeFileSync(p, b);
  expectUserError(fennec("run", p, "--prompt", "x"), /general.architecture: architecture "lluma" is not supported \(expected one of: llama, qwen2\)$/);
});

test("error: llama2.c checkpoint without a tokenizer", () => {
  expectUserError(fennec("run", stories("stories260K.bin"), "--prompt", "x"), /tokenizer: a llama2.c checkpoint has no tokenizer: pass --tokenizer tokenizer.bin$/);
});

test("error: bad flag values", () => {
  expectUserError(fennec("run", stories("stories260K.gguf"), "--prompt", "x", "--temperature", "hot"), /^fennec: --temperature: expected a number >= 0, got "hot"$/);
  expectUserError(fennec("run", stories("stories260K.gguf"), "--prompt", "x", "--top-p", "2"), /^fennec: --top-p: expected a number in \[0, 1\], got "2"$/);
  expectUserError(fennec("run", stories("stories260K.gguf")), /^fennec: --prompt: missing$/);
  expectUserError(fennec("run", stories("stories260K.gguf"), "--prompt", "x", "--bogus"), /^fennec: arguments: Unknown option '--bogus'/);
  expectUserError(fennec("serve", stories("stories260K.gguf"), "--quantize", "q9_9"), /^fennec: --quantize: unknown quantization type "q9_9" \(expected one of: .*q4_k_m/);
});
