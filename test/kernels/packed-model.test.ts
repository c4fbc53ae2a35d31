/**
 * Load-time packing end to end (packedModelFiles, as loadModel applies it): a Q8_0 model, and a
 * Q4_K_M one (Q4_K and Q6_K, the tied embedding Q6_K), whose matrices and token embedding are
 * packed (rows interleaved by 16, AVX-512 VNNI) compute the same logits as the same file in its
 * own layout on the native backend, for a prefill batch and for decode steps, and the files they
 * came from still read the file's bytes.
 *
 * Tolerance: max |diff| of a logits row <= 1e-4 of its std for Q8_0, whose packed kernel runs
 * the same int8 dots as the file layout's batched GEMM and sums them in its order (bit-equal from
 * 5 tokens; the one-token tiles differ by fp32 summation order, ~1e-7 relative). 0.1 of the std for
 * Q4_K_M: there every path of the file layout (one-token tiles, GEMM) and the packed kernels differ
 * by fp32 summation order, and an activation that lands on an int8 rounding boundary in one run and
 * not the other moves the logits of this random-weight model by up to ~5% of their std (measured:
 * the file layout's own tiles against its own GEMM differ that much). A wiring mistake (a matrix
 * read in the wrong layout) moves them by about their std.
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
import { GgmlType } from "../../src/quant/formats.js";

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

function assertClose(got: Float32Array, want: Float32Array, rowLen: number, what: string, tol = 1e-4): void {
  for (let r = 0; r * rowLen < want.length; r++) {
    const w = want.subarray(r * rowLen, (r + 1) * rowLen);
    const g = got.subarray(r * rowLen, (r + 1) * rowLen);
    const mean = w.reduce((a, b) => a + b, 0) / rowLen;
    const std = Math.sqrt(w.reduce((a, b) => a + (b - mean) ** 2, 0) / rowLen);
    let maxDiff = 0;
    for (let i = 0; i < rowLen; i++) maxDiff = Math.max(maxDiff, Math.abs((g[i] as number) - (w[i] as number)));
    assert.ok(maxDiff <= tol * std, `${what} row ${r}: max |diff| ${maxDiff}, std ${std}`);
  }
}

for (const type of ["q8_0", "q4_k_m"] as const) {
  test(`a packed ${type} model (tied embeddings) computes the file layout's logits, prefill and decode`, { skip }, async () => {
    const file = path.join(tmp, `tiny-qwen2-${type}.gguf`);
    await synthesize("tiny-qwen2", file, { type, seed: 3 });
    const native = createNativeBackend({ isa: "avx512vnni", threads: 2 }) as Backend;

    const plain = buildModel(openModelFiles(file), native);
    const inner = openModelFiles(file);
    const packedFiles = packedModelFiles(inner, native);
    const matrices = ["token_embd.weight", "blk.0.attn_k.weight", "blk.0.attn_v.weight", "blk.1.ffn_gate.weight", "blk.3.ffn_down.weight"];
    const types = new Set<number>();
    for (const name of matrices) {
      const t = packedFiles.getTensor(name);
      assert.equal(t?.packing, "x16", `${name} is packed`);
      types.add(t.type);
      // The inner files forgot their copy (its bytes are the packed ones now): a read gets the file's bytes.
      assert.equal(inner.getTensor(name)?.packing, undefined);
      assert.deepEqual(inner.getTensor(name)?.data, openModelFiles(file).getTensor(name)?.data, `${name} re-read from the file`);
    }
    assert.deepEqual([...types].sort((x, y) => x - y), type === "q8_0" ? [GgmlType.Q8_0] : [GgmlType.Q4_K, GgmlType.Q6_K]);
    assert.equal(packedFiles.getTensor("output_norm.weight")?.packing, undefined, "vectors are not packed");
    const packed = buildModel(packedFiles, native);

    const vocab = plain.config.vocabSize;
    const ids = Array.from({ length: 40 }, (_, i) => 10 + ((i * 37) % 3000));
    const tol = type === "q8_0" ? 1e-4 : 0.1;
    const a = run(plain, ids, 12);
    const b = run(packed, ids, 12);
    assertClose(b.prefill, a.prefill, vocab, "prefill (40 tokens)", tol);
    assert.deepEqual(b.tokens, a.tokens, "the same greedy tokens");
    b.decode.forEach((row, s) => assertClose(row, a.decode[s] as Float32Array, vocab, `decode step ${s}`, tol));
  });
}
