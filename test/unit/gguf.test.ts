import { test } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { GgufValueType, readGguf, readTensors } from "../../src/weights/gguf.js";
import { kv, metadataEntries, writeGguf, type GgufKv } from "../../src/weights/gguf-writer.js";
import { loadGgufModel } from "../../src/weights/gguf-model.js";
import { GgmlType } from "../../src/quant/formats.js";
import type { WeightTensor } from "../../src/weights/tensor.js";
import { ModelFileError, UnsupportedError } from "../../src/errors.js";
import { stories } from "../helpers/paths.js";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "fennec-gguf-"));
const tmpFile = (name: string): string => path.join(tmp, name);

test("reads stories260K.gguf (v3): metadata, tensor infos, alignment, offsets", () => {
  const f = readGguf(stories("stories260K.gguf"));
  assert.equal(f.version, 3);
  assert.equal(f.alignment, 32);
  assert.equal(f.dataOffset % 32, 0);
  assert.equal(f.metadata.get("general.architecture"), "llama");
  assert.equal(f.metadata.get("llama.embedding_length"), 64);
  assert.equal(f.metadata.get("llama.block_count"), 5);
  assert.equal(f.metadataTypes.get("tokenizer.ggml.scores"), GgufValueType.FLOAT32);
  assert.equal((f.metadata.get("tokenizer.ggml.tokens") as string[]).length, 512);
  assert.equal(f.tensors.length, 48);
  const embd = f.tensors.find((t) => t.name === "token_embd.weight");
  assert.deepEqual(embd?.dims, [64, 512]);
  assert.equal(embd?.byteLength, 64 * 512 * 4);
  // Tensors are laid out back to back, each at an aligned offset inside the file.
  for (const t of f.tensors) {
    assert.equal((t.fileOffset - f.dataOffset) % 32, 0);
    assert.ok(t.fileOffset + t.byteLength <= f.fileSize);
  }
});

test("reads the GGUF v1 file: same weights as the v3 file", () => {
  const v1 = readGguf(stories("stories260K.ggufv1.gguf"));
  const v3 = readGguf(stories("stories260K.gguf"));
  assert.equal(v1.version, 1);
  assert.equal(v1.metadata.get("general.name"), "tinyllamas-stories-260k");
  assert.equal(v1.tensors.length, v3.tensors.length);
  const a = readTensors(v1);
  const b = readTensors(v3);
  for (const [name, t] of b) assert.deepEqual(Buffer.from(a.get(name)?.data ?? []), Buffer.from(t.data), name);
});

test("writer -> reader round trip of every metadata value type and tensor type sizes", () => {
  const meta: GgufKv[] = [
    { key: "u8", type: GgufValueType.UINT8, value: 255 },
    { key: "i8", type: GgufValueType.INT8, value: -128 },
    { key: "u16", type: GgufValueType.UINT16, value: 65535 },
    { key: "i16", type: GgufValueType.INT16, value: -32768 },
    { key: "u32", type: GgufValueType.UINT32, value: 4294967295 },
    { key: "i32", type: GgufValueType.INT32, value: -2147483648 },
    { key: "f32", type: GgufValueType.FLOAT32, value: 0.5 },
    { key: "f64", type: GgufValueType.FLOAT64, value: Math.PI },
    { key: "u64.small", type: GgufValueType.UINT64, value: 12345 },
    { key: "u64.big", type: GgufValueType.UINT64, value: 18446744073709551615n },
    { key: "i64", type: GgufValueType.INT64, value: -9007199254740993n },
    { key: "bool", type: GgufValueType.BOOL, value: true },
    { key: "str", type: GgufValueType.STRING, value: "héllo ▁ 🦊" },
    kv.strs("arr.str", ["a", "", "▁b"]),
    kv.i32s("arr.i32", [1, -2, 3]),
    { key: "arr.nested", type: GgufValueType.ARRAY, arrayType: GgufValueType.ARRAY, value: [[1, 2], [3]] },
  ];
  // Nested arrays carry their own element type per element: write them by hand through the same path.
  const nestedSafe = meta.filter((m) => m.key !== "arr.nested");
  const tensors = [
    { name: "a", type: GgmlType.F32, dims: [3, 2], data: new Uint8Array(24).fill(1) },
    { name: "b", type: GgmlType.Q8_0, dims: [64], data: new Uint8Array(68).fill(2) },
    { name: "c", type: GgmlType.Q4_K, dims: [256, 2], data: new Uint8Array(288).fill(3) },
  ];
  const p = tmpFile("roundtrip.gguf");
  writeGguf(p, { metadata: nestedSafe, tensors });
  const f = readGguf(p);
  for (const m of nestedSafe) {
    assert.deepEqual(f.metadata.get(m.key), m.value, m.key);
    assert.equal(f.metadataTypes.get(m.key), m.arrayType ?? m.type, m.key);
  }
  const back = readTensors(f);
  for (const t of tensors) {
    const r = back.get(t.name);
    assert.deepEqual(r?.dims, t.dims);
    assert.equal(r?.type, t.type);
    assert.deepEqual(Buffer.from(r?.data ?? []), Buffer.from(t.data));
  }
  // Re-writing what was read gives the same metadata (used when quantizing a model).
  const p2 = tmpFile("rewrite.gguf");
  writeGguf(p2, { metadata: metadataEntries(f), tensors: [...back.values()] });
  assert.deepEqual([...readGguf(p2).metadata], [...f.metadata]);
});

