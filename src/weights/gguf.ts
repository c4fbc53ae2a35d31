/**
 * GGUF reader. Layout (little endian):
 *   magic "GGUF" | version u32 | tensor_count | kv_count | kv pairs | tensor infos | padding | data
 * v2/v3 use u64 for counts, string lengths, array lengths and dims; v1 used u32 for all of those.
 * Only the header is parsed eagerly (through a growing read window, so a 100 MB vocabulary is fine);
 * tensor bytes are read on demand, one tensor at a time, into off-heap buffers.
 */
import * as fs from "node:fs";
import { ModelFileError, UnsupportedError } from "../errors.js";
import { formatOf, typeName, type GgmlType } from "../quant/formats.js";
import type { WeightTensor } from "./tensor.js";
import { allocWeightMemory, readFully, type WeightHeap } from "./file-io.js";

export const GGUF_MAGIC = 0x46554747; // "GGUF" read as a little-endian u32

export const GgufValueType = {
  UINT8: 0, INT8: 1, UINT16: 2, INT16: 3, UINT32: 4, INT32: 5, FLOAT32: 6, BOOL: 7,
  STRING: 8, ARRAY: 9, UINT64: 10, INT64: 11, FLOAT64: 12,
} as const;
export type GgufValueType = (typeof GgufValueType)[keyof typeof GgufValueType];

/** A metadata value. 64-bit integers are numbers when exactly representable, bigints otherwise. */
export type GgufValue = number | bigint | boolean | string | GgufValue[];

export interface GgufTensorInfo {
  readonly name: string;
  readonly dims: readonly number[];
  readonly type: GgmlType;
  /** Absolute byte offset of the tensor's data in the file. */
  readonly fileOffset: number;
  readonly byteLength: number;
}

export interface GgufFile {
  readonly path: string;
  readonly version: number;
  readonly fileSize: number;
  readonly metadata: ReadonlyMap<string, GgufValue>;
  /** The value type of each metadata key (arrays: the element type), for `fennec info` and writers. */
  readonly metadataTypes: ReadonlyMap<string, GgufValueType>;
  readonly tensors: readonly GgufTensorInfo[];
  readonly alignment: number;
  readonly dataOffset: number;
}

/** Reads forward through a file with a window that grows on demand. */
class Cursor {
  private buf: Buffer = Buffer.alloc(0);
  private bufStart = 0; // file offset of buf[0]
  pos = 0; // absolute file offset
  constructor(private readonly fd: number, private readonly path: string, readonly fileSize: number, private readonly wide: boolean) {}

  private ensure(n: number, what: string): void {
    const have = this.bufStart + this.buf.length - this.pos;
    if (have >= n) return;
    if (this.pos + n > this.fileSize) {
      throw new ModelFileError(this.path, what, `file truncated: needs ${n} bytes at offset ${this.pos}, file is ${this.fileSize} bytes`);
    }
    const size = Math.min(Math.max(n, 1 << 20), this.fileSize - this.pos);
    const next = Buffer.allocUnsafe(size);
    const got = fs.readSync(this.fd, next, 0, size, this.pos);
    if (got < n) throw new ModelFileError(this.path, what, `short read at offset ${this.pos}`);
    this.buf = next.subarray(0, got);
    this.bufStart = this.pos;
  }
  /** Reserve n bytes at the cursor and return their offset in `buf` (call before touching `buf`: it may swap). */
  private at(n: number, what: string): number {
    this.ensure(n, what);
    const off = this.pos - this.bufStart;
    this.pos += n;
    return off;
  }
  u8(w: string): number { const o = this.at(1, w); return this.buf.readUInt8(o); }
  i8(w: string): number { const o = this.at(1, w); return this.buf.readInt8(o); }
  u16(w: string): number { const o = this.at(2, w); return this.buf.readUInt16LE(o); }
  i16(w: string): number { const o = this.at(2, w); return this.buf.readInt16LE(o); }
  u32(w: string): number { const o = this.at(4, w); return this.buf.readUInt32LE(o); }
  i32(w: string): number { const o = this.at(4, w); return this.buf.readInt32LE(o); }
  f32(w: string): number { const o = this.at(4, w); return this.buf.readFloatLE(o); }
  f64(w: string): number { const o = this.at(8, w); return this.buf.readDoubleLE(o); }
  u64(w: string): number | bigint { const o = this.at(8, w); return narrow(this.buf.readBigUInt64LE(o)); }
  i64(w: string): number | bigint { const o = this.at(8, w); return narrow(this.buf.readBigInt64LE(o)); }
  /** A count/length/dim: u32 in GGUF v1, u64 since v2. Must fit in a safe integer. */
  size(w: string): number {
    const v = this.wide ? this.u64(w) : this.u32(w);
    if (typeof v === "bigint") throw new ModelFileError(this.path, w, `size ${v} is too large (corrupt file?)`);
    return v;
  }
  str(w: string): string {
    const n = this.size(w);
    if (this.pos + n > this.fileSize) {
      throw new ModelFileError(this.path, w, `string of ${n} bytes at offset ${this.pos} runs past the end of the file (${this.fileSize} bytes): truncated or corrupt`);
    }
    const off = this.at(n, w);
    return this.buf.toString("utf8", off, off + n);
  }
}

