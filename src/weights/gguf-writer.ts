/**
 * GGUF writer (version 3, little endian): the inverse of `gguf.ts`. Used by `fennec quantize`,
 * synthetic models and test fixtures. Tensor data is written straight from each tensor's buffer.
 */
import * as fs from "node:fs";
import { GGUF_MAGIC, GgufValueType, type GgufFile, type GgufValue } from "./gguf.js";
import { formatOf } from "../quant/formats.js";
import type { WeightTensor } from "./tensor.js";

export interface GgufKv {
  readonly key: string;
  readonly type: GgufValueType;
  /** For ARRAY values: the element type. */
  readonly arrayType?: GgufValueType;
  readonly value: GgufValue;
}

export interface GgufWriteSpec {
  readonly metadata: readonly GgufKv[];
  readonly tensors: readonly WeightTensor[];
  readonly alignment?: number;
}

/** Convenience constructors for metadata entries. */
export const kv = {
  str: (key: string, value: string): GgufKv => ({ key, type: GgufValueType.STRING, value }),
  u32: (key: string, value: number): GgufKv => ({ key, type: GgufValueType.UINT32, value }),
  i32: (key: string, value: number): GgufKv => ({ key, type: GgufValueType.INT32, value }),
  f32: (key: string, value: number): GgufKv => ({ key, type: GgufValueType.FLOAT32, value }),
  bool: (key: string, value: boolean): GgufKv => ({ key, type: GgufValueType.BOOL, value }),
  strs: (key: string, value: readonly string[]): GgufKv => ({ key, type: GgufValueType.ARRAY, arrayType: GgufValueType.STRING, value: [...value] }),
  f32s: (key: string, value: readonly number[]): GgufKv => ({ key, type: GgufValueType.ARRAY, arrayType: GgufValueType.FLOAT32, value: [...value] }),
  i32s: (key: string, value: readonly number[]): GgufKv => ({ key, type: GgufValueType.ARRAY, arrayType: GgufValueType.INT32, value: [...value] }),
};

/** The metadata of a file that was read, as writable entries (for re-writing a model, e.g. quantizing it). */
export function metadataEntries(file: GgufFile): GgufKv[] {
  const out: GgufKv[] = [];
  for (const [key, value] of file.metadata) {
    const t = file.metadataTypes.get(key) as GgufValueType;
    out.push(Array.isArray(value) ? { key, type: GgufValueType.ARRAY, arrayType: t, value } : { key, type: t, value });
  }
  return out;
}

/** Growable little-endian byte sink for the header. */
class Sink {
  private buf = Buffer.alloc(1 << 16);
  len = 0;
  private reserve(n: number): number {
    if (this.len + n > this.buf.length) {
      const next = Buffer.alloc(Math.max(this.buf.length * 2, this.len + n));
      this.buf.copy(next, 0, 0, this.len);
      this.buf = next;
    }
    const o = this.len;
    this.len += n;
    return o;
  }
  u8(v: number): void { const o = this.reserve(1); this.buf.writeUInt8(v, o); }
  i8(v: number): void { const o = this.reserve(1); this.buf.writeInt8(v, o); }
  u16(v: number): void { const o = this.reserve(2); this.buf.writeUInt16LE(v, o); }
  i16(v: number): void { const o = this.reserve(2); this.buf.writeInt16LE(v, o); }
  u32(v: number): void { const o = this.reserve(4); this.buf.writeUInt32LE(v, o); }
  i32(v: number): void { const o = this.reserve(4); this.buf.writeInt32LE(v, o); }
  f32(v: number): void { const o = this.reserve(4); this.buf.writeFloatLE(v, o); }
  f64(v: number): void { const o = this.reserve(8); this.buf.writeDoubleLE(v, o); }
  u64(v: number | bigint): void { const o = this.reserve(8); this.buf.writeBigUInt64LE(BigInt(v), o); }
  i64(v: number | bigint): void { const o = this.reserve(8); this.buf.writeBigInt64LE(BigInt(v), o); }
  str(s: string): void {
    const b = Buffer.from(s, "utf8");
    this.u64(b.length);
    const o = this.reserve(b.length); // reserve first: it may swap in a bigger buffer
    b.copy(this.buf, o);
  }
  pad(alignment: number): void {
    const n = (alignment - (this.len % alignment)) % alignment;
    const o = this.reserve(n);
    this.buf.fill(0, o, this.len);
  }
  bytes(): Buffer { return this.buf.subarray(0, this.len); }
}