// ---- bad files: each error names the file, the field and what was expected ----

function expectError(fn: () => unknown, file: string, pattern: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof ModelFileError, `expected ModelFileError, got ${String(e)}`);
    assert.ok(e.message.startsWith(file + ": "), `message should start with the file name: ${e.message}`);
    assert.match(e.message, pattern);
    assert.ok(!e.message.includes("\n"), "one line");
    return true;
  });
}

const good = fs.readFileSync(stories("stories260K.gguf"));

test("missing file", () => {
  expectError(() => readGguf(tmpFile("nope.gguf")), tmpFile("nope.gguf"), /file: cannot open: ENOENT/);
});

test("not a GGUF file: bad magic", () => {
  const p = tmpFile("notgguf.gguf");
  fs.writeFileSync(p, "GGML" + "\0".repeat(64));
  expectError(() => readGguf(p), p, /magic: expected "GGUF", got "GGML"/);
});

test("truncated in the header", () => {
  const p = tmpFile("trunc-header.gguf");
  fs.writeFileSync(p, good.subarray(0, 5000));
  expectError(() => readGguf(p), p, /truncated/);
});

test("truncated in the tensor data", () => {
  const p = tmpFile("trunc-data.gguf");
  fs.writeFileSync(p, good.subarray(0, good.length - 1000));
  expectError(() => readGguf(p), p, /tensor [\w.]+ data: .*run past the end of the file.*truncated/);
});

test("unsupported GGUF version", () => {
  const p = tmpFile("v4.gguf");
  const b = Buffer.from(good);
  b.writeUInt32LE(4, 4);
  fs.writeFileSync(p, b);
  expectError(() => readGguf(p), p, /version: GGUF version 4 is not supported \(expected 1, 2 or 3\)/);
});

test("big-endian GGUF is refused clearly", () => {
  const p = tmpFile("be.gguf");
  const b = Buffer.from(good);
  b.writeUInt32BE(3, 4);
  fs.writeFileSync(p, b);
  expectError(() => readGguf(p), p, /big-endian/);
});

