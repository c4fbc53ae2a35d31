/**
 * llama.cpp's tokenizer test suite (test-tokenizer-0): every `*.gguf.inp` / `*.gguf.out` pair in
 * shared/models/tokenizers is run against its vocabulary with addSpecial = false and
 * parseSpecial = false, and must give exactly the expected ids. Vocabularies found:
 *   ggml-vocab-X.gguf          for ggml-vocab-X.gguf.inp
 *   X/tokenizer.json (+config) for ggml-vocab-X.gguf.inp when there is no GGUF (qwen2)
 * plus llama2-tokenizer.bin and llama2-tokenizer.model on the llama-spm cases (same SentencePiece model).
 * Decoding must give the input back (after BOS, the SentencePiece prefix space is dropped).
 */
import { test } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { loadTokenizer, type Tokenizer } from "../../src/tokenizer/index.js";
import { readVocabCases, tok, tokenizersDir, type VocabCase } from "./tokenizer-fixtures.js";

interface Suite { readonly name: string; readonly vocabPath: string; readonly casesOf: string }

function suites(): Suite[] {
  const out: Suite[] = [];
  for (const f of fs.readdirSync(tokenizersDir).sort()) {
    const m = /^ggml-vocab-(.+)\.gguf\.inp$/.exec(f);
    if (!m) continue;
    const stem = f.slice(0, -".inp".length);
    const name = m[1] as string;
    if (fs.existsSync(tok(stem))) out.push({ name, vocabPath: tok(stem), casesOf: stem });
    else if (fs.existsSync(path.join(tokenizersDir, name, "tokenizer.json"))) out.push({ name: `${name} (tokenizer.json)`, vocabPath: path.join(tokenizersDir, name), casesOf: stem });
  }
  if (fs.existsSync(tok("ggml-vocab-llama-spm.gguf.inp"))) {
    // The same Llama-2 SentencePiece model, as a llama2.c export and as the original protobuf.
    if (fs.existsSync(tok("llama2-tokenizer.bin"))) out.push({ name: "llama2.c tokenizer.bin on llama-spm", vocabPath: tok("llama2-tokenizer.bin"), casesOf: "ggml-vocab-llama-spm.gguf" });
    if (fs.existsSync(tok("llama2-tokenizer.model"))) out.push({ name: "SentencePiece tokenizer.model on llama-spm", vocabPath: tok("llama2-tokenizer.model"), casesOf: "ggml-vocab-llama-spm.gguf" });
  }
  return out;
}

function failures(t: Tokenizer, cases: readonly VocabCase[]): string[] {
  const bad: string[] = [];
  for (const c of cases) {
    const got = t.encode(c.input, { addSpecial: false, parseSpecial: false });
    if (got.join(" ") !== c.expected.join(" ")) {
      bad.push(`case #${c.index} ${JSON.stringify(c.input)}\n    expected ${c.expected.join(" ")}\n    got      ${got.join(" ")}`);
    }
  }
  return bad;
}

const found = suites();

test("the llama.cpp case files are present", () => {
  assert.ok(found.length >= 5, `expected at least the llama-spm, gpt-2, qwen2, llama2.c and .model suites, found ${found.map((s) => s.name).join(", ")}`);
});

for (const s of found) {
  test(`vocab cases: ${s.name}`, () => {
    const cases = readVocabCases(tok(`${s.casesOf}.inp`), tok(`${s.casesOf}.out`));
    const t = loadTokenizer(s.vocabPath);
    const bad = failures(t, cases);
    assert.equal(bad.length, 0, `${bad.length} of ${cases.length} cases differ:\n  ${bad.join("\n  ")}`);
  });

  test(`round trip: ${s.name}`, () => {
    const cases = readVocabCases(tok(`${s.casesOf}.inp`), tok(`${s.casesOf}.out`));
    const t = loadTokenizer(s.vocabPath);
    if (t.kind === "wpm") return; // WordPiece lowercases and drops whitespace: not reversible
    for (const c of cases) {
      // With BOS (the default), the prefix space SentencePiece adds is dropped again.
      assert.equal(t.decode(t.encode(c.input), { skipSpecial: true }), c.input, `case #${c.index} ${JSON.stringify(c.input)}`);
      // Without BOS a SentencePiece sequence is a continuation: it keeps the prefix space.
      const bare = t.decode(t.encode(c.input, { addSpecial: false, parseSpecial: false }));
      const prefix: string = t.kind === "spm" && c.input.length > 0 ? " " : "";
      assert.equal(bare, prefix + c.input, `case #${c.index} without BOS`);
    }
  });
}

test("llama2.c tokenizer.bin and the llama-spm GGUF agree on ids, special ids and pieces", () => {
  const gguf = loadTokenizer(tok("ggml-vocab-llama-spm.gguf"));
  const bin = loadTokenizer(tok("llama2-tokenizer.bin"));
  assert.equal(bin.vocabSize, gguf.vocabSize);
  assert.equal(bin.bosId, gguf.bosId);
  assert.equal(bin.eosId, gguf.eosId);
  for (const id of [0, 1, 2, 3, 13, 259, 15043, 29871, 31999]) assert.equal(bin.tokenText(id), gguf.tokenText(id), `token ${id}`);
  const text = "<s>Hello</s> world\n\tcafé 🦙 <unk>";
  for (const parseSpecial of [true, false]) {
    assert.deepEqual(bin.encode(text, { parseSpecial }), gguf.encode(text, { parseSpecial }));
  }
});