function narrow(v: bigint): number | bigint {
  return v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(v) : v;
}

function readValue(c: Cursor, type: number, key: string, path: string): GgufValue {
  switch (type) {
    case GgufValueType.UINT8: return c.u8(key);
    case GgufValueType.INT8: return c.i8(key);
    case GgufValueType.UINT16: return c.u16(key);
    case GgufValueType.INT16: return c.i16(key);
    case GgufValueType.UINT32: return c.u32(key);
    case GgufValueType.INT32: return c.i32(key);
    case GgufValueType.FLOAT32: return c.f32(key);
    case GgufValueType.FLOAT64: return c.f64(key);
    case GgufValueType.UINT64: return c.u64(key);
    case GgufValueType.INT64: return c.i64(key);
    case GgufValueType.BOOL: {
      const b = c.u8(key);
      if (b > 1) throw new ModelFileError(path, key, `expected a bool (0 or 1), got ${b}`);
      return b === 1;
    }
    case GgufValueType.STRING: return c.str(key);
    case GgufValueType.ARRAY: {
      const elemType = c.u32(key);
      const n = c.size(key);
      if (elemType === GgufValueType.ARRAY) {
        // Nested arrays are legal; each element carries its own type and length.
      } else if (!(elemType in VALUE_TYPE_NAMES)) {
        throw new ModelFileError(path, key, `unknown array element type ${elemType} (expected 0..12)`);
      }
      if (n > c.fileSize) throw new ModelFileError(path, key, `array length ${n} exceeds the file size: corrupt`);
      const out: GgufValue[] = new Array<GgufValue>(n);
      for (let i = 0; i < n; i++) out[i] = readValue(c, elemType, key, path);
      return out;
    }
    default:
      throw new ModelFileError(path, key, `unknown metadata value type ${type} (expected 0..12)`);
  }
}

const VALUE_TYPE_NAMES: Record<number, string> = {
  0: "u8", 1: "i8", 2: "u16", 3: "i16", 4: "u32", 5: "i32", 6: "f32", 7: "bool",
  8: "string", 9: "array", 10: "u64", 11: "i64", 12: "f64",
};