function writeValue(s: Sink, type: GgufValueType, value: GgufValue, key: string, arrayType?: GgufValueType): void {
  const num = (): number => {
    if (typeof value !== "number") throw new TypeError(`${key}: expected a number for type ${type}`);
    return value;
  };
  switch (type) {
    case GgufValueType.UINT8: return s.u8(num());
    case GgufValueType.INT8: return s.i8(num());
    case GgufValueType.UINT16: return s.u16(num());
    case GgufValueType.INT16: return s.i16(num());
    case GgufValueType.UINT32: return s.u32(num());
    case GgufValueType.INT32: return s.i32(num());
    case GgufValueType.FLOAT32: return s.f32(num());
    case GgufValueType.FLOAT64: return s.f64(num());
    case GgufValueType.UINT64: return s.u64(typeof value === "bigint" ? value : num());
    case GgufValueType.INT64: return s.i64(typeof value === "bigint" ? value : num());
    case GgufValueType.BOOL: return s.u8(value === true ? 1 : 0);
    case GgufValueType.STRING:
      if (typeof value !== "string") throw new TypeError(`${key}: expected a string`);
      return s.str(value);
    case GgufValueType.ARRAY: {
      if (!Array.isArray(value) || arrayType === undefined) throw new TypeError(`${key}: expected an array with an element type`);
      s.u32(arrayType);
      s.u64(value.length);
      for (const v of value) writeValue(s, arrayType, v, key);
      return;
    }
  }
}

export function writeGguf(path: string, spec: GgufWriteSpec): void {
  const alignment = spec.alignment ?? 32;
  const s = new Sink();
  s.u32(GGUF_MAGIC);
  s.u32(3);
  s.u64(spec.tensors.length);
  const hasAlignment = spec.metadata.some((m) => m.key === "general.alignment");
  const metadata = hasAlignment || alignment === 32 ? spec.metadata : [...spec.metadata, kv.u32("general.alignment", alignment)];
  s.u64(metadata.length);
  for (const m of metadata) {
    s.str(m.key);
    s.u32(m.type);
    writeValue(s, m.type, m.value, m.key, m.arrayType);
  }
  let offset = 0;
  for (const t of spec.tensors) {
    const fmt = formatOf(t.type);
    if (!fmt) throw new TypeError(`${t.name}: unknown ggml type ${t.type}`);
    const expected = (t.dims.reduce((a, b) => a * b, 1) / fmt.blockSize) * fmt.typeSize;
    if (t.data.byteLength !== expected) throw new RangeError(`${t.name}: ${t.data.byteLength} bytes, expected ${expected} for ${fmt.name} [${t.dims.join(", ")}]`);
    s.str(t.name);
    s.u32(t.dims.length);
    for (const d of t.dims) s.u64(d);
    s.u32(t.type);
    s.u64(offset);
    offset += Math.ceil(t.data.byteLength / alignment) * alignment;
  }
  s.pad(alignment);
  const fd = fs.openSync(path, "w");
  try {
    fs.writeSync(fd, s.bytes());
    let pos = s.len;
    const zeros = Buffer.alloc(alignment);
    for (const t of spec.tensors) {
      fs.writeSync(fd, t.data);
      pos += t.data.byteLength;
      const pad = (alignment - (pos % alignment)) % alignment;
      if (pad) fs.writeSync(fd, zeros, 0, pad);
      pos += pad;
    }
  } finally {
    fs.closeSync(fd);
  }
}
