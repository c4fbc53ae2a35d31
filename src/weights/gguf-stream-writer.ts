/**
 * Streaming GGUF writer (version 3): the header (metadata and tensor infos) is written first, then
 * each tensor's bytes as `produce(i)` returns them, so a multi-GB model is never held in memory at
 * once (`fennec quantize` and `fennec synth` make one tensor at a time). The layout is exactly
 * `gguf-writer.ts`'s: data offsets aligned to `alignment`, zero padding. The file is written under
 * a temporary name and renamed at the end, so a failure never leaves a truncated model behind.
 */
import * as fs from "node:fs";
import { GGUF_MAGIC, GgufValueType, type GgufValue } from "./gguf.js";
import type { GgufKv } from "./gguf-writer.js";
import { formatOf, type GgmlType } from "../quant/formats.js";

export interface GgufTensorSpec {
  readonly name: string;
  readonly type: GgmlType;
  /** ggml order: dims[0] is the row length. */
  readonly dims: readonly number[];
}

/** Bytes a tensor of this spec takes in the file (before alignment padding). */
export function tensorByteLength(t: GgufTensorSpec): number {
  const fmt = formatOf(t.type);
  if (!fmt) throw new TypeError(`${t.name}: unknown ggml type ${t.type}`);
  const n = t.dims.reduce((a, b) => a * b, 1);
  if ((t.dims[0] ?? 1) % fmt.blockSize !== 0) throw new RangeError(`${t.name}: row length ${t.dims[0]} is not a multiple of the ${fmt.name} block size ${fmt.blockSize}`);
  return (n / fmt.blockSize) * fmt.typeSize;
}

/** Little-endian header bytes, collected in chunks (a 150k-token vocabulary is tens of MB). */
class HeaderSink {
  private readonly chunks: Buffer[] = [];
  private cur = Buffer.alloc(1 << 20);
  private pos = 0;
  length = 0;
  private room(n: number): Buffer {
    if (this.pos + n > this.cur.length) {
      this.chunks.push(this.cur.subarray(0, this.pos));
      this.cur = Buffer.alloc(Math.max(1 << 20, n));
      this.pos = 0;
    }
    this.length += n;
    return this.cur;
  }
  private at(n: number): number {
    const p = this.pos;
    this.pos += n;
    return p;
  }
  u8(v: number): void { const b = this.room(1); b.writeUInt8(v, this.at(1)); }
  i8(v: number): void { const b = this.room(1); b.writeInt8(v, this.at(1)); }
  u16(v: number): void { const b = this.room(2); b.writeUInt16LE(v, this.at(2)); }
  i16(v: number): void { const b = this.room(2); b.writeInt16LE(v, this.at(2)); }
  u32(v: number): void { const b = this.room(4); b.writeUInt32LE(v, this.at(4)); }
  i32(v: number): void { const b = this.room(4); b.writeInt32LE(v, this.at(4)); }
  f32(v: number): void { const b = this.room(4); b.writeFloatLE(v, this.at(4)); }
  f64(v: number): void { const b = this.room(8); b.writeDoubleLE(v, this.at(8)); }
  u64(v: number | bigint): void { const b = this.room(8); b.writeBigUInt64LE(BigInt(v), this.at(8)); }
  i64(v: number | bigint): void { const b = this.room(8); b.writeBigInt64LE(BigInt(v), this.at(8)); }
  str(s: string): void {
    const bytes = Buffer.from(s, "utf8");
    this.u64(bytes.length);
    const b = this.room(bytes.length);
    bytes.copy(b, this.at(bytes.length));
  }
  zeros(n: number): void { const b = this.room(n); b.fill(0, this.at(n), this.pos); }
  bytes(): Buffer { return Buffer.concat([...this.chunks, this.cur.subarray(0, this.pos)]); }
}

