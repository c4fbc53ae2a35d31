/**
 * A Hugging Face directory (config.json + sharded safetensors, Q/K in HF's rotate-half permutation)
 * made from stories260K gives the GGUF model's logits: the permutation is handled end to end.
 */
import { test } from "node:test";
import * as assert from "node:assert/strict";
import { buildStories260KHf, type HfDtype } from "../helpers/hf-fixture.js";
import { loadHfDirectory } from "../../src/weights/hf.js";
import { loadGgufModel } from "../../src/weights/gguf-model.js";
import { logitsOf } from "../helpers/forward.js";


// Tolerances: F32 is the same arithmetic on the same values (bit-identical expected, 1e-5 allowed);
// F16 / BF16 round every weight (10 / 7 mantissa bits), measured max deviations 0.017 / 0.10.
const cases: [HfDtype, number][] = [["F32", 1e-5], ["F16", 0.05], ["BF16", 0.3]];

for (const [dtype, tol] of cases) {
  test(`HF directory (${dtype}, 2 shards, permuted Q/K) gives the GGUF's logits within ${tol}`, () => {
    const fx = buildStories260KHf({ dtype, numShards: 2 });
    const hf = loadHfDirectory(fx.dir);
    assert.equal(hf.config.ropeStyle, "neox");
    const want = logitsOf(loadGgufModel(fx.ggufPath));
    const got = logitsOf(hf);
    let maxDiff = 0;
    for (let i = 0; i < want.length; i++) maxDiff = Math.max(maxDiff, Math.abs((got[i] as number) - (want[i] as number)));
    assert.ok(maxDiff <= tol, `max |diff| ${maxDiff} > ${tol}`);
  });
}
