import { after, test } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { readSafetensor, readSafetensors, writeSafetensors } from "../../src/weights/safetensors.js";
import { GgmlType } from "../../src/quant/formats.js";
import { ModelFileError, UnsupportedError } from "../../src/errors.js";
import { encodeAs, makeTempDir } from "../helpers/hf-fixture.js";

const tmp = makeTempDir("fennec-safetensors-");
const tmpFile = (name: string): string => path.join(tmp, name);
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const range = (n: number, scale = 0.25): Float32Array => new Float32Array(n).map((_, i) => (i - n / 2) * scale);

/** A raw file: u64 header length, header text as given (may be invalid), then `body`. */
function writeRaw(name: string, header: string, body: Uint8Array = new Uint8Array(0)): string {
  const h = Buffer.from(header, "utf8");
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(h.length));
  const p = tmpFile(name);
  fs.writeFileSync(p, Buffer.concat([len, h, body]));
  return p;
}

test("write + read round trip: F32 / F16 / BF16, shapes reversed to ggml dims, metadata, lazy off-heap reads", () => {
  const a = range(6 * 4);
  const b = range(8);
  const c = range(3 * 2);
  const p = tmpFile("roundtrip.safetensors");
  writeSafetensors(p, [
    { name: "a.weight", dtype: "F32", shape: [6, 4], data: encodeAs(a, "F32") },
    { name: "b.weight", dtype: "F16", shape: [8], data: encodeAs(b, "F16") },
    { name: "c.weight", dtype: "BF16", shape: [3, 2], data: encodeAs(c, "BF16") },
    { name: "scalar", dtype: "F32", shape: [], data: encodeAs(new Float32Array([7]), "F32") },
  ], { format: "pt", note: "hello" });

  const f = readSafetensors(p);
  assert.deepEqual(f.metadata, { format: "pt", note: "hello" });
  assert.equal((f.dataOffset - 8) % 8, 0, "header padded to a multiple of 8");
  assert.deepEqual(f.tensors.map((t) => t.name), ["a.weight", "b.weight", "c.weight", "scalar"]);
  const byName = new Map(f.tensors.map((t) => [t.name, t]));
  const ta = byName.get("a.weight");
  assert.ok(ta);
  assert.deepEqual(ta.shape, [6, 4]);
  assert.deepEqual(ta.dims, [4, 6]);
  assert.equal(ta.type, GgmlType.F32);
  assert.equal(ta.byteLength, 96);
  assert.equal(byName.get("b.weight")?.type, GgmlType.F16);
  assert.equal(byName.get("c.weight")?.type, GgmlType.BF16);
  assert.deepEqual(byName.get("c.weight")?.dims, [2, 3]);
  assert.deepEqual(byName.get("scalar")?.dims, [1]);

  const wa = readSafetensor(f, ta);
  assert.equal(wa.name, "a.weight");
  assert.deepEqual(wa.dims, [4, 6]);
  assert.deepEqual(new Float32Array(wa.data.buffer, wa.data.byteOffset, 24), a);
  assert.equal(wa.data.buffer.byteLength, 96, "each tensor has its own buffer (not a slice of the file)");
  const wb = readSafetensor(f, byName.get("b.weight")!, "renamed");
  assert.equal(wb.name, "renamed");
  assert.deepEqual(wb.data, encodeAs(b, "F16"));
  assert.deepEqual(readSafetensor(f, byName.get("c.weight")!).data, encodeAs(c, "BF16"));
});

test("a file with no tensors and no metadata is valid", () => {
  const p = tmpFile("empty.safetensors");
  writeSafetensors(p, []);
  const f = readSafetensors(p);
  assert.equal(f.tensors.length, 0);
  assert.deepEqual(f.metadata, {});
});

test("unsupported dtype: the header parses, reading names the file, tensor and dtype", () => {
  const p = tmpFile("i64.safetensors");
  writeSafetensors(p, [
    { name: "position_ids", dtype: "I64", shape: [1, 4], data: new Uint8Array(32) },
    { name: "w", dtype: "F32", shape: [2], data: new Uint8Array(8) },
  ]);
  const f = readSafetensors(p);
  const info = f.tensors.find((t) => t.name === "position_ids");
  assert.ok(info);
  assert.equal(info.type, undefined);
  assert.equal(info.dtype, "I64");
  assert.throws(() => readSafetensor(f, info), (e: unknown) => {
    assert.ok(e instanceof UnsupportedError);
    assert.match(e.message, /i64\.safetensors/);
    assert.match(e.message, /tensor position_ids dtype/);
    assert.match(e.message, /I64 is not supported \(expected one of: F32, F16, BF16\)/);
    return true;
  });
});