/** Parse a GGUF file's header. Throws ModelFileError naming the file and field on any problem. */
export function readGguf(path: string): GgufFile {
  let fd: number;
  try {
    fd = fs.openSync(path, "r");
  } catch (e) {
    throw new ModelFileError(path, "file", `cannot open: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  try {
    const fileSize = fs.fstatSync(fd).size;
    if (fileSize < 8) throw new ModelFileError(path, "header", `file is ${fileSize} bytes, too small to be GGUF`);
    const head = Buffer.alloc(8);
    fs.readSync(fd, head, 0, 8, 0);
    const magic = head.readUInt32LE(0);
    if (magic !== GGUF_MAGIC) {
      throw new ModelFileError(path, "magic", `expected "GGUF", got ${JSON.stringify(head.toString("latin1", 0, 4))}: not a GGUF file`);
    }
    const version = head.readUInt32LE(4);
    if (version > 0xffff && head.readUInt32BE(4) <= 3) {
      throw new UnsupportedError(path, "version", `big-endian GGUF (version ${head.readUInt32BE(4)}) is not supported; expected a little-endian file`);
    }
    if (version < 1 || version > 3) throw new UnsupportedError(path, "version", `GGUF version ${version} is not supported (expected 1, 2 or 3)`);

    const c = new Cursor(fd, path, fileSize, version >= 2);
    c.pos = 8;
    const numTensors = c.size("tensor_count");
    const numKv = c.size("metadata_kv_count");
    if (numTensors > fileSize || numKv > fileSize) {
      throw new ModelFileError(path, "header", `tensor_count ${numTensors} / metadata_kv_count ${numKv} are impossible for a ${fileSize}-byte file: corrupt`);
    }
    const metadata = new Map<string, GgufValue>();
    const metadataTypes = new Map<string, GgufValueType>();
    for (let i = 0; i < numKv; i++) {
      const key = c.str(`metadata key #${i}`);
      const type = c.u32(key);
      const startPos = c.pos;
      const value = readValue(c, type, key, path);
      metadata.set(key, value);
      if (type === GgufValueType.ARRAY) {
        // Re-read the element type for the record (it sits right after the array's type tag).
        metadataTypes.set(key, peekArrayElemType(fd, startPos) as GgufValueType);
      } else {
        metadataTypes.set(key, type as GgufValueType);
      }
    }

    const alignmentValue = metadata.get("general.alignment") ?? 32;
    if (typeof alignmentValue !== "number" || alignmentValue <= 0 || (alignmentValue & (alignmentValue - 1)) !== 0) {
      throw new ModelFileError(path, "general.alignment", `expected a power of two, got ${String(alignmentValue)}`);
    }
    const alignment = alignmentValue;

    const raw: { name: string; dims: number[]; type: number; offset: number }[] = [];
    for (let i = 0; i < numTensors; i++) {
      const name = c.str(`tensor info #${i} name`);
      const nDims = c.u32(`${name}.n_dims`);
      if (nDims < 1 || nDims > 4) throw new ModelFileError(path, `tensor ${name} n_dims`, `expected 1..4, got ${nDims}`);
      const dims: number[] = [];
      for (let d = 0; d < nDims; d++) dims.push(c.size(`tensor ${name} dims`));
      const type = c.u32(`tensor ${name} type`);
      const offset = c.u64(`tensor ${name} offset`);
      if (typeof offset === "bigint") throw new ModelFileError(path, `tensor ${name} offset`, `offset ${offset} too large: corrupt`);
      raw.push({ name, dims, type, offset });
    }
    const dataOffset = Math.ceil(c.pos / alignment) * alignment;

    const tensors: GgufTensorInfo[] = raw.map(({ name, dims, type, offset }) => {
      const fmt = formatOf(type);
      if (!fmt) throw new UnsupportedError(path, `tensor ${name} type`, `unknown ggml type ${type}`);
      const numEl = dims.reduce((a, b) => a * b, 1);
      const d0 = dims[0] ?? 1;
      if (d0 % fmt.blockSize !== 0) {
        throw new ModelFileError(path, `tensor ${name} dims`, `row length ${d0} is not a multiple of ${fmt.name}'s block size ${fmt.blockSize}`);
      }
      if (offset % alignment !== 0) {
        throw new ModelFileError(path, `tensor ${name} offset`, `offset ${offset} is not a multiple of the alignment ${alignment}`);
      }
      const byteLength = (numEl / fmt.blockSize) * fmt.typeSize;
      const fileOffset = dataOffset + offset;
      if (fileOffset + byteLength > fileSize) {
        throw new ModelFileError(path, `tensor ${name} data`, `bytes [${fileOffset}, ${fileOffset + byteLength}) run past the end of the file (${fileSize} bytes): file truncated`);
      }
      return { name, dims, type: type as GgmlType, fileOffset, byteLength };
    });
    return { path, version, fileSize, metadata, metadataTypes, tensors, alignment, dataOffset };
  } finally {
    fs.closeSync(fd);
  }
}

