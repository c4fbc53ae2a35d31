// Weight memory: the per-model heap (shared 64 MiB chunks at 64-byte multiples, first fit; large tensors
// alone) and the native huge-page advice it relies on.
import { test } from "node:test";
import assert from "node:assert/strict";
import { allocWeightMemory, createWeightHeap } from "../../src/weights/file-io.js";
import { loadNativeAddon } from "../../src/backend/native/index.js";
import { readGguf, readTensors } from "../../src/weights/gguf.js";
import { stories } from "../helpers/paths.js";

const MiB = 1 << 20;

test("weight heap: small tensors share a chunk at disjoint offsets, 64-byte multiples", () => {
  const heap = createWeightHeap();
  const a = heap(100);
  const b = heap(3 * MiB + 5);
  const c = heap(1);
  assert.equal(a.byteLength, 100);
  assert.equal(b.byteLength, 3 * MiB + 5);
  assert.equal(c.byteLength, 1);
  assert.equal(a.buffer, b.buffer);
  assert.equal(b.buffer, c.buffer);
  for (const v of [a, b, c]) assert.equal(v.byteOffset % 64, 0);
  assert.equal(b.byteOffset - a.byteOffset, 128);
  assert.equal(c.byteOffset - b.byteOffset, 3 * MiB + 64);
  // Writes to one never show in another.
  a.fill(1);
  b.fill(2);
  c.fill(3);
  assert.ok(a.every((x) => x === 1) && b.every((x) => x === 2) && c[0] === 3);
});

test("weight heap: a tensor over 16 MiB gets its own allocation; a full chunk's tail is reused first-fit", () => {
  const heap = createWeightHeap();
  const big = heap(17 * MiB);
  assert.equal(big.byteLength, 17 * MiB);
  assert.equal(big.byteOffset, 0);
  const first = [heap(15 * MiB), heap(15 * MiB), heap(15 * MiB), heap(15 * MiB)];  // 60 MiB of chunk 1
  assert.ok(first.every((v) => v.buffer === first[0]?.buffer));
  assert.notEqual(first[0]?.buffer, big.buffer);
  const fifth = heap(15 * MiB);  // does not fit chunk 1's 4 MiB tail
  assert.notEqual(fifth.buffer, first[0]?.buffer);
  const small = heap(3 * MiB);  // fits chunk 1's tail: first fit
  assert.equal(small.buffer, first[0]?.buffer);
  assert.equal(small.byteOffset, (first[3]?.byteOffset ?? 0) + 15 * MiB);
});

test("weight heap: a model's tensors read through one heap equal the per-tensor reads", () => {
  const file = readGguf(stories("stories260K.gguf"));
  const heap = createWeightHeap();
  const shared = readTensors(file, file.tensors, heap);
  const alone = readTensors(file);
  assert.equal(shared.size, file.tensors.length);
  for (const [name, t] of shared) {
    const ref = alone.get(name);
    assert.ok(ref, name);
    assert.deepEqual(t.data, ref.data, name);
  }
  assert.equal(new Set([...shared.values()].map((t) => t.data.buffer)).size, 1);
});

const native = loadNativeAddon();
test("adviseHugePages advises the 2 MiB-aligned interior only", { skip: native.ok ? false : "native addon not built" }, () => {
  if (!native.ok) return;
  const { addon } = native;
  const mem = allocWeightMemory(7 * MiB);
  const advised = addon.adviseHugePages(mem);
  if (process.platform === "linux") {
    assert.ok(advised >= 4 * MiB && advised <= 6 * MiB, `advised ${advised}`);
    assert.equal(advised % (2 * MiB), 0);
  } else {
    assert.equal(advised, 0);
  }
  assert.equal(addon.adviseHugePages(new Uint8Array(MiB)), 0, "a buffer under 2 MiB has no aligned huge page");
  assert.throws(() => addon.adviseHugePages(new Float32Array(4) as unknown as Uint8Array), /adviseHugePages: buf must be a Uint8Array/);
});