test("corrupt string length", () => {
  const p = tmpFile("badstr.gguf");
  const b = Buffer.from(good);
  // First metadata key's length (u64 at offset 24) set absurdly large.
  b.writeBigUInt64LE(1n << 40n, 24);
  fs.writeFileSync(p, b);
  expectError(() => readGguf(p), p, /metadata key #0: (string|size).*(past the end|too large|truncated)/);
});

test("unknown metadata value type", () => {
  const p = tmpFile("badvtype.gguf");
  writeGguf(p, { metadata: [kv.str("general.architecture", "llama")], tensors: [] });
  const b = fs.readFileSync(p);
  const keyLenOff = 24;
  const typeOff = keyLenOff + 8 + "general.architecture".length;
  b.writeUInt32LE(77, typeOff);
  fs.writeFileSync(p, b);
  expectError(() => readGguf(p), p, /general.architecture: unknown metadata value type 77/);
});

test("unknown tensor type", () => {
  const p = tmpFile("badttype.gguf");
  writeGguf(p, { metadata: [], tensors: [{ name: "w", type: GgmlType.F32, dims: [8], data: new Uint8Array(32) }] });
  const b = fs.readFileSync(p);
  // tensor info: name (8 + 1), n_dims u32, dims u64, type u32
  const typeOff = 24 + 8 + 1 + 4 + 8;
  assert.equal(b.readUInt32LE(typeOff), GgmlType.F32);
  b.writeUInt32LE(99, typeOff);
  fs.writeFileSync(p, b);
  expectError(() => readGguf(p), p, /tensor w type: unknown ggml type 99/);
});

test("row length not a multiple of the block size", () => {
  const p = tmpFile("badrow.gguf");
  writeGguf(p, { metadata: [], tensors: [{ name: "w", type: GgmlType.F32, dims: [48], data: new Uint8Array(192) }] });
  const b = fs.readFileSync(p);
  b.writeUInt32LE(GgmlType.Q8_0, 24 + 8 + 1 + 4 + 8); // 48 is not a multiple of 32
  fs.writeFileSync(p, b);
  expectError(() => readGguf(p), p, /tensor w dims: row length 48 is not a multiple of Q8_0's block size 32/);
});

test("bad general.alignment", () => {
  const p = tmpFile("badalign.gguf");
  writeGguf(p, { metadata: [kv.u32("general.alignment", 24)], tensors: [] });
  expectError(() => readGguf(p), p, /general.alignment: expected a power of two, got 24/);
});

function rewriteStories(name: string, editMeta: (meta: GgufKv[]) => GgufKv[], extra: WeightTensor[] = []): string {
  const f = readGguf(stories("stories260K.gguf"));
  const p = tmpFile(name);
  writeGguf(p, { metadata: editMeta(metadataEntries(f)), tensors: [...readTensors(f).values(), ...extra] });
  return p;
}

test("unknown architecture", () => {
  const p = rewriteStories("arch.gguf", (meta) => meta.map((m) => (m.key === "general.architecture" ? kv.str(m.key, "mamba") : m)));
  expectError(() => loadGgufModel(p), p, /general.architecture: architecture "mamba" is not supported \(expected one of: llama, qwen2\)/);
});

test("missing required metadata key", () => {
  const p = rewriteStories("nokey.gguf", (meta) => meta.filter((m) => m.key !== "llama.block_count"));
  expectError(() => loadGgufModel(p), p, /llama.block_count: missing \(expected a number\)/);
});

test("metadata key of the wrong type", () => {
  const p = rewriteStories("wrongtype.gguf", (meta) => meta.map((m) => (m.key === "llama.embedding_length" ? kv.str(m.key, "64") : m)));
  expectError(() => loadGgufModel(p), p, /llama.embedding_length: expected a number, got the string "64"/);
});

test("a known but unsupported tensor type (IQ2_XXS) is refused by name", () => {
  const p = rewriteStories("iq.gguf", (meta) => meta, [{ name: "extra.weight", type: GgmlType.IQ2_XXS, dims: [256], data: new Uint8Array(66) }]);
  assert.throws(() => loadGgufModel(p), (e: unknown) => {
    assert.ok(e instanceof UnsupportedError);
    assert.match(e.message, /tensor extra.weight type: IQ2_XXS is not supported \(expected F32, F16/);
    return true;
  });
});

test("writer: a header larger than the writer's initial 64 KiB buffer (a real vocabulary) round-trips", () => {
  const tokens = Array.from({ length: 20000 }, (_, i) => `token_${i}_▁piece`);
  const p = tmpFile("bigheader.gguf");
  writeGguf(p, { metadata: [kv.str("general.architecture", "llama"), kv.strs("tokenizer.ggml.tokens", tokens)], tensors: [] });
  const f = readGguf(p);
  assert.deepEqual(f.metadata.get("tokenizer.ggml.tokens"), tokens);
  assert.ok(f.dataOffset > 1 << 16);
});