test("truncated file: tensor data past the end is reported with the file and the tensor", () => {
  const p = tmpFile("full.safetensors");
  writeSafetensors(p, [{ name: "w", dtype: "F32", shape: [16, 16], data: encodeAs(range(256), "F32") }]);
  const bytes = fs.readFileSync(p);
  const cut = tmpFile("truncated.safetensors");
  fs.writeFileSync(cut, bytes.subarray(0, bytes.length - 100));
  assert.throws(() => readSafetensors(cut), (e: unknown) => {
    assert.ok(e instanceof ModelFileError);
    assert.match(e.message, /truncated\.safetensors: tensor w data_offsets: \[0, 1024\] is outside the 924-byte data section/);
    assert.match(e.message, /truncated/);
    return true;
  });
  // Cut inside the header itself.
  const cutHeader = tmpFile("truncated-header.safetensors");
  fs.writeFileSync(cutHeader, bytes.subarray(0, 20));
  assert.throws(() => readSafetensors(cutHeader), /truncated-header\.safetensors: header length: \d+ bytes does not fit in a 20-byte file/);
  const tiny = tmpFile("tiny.safetensors");
  fs.writeFileSync(tiny, Buffer.from([1, 2, 3]));
  assert.throws(() => readSafetensors(tiny), /tiny\.safetensors: header length: file is 3 bytes, too small/);
});

test("corrupt header JSON and malformed entries name the file and field", () => {
  assert.throws(() => readSafetensors(writeRaw("badjson.safetensors", '{"w": {"dtype": "F32", ')),
    (e: unknown) => e instanceof ModelFileError && /badjson\.safetensors: header JSON: not valid JSON/.test(e.message));
  assert.throws(() => readSafetensors(writeRaw("array.safetensors", "[1, 2]")), /array\.safetensors: header JSON: expected a JSON object/);
  assert.throws(() => readSafetensors(writeRaw("noshape.safetensors", '{"w": {"dtype": "F32", "data_offsets": [0, 4]}}', new Uint8Array(4))),
    /noshape\.safetensors: tensor w shape: expected an array of non-negative integers/);
  assert.throws(() => readSafetensors(writeRaw("nodtype.safetensors", '{"w": {"shape": [1], "data_offsets": [0, 4]}}', new Uint8Array(4))),
    /nodtype\.safetensors: tensor w dtype: expected a string/);
  assert.throws(() => readSafetensors(writeRaw("badoffsets.safetensors", '{"w": {"dtype": "F32", "shape": [1], "data_offsets": [4]}}', new Uint8Array(4))),
    /badoffsets\.safetensors: tensor w data_offsets: expected \[begin, end\]/);
  assert.throws(() => readSafetensors(writeRaw("reversed.safetensors", '{"w": {"dtype": "F32", "shape": [0], "data_offsets": [4, 0]}}', new Uint8Array(4))),
    /reversed\.safetensors: tensor w data_offsets: \[4, 0\] is outside/);
  assert.throws(() => readSafetensors(writeRaw("badmeta.safetensors", '{"__metadata__": {"n": 3}}')),
    /badmeta\.safetensors: __metadata__\.n: expected a string/);
});

test("size check: product(shape) * dtype size must equal the data_offsets span", () => {
  const p = writeRaw("size.safetensors", '{"w": {"dtype": "BF16", "shape": [2, 3], "data_offsets": [0, 8]}}', new Uint8Array(8));
  assert.throws(() => readSafetensors(p), /size\.safetensors: tensor w data_offsets: shape \[2, 3\] of BF16 needs 12 bytes, data_offsets span 8: corrupt/);
  // A huge header length (garbage) is rejected before allocating anything.
  const len = Buffer.alloc(16);
  len.writeBigUInt64LE(0xffffffffffffn);
  fs.writeFileSync(tmpFile("huge.safetensors"), len);
  assert.throws(() => readSafetensors(tmpFile("huge.safetensors")), /huge\.safetensors: header length: 281474976710655 bytes does not fit/);
});

test("missing file is a ModelFileError", () => {
  assert.throws(() => readSafetensors(tmpFile("nope.safetensors")), /nope\.safetensors: file: no such file/);
});

test("writer validates sizes and names", () => {
  assert.throws(() => writeSafetensors(tmpFile("w.safetensors"), [{ name: "w", dtype: "F32", shape: [3], data: new Uint8Array(8) }]), /needs 12 bytes, got 8/);
  assert.throws(() => writeSafetensors(tmpFile("w.safetensors"), [
    { name: "w", dtype: "F32", shape: [1], data: new Uint8Array(4) },
    { name: "w", dtype: "F32", shape: [1], data: new Uint8Array(4) },
  ]), /duplicate/);
});