function writeValue(s: HeaderSink, type: GgufValueType, value: GgufValue, key: string, arrayType?: GgufValueType): void {
  const num = (): number => {
    if (typeof value !== "number") throw new TypeError(`${key}: expected a number for GGUF value type ${type}`);
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

/**
 * The GGUF v3 header for these tensors (magic, counts, metadata, tensor infos with aligned offsets,
 * padding to the data section), and each tensor's byte length. Shared by both writers.
 */
export function encodeGgufHeader(metadata: readonly GgufKv[], tensors: readonly GgufTensorSpec[], alignment: number): { header: Buffer; sizes: number[] } {
  const names = new Set<string>();
  for (const t of tensors) {
    if (names.has(t.name)) throw new Error(`GGUF writer: duplicate tensor name ${t.name}`);
    names.add(t.name);
  }
  const s = new HeaderSink();
  s.u32(GGUF_MAGIC);
  s.u32(3);
  s.u64(tensors.length);
  const meta = alignment === 32 || metadata.some((m) => m.key === "general.alignment")
    ? metadata
    : [...metadata, { key: "general.alignment", type: GgufValueType.UINT32, value: alignment } satisfies GgufKv];
  s.u64(meta.length);
  for (const m of meta) {
    s.str(m.key);
    s.u32(m.type);
    writeValue(s, m.type, m.value, m.key, m.arrayType);
  }
  const sizes = tensors.map(tensorByteLength);
  let offset = 0;
  tensors.forEach((t, i) => {
    s.str(t.name);
    s.u32(t.dims.length);
    for (const d of t.dims) s.u64(d);
    s.u32(t.type);
    s.u64(offset);
    offset += Math.ceil((sizes[i] as number) / alignment) * alignment;
  });
  s.zeros((alignment - (s.length % alignment)) % alignment);
  return { header: s.bytes(), sizes };
}

export interface StreamWriteOptions {
  readonly alignment?: number;
}

/**
 * Write a GGUF file: `metadata`, then `tensors` whose bytes come from `produce(i)` in order (each
 * must be exactly tensorByteLength(tensors[i]) bytes). Returns the file size.
 */
export async function writeGgufStreaming(
  path: string,
  metadata: readonly GgufKv[],
  tensors: readonly GgufTensorSpec[],
  produce: (index: number) => Uint8Array | Promise<Uint8Array>,
  opts: StreamWriteOptions = {},
): Promise<number> {
  const alignment = opts.alignment ?? 32;
  const { header, sizes } = encodeGgufHeader(metadata, tensors, alignment);

  const tmp = `${path}.tmp-${process.pid}`;
  const fd = fs.openSync(tmp, "w");
  let ok = false;
  try {
    fs.writeSync(fd, header);
    let pos = header.length;
    const zeros = Buffer.alloc(alignment);
    for (let i = 0; i < tensors.length; i++) {
      const data = await produce(i);
      const t = tensors[i] as GgufTensorSpec;
      if (data.byteLength !== sizes[i]) {
        throw new RangeError(`${t.name}: produced ${data.byteLength} bytes, expected ${sizes[i]} for ${formatOf(t.type)?.name} [${t.dims.join(", ")}]`);
      }
      writeAll(fd, data);
      pos += data.byteLength;
      const pad = (alignment - (pos % alignment)) % alignment;
      if (pad) fs.writeSync(fd, zeros, 0, pad);
      pos += pad;
    }
    ok = true;
    fs.closeSync(fd);
    fs.renameSync(tmp, path);
    return pos;
  } finally {
    if (!ok) {
      fs.closeSync(fd);
      fs.rmSync(tmp, { force: true });
    }
  }
}

/** fs.writeSync in chunks (a single write is capped at 2 GiB and may be partial). */
function writeAll(fd: number, data: Uint8Array): void {
  const CHUNK = 1 << 28;
  for (let off = 0; off < data.byteLength;) {
    const n = Math.min(CHUNK, data.byteLength - off);
    off += fs.writeSync(fd, data, off, n);
  }
}
