/**
 * Load-time packing end to end (packedModelFiles, as loadModel applies it): a Q8_0 model whose
 * matrices and tied token embedding are packed (rows interleaved by 16, AVX-512 VNNI) computes the
 * same logits as the same file in its own layout on the native backend, for a prefill batch and
 * for decode steps, and the files it came from still read the file's bytes.
 *
 * Tolerance: max |diff| <= 1e-4 of the row's std. Both run the same int8 dots on the same
 * activations; only the fp32 summation order differs (per block here, per 8-lane partial sums in
 * the one-token tiles of the file layout), ~1e-6 relative per product over 4 layers.
 */
import { after, test } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { createNativeBackend, loadNativeAddon } from "../../src/backend/native/index.js";
import { packedModelFiles } from "../../src/backend/pack-weights.js";
import type { Backend } from "../../src/backend/backend.js";
import { buildModel } from "../../src/models/registry.js";
import type { Model } from "../../src/models/llama.js";
import { synthesize } from "../../src/models/synth.js";
import { openModelFiles } from "../../src/weights/load.js";

const load = loadNativeAddon();
const skip = !load.ok ? "native addon not built" : !load.info.isas.includes("avx512vnni") ? "no AVX-512 VNNI: nothing is packed" : false;

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "fennec-packed-"));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** Logits of `ids` as one prefill (every row), then `steps` greedy decode tokens (one row each). */
function run(model: Model, ids: readonly number[], steps: number): { prefill: Float32Array; decode: Float32Array[]; tokens: number[] } {
  const kv = model.createKvCache(8, 16, "f32");
  const table = Int32Array.from({ length: 8 }, (_, i) => i);
  const positions = Int32Array.from(ids, (_, i) => i);
  const prefill = model.forward({
    tokenIds: Int32Array.from(ids), positions, slotMapping: positions,
    seqs: [{ queryStart: 0, queryLen: ids.length, contextLen: ids.length, blockTable: table }], logitIndices: positions,
  }, kv).slice();
  const vocab = model.config.vocabSize;
  const argmax = (row: Float32Array): number => row.reduce((best, v, i) => (v > (row[best] as number) ? i : best), 0);
  const tokens = [argmax(prefill.subarray((ids.length - 1) * vocab))];
  const decode: Float32Array[] = [];
  for (let s = 0; s < steps; s++) {
    const p = ids.length + s;
    const logits = model.forward({
      tokenIds: Int32Array.of(tokens[s] as number), positions: Int32Array.of(p), slotMapping: Int32Array.of(p),
      seqs: [{ queryStart: 0, queryLen: 1, contextLen: p + 1, blockTable: table }], logitIndices: Int32Array.of(0),
    }, kv).slice();
    decode.push(logits);
    tokens.push(argmax(logits));
  }
  return { prefill, decode, tokens };
}

function assertClose(got: Float32Array, want: Float32Array, rowLen: number, what: string): void {
  for (let r = 0; r * rowLen < want.length; r++) {
    const w = want.subarray(r * rowLen, (r + 1) * rowLen);
    const g = got.subarray(r * rowLen, (r + 1) * rowLen);
    const mean = w.reduce((a, b) => a + b, 0) / rowLen;
    const std = Math.sqrt(w.reduce((a, b) => a + (b - mean) ** 2, 0) / rowLen);
    let maxDiff = 0;
    for (let i = 0; i < rowLen; i++) maxDiff = Math.max(maxDiff, Math.abs((g[i] as number) - (w[i] as number)));
    assert.ok(maxDiff <= 1e-4 * std, `${what} row ${r}: max |diff| ${maxDiff}, std ${std}`);
  }
}

test("a packed Q8_0 model (tied embeddings) computes the file layout's logits, prefill and decode", { skip }, async () => {
  const file = path.join(tmp, "tiny-qwen2-q8_0.gguf");
  await synthesize("tiny-qwen2", file, { type: "q8_0", seed: 3 });
  const native = createNativeBackend({ isa: "avx512vnni", threads: 2 }) as Backend;

  const plain = buildModel(openModelFiles(file), native);
  const inner = openModelFiles(file);
  const packedFiles = packedModelFiles(inner, native);
  for (const name of ["token_embd.weight", "blk.0.attn_k.weight", "blk.3.ffn_down.weight"]) {
    assert.equal(packedFiles.getTensor(name)?.packing, "q8_0x16", `${name} is packed`);
    // The inner files forgot their copy (its bytes are the packed ones now): a read gets the file's bytes.
    assert.equal(inner.getTensor(name)?.packing, undefined);
    assert.deepEqual(inner.getTensor(name)?.data, openModelFiles(file).getTensor(name)?.data, `${name} re-read from the file`);
  }
  assert.equal(packedFiles.getTensor("output_norm.weight")?.packing, undefined, "vectors are not packed");
  const packed = buildModel(packedFiles, native);

  const vocab = plain.config.vocabSize;
  const ids = Array.from({ length: 40 }, (_, i) => 10 + ((i * 37) % 3000));
  const a = run(plain, ids, 12);
  const b = run(packed, ids, 12);
  assertClose(b.prefill, a.prefill, vocab, "prefill (40 tokens)");
  assert.deepEqual(b.tokens, a.tokens, "the same greedy tokens");
  b.decode.forEach((row, s) => assertClose(row, a.decode[s] as Float32Array, vocab, `decode step ${s}`));
});