function peekArrayElemType(fd: number, pos: number): number {
  const b = Buffer.alloc(4);
  fs.readSync(fd, b, 0, 4, pos);
  return b.readUInt32LE(0);
}

/**
 * Read the bytes of the given tensors straight from the file into weight memory from `heap` (a
 * model passes one heap for all its reads: see createWeightHeap; by default each tensor gets its own
 * allocation), so a model costs its size in RSS once (never a whole-file copy plus per-tensor copies).
 */
export function readTensors(file: GgufFile, infos: readonly GgufTensorInfo[] = file.tensors,
                            heap: WeightHeap = allocWeightMemory): Map<string, WeightTensor> {
  for (const info of infos) {
    if (!formatOf(info.type)) throw new UnsupportedError(file.path, `tensor ${info.name} type`, `unknown ggml type ${info.type}`);
  }
  const fd = fs.openSync(file.path, "r");
  try {
    const out = new Map<string, WeightTensor>();
    for (const info of infos) {
      const data = heap(info.byteLength);
      readFully(fd, file.path, `tensor ${info.name} data`, data, info.fileOffset);
      out.set(info.name, { name: info.name, type: info.type, dims: info.dims, data });
    }
    return out;
  } finally {
    fs.closeSync(fd);
  }
}

// ---- typed metadata accessors: every failure names the file and the key ----

export function metaString(file: GgufFile, key: string): string;
export function metaString(file: GgufFile, key: string, fallback: string | undefined): string | undefined;
export function metaString(file: GgufFile, key: string, ...fallback: (string | undefined)[]): string | undefined {
  const v = file.metadata.get(key);
  if (v === undefined) {
    if (fallback.length > 0) return fallback[0];
    throw new ModelFileError(file.path, key, "missing (expected a string)");
  }
  if (typeof v !== "string") throw new ModelFileError(file.path, key, `expected a string, got ${describe(v)}`);
  return v;
}

export function metaNumber(file: GgufFile, key: string): number;
export function metaNumber(file: GgufFile, key: string, fallback: number | undefined): number | undefined;
export function metaNumber(file: GgufFile, key: string, ...fallback: (number | undefined)[]): number | undefined {
  const v = file.metadata.get(key);
  if (v === undefined) {
    if (fallback.length > 0) return fallback[0];
    throw new ModelFileError(file.path, key, "missing (expected a number)");
  }
  if (typeof v !== "number") throw new ModelFileError(file.path, key, `expected a number, got ${describe(v)}`);
  return v;
}

export function metaBool(file: GgufFile, key: string, fallback: boolean): boolean {
  const v = file.metadata.get(key);
  if (v === undefined) return fallback;
  if (typeof v !== "boolean") throw new ModelFileError(file.path, key, `expected a bool, got ${describe(v)}`);
  return v;
}

export function metaArray(file: GgufFile, key: string): GgufValue[] | undefined {
  const v = file.metadata.get(key);
  if (v === undefined) return undefined;
  if (!Array.isArray(v)) throw new ModelFileError(file.path, key, `expected an array, got ${describe(v)}`);
  return v;
}

export function describe(v: GgufValue): string {
  if (Array.isArray(v)) return `an array of ${v.length}`;
  if (typeof v === "string") return `the string ${JSON.stringify(v.length > 40 ? v.slice(0, 40) + "..." : v)}`;
  return `${typeof v} ${String(v)}`;
}

export { typeName };
