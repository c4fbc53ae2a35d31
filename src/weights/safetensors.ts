/**
 * safetensors reader and writer. Layout:
 *   header length N: u64 LE | N bytes of JSON | byte buffer
 * The JSON maps each tensor name to { dtype, shape, data_offsets: [begin, end] } (offsets relative
 * to the byte buffer) plus an optional "__metadata__" map of string -> string.
 * Only the header is parsed eagerly; tensor bytes are read on demand, one tensor at a time, into
 * off-heap buffers (never the whole file into the JS heap).
 *
 * Shapes are row-major ([rows, cols], last dim contiguous); ggml dims are the reverse ([cols, rows]).
 */
import * as fs from "node:fs";
import { ModelFileError, UnsupportedError } from "../errors.js";
import { GgmlType } from "../quant/formats.js";
import type { WeightTensor } from "./tensor.js";
import { MAX_READ, openOrThrow, readFileRegion, readFully } from "./file-io.js";

/** Bytes per element of every dtype the format defines (for validation; only some are computable). */
const DTYPE_SIZES: Readonly<Record<string, number>> = {
  BOOL: 1, U8: 1, I8: 1, F8_E5M2: 1, F8_E4M3: 1, F8_E8M0: 1,
  I16: 2, U16: 2, F16: 2, BF16: 2,
  I32: 4, U32: 4, F32: 4,
  F64: 8, I64: 8, U64: 8,
};

/** The dtypes Fennec computes with, and their ggml types. */
const SUPPORTED_DTYPES: ReadonlyMap<string, GgmlType> = new Map<string, GgmlType>([
  ["F32", GgmlType.F32], ["F16", GgmlType.F16], ["BF16", GgmlType.BF16],
]);

/** The safetensors spec caps the JSON header at 100 MB; anything larger is a corrupt length. */
const MAX_HEADER_BYTES = 100 * 1024 * 1024;

export interface SafetensorsTensorInfo {
  readonly name: string;
  /** The dtype string as stored ("F32", "BF16", "I64", ...). */
  readonly dtype: string;
  /** The ggml type, or undefined for a dtype Fennec cannot compute with (reading it throws). */
  readonly type: GgmlType | undefined;
  /** Row-major shape as stored. */
  readonly shape: readonly number[];
  /** ggml order (shape reversed; a scalar is [1]). */
  readonly dims: readonly number[];
  /** Absolute byte offset of the tensor's data in the file. */
  readonly fileOffset: number;
  readonly byteLength: number;
}

export interface SafetensorsFile {
  readonly path: string;
  readonly fileSize: number;
  /** Absolute offset of the byte buffer (8 + header length). */
  readonly dataOffset: number;
  readonly metadata: Readonly<Record<string, string>>;
  readonly tensors: readonly SafetensorsTensorInfo[];
}

/** Parse and validate a .safetensors header. Throws ModelFileError naming the file and field. */
export function readSafetensors(path: string): SafetensorsFile {
  const fd = openOrThrow(path);
  try {
    const fileSize = fs.fstatSync(fd).size;
    if (fileSize < 8) throw new ModelFileError(path, "header length", `file is ${fileSize} bytes, too small to be safetensors (needs at least 8)`);
    const lenBuf = Buffer.alloc(8);
    readFully(fd, path, "header length", lenBuf, 0);
    const headerLen = lenBuf.readBigUInt64LE(0);
    if (headerLen > BigInt(fileSize - 8) || headerLen > BigInt(MAX_HEADER_BYTES)) {
      throw new ModelFileError(path, "header length", `${headerLen} bytes does not fit in a ${fileSize}-byte file (limit ${MAX_HEADER_BYTES}): truncated or not a safetensors file`);
    }
    const n = Number(headerLen);
    const headerBuf = Buffer.alloc(n);
    readFully(fd, path, "header", headerBuf, 8);
    let json: unknown;
    try {
      json = JSON.parse(headerBuf.toString("utf8"));
    } catch (e) {
      throw new ModelFileError(path, "header JSON", `not valid JSON (${(e as Error).message}): corrupt file`);
    }
    if (!isRecord(json)) throw new ModelFileError(path, "header JSON", "expected a JSON object mapping tensor names to {dtype, shape, data_offsets}");
    const dataOffset = 8 + n;
    const bufferSize = fileSize - dataOffset;
    let metadata: Record<string, string> = {};
    const tensors: SafetensorsTensorInfo[] = [];
    for (const [name, entry] of Object.entries(json)) {
      if (name === "__metadata__") {
        metadata = parseMetadata(path, entry);
        continue;
      }
      tensors.push(parseTensorEntry(path, name, entry, dataOffset, bufferSize));
    }
    return { path, fileSize, dataOffset, metadata, tensors };
  } finally {
    fs.closeSync(fd);
  }
}

function parseMetadata(path: string, entry: unknown): Record<string, string> {
  if (!isRecord(entry)) throw new ModelFileError(path, "__metadata__", "expected an object of string values");
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(entry)) {
    if (typeof v !== "string") throw new ModelFileError(path, `__metadata__.${k}`, `expected a string, got ${typeof v}`);
    out[k] = v;
  }
  return out;
}

function parseTensorEntry(path: string, name: string, entry: unknown, dataOffset: number, bufferSize: number): SafetensorsTensorInfo {
  const field = `tensor ${name}`;
  if (!isRecord(entry)) throw new ModelFileError(path, field, "expected an object {dtype, shape, data_offsets}");
  const { dtype, shape, data_offsets: offsets } = entry;
  if (typeof dtype !== "string") throw new ModelFileError(path, `${field} dtype`, `expected a string, got ${JSON.stringify(dtype)}`);
  if (!Array.isArray(shape) || !shape.every(isNonNegInt)) {
    throw new ModelFileError(path, `${field} shape`, `expected an array of non-negative integers, got ${JSON.stringify(shape)}`);
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isNonNegInt)) {
    throw new ModelFileError(path, `${field} data_offsets`, `expected [begin, end] non-negative integers, got ${JSON.stringify(offsets)}`);
  }
  const [begin, end] = offsets as [number, number];
  if (end < begin || end > bufferSize) {
    throw new ModelFileError(path, `${field} data_offsets`,
      `[${begin}, ${end}] is outside the ${bufferSize}-byte data section (file ${dataOffset + bufferSize} bytes): truncated or corrupt`);
  }
  const dims = shape as number[];
  const numEl = dims.reduce((a, b) => a * b, 1);
  const elemSize = DTYPE_SIZES[dtype];
  if (elemSize !== undefined && numEl * elemSize !== end - begin) {
    throw new ModelFileError(path, `${field} data_offsets`,
      `shape [${dims.join(", ")}] of ${dtype} needs ${numEl * elemSize} bytes, data_offsets span ${end - begin}: corrupt`);
  }
  return {
    name,
    dtype,
    type: SUPPORTED_DTYPES.get(dtype),
    shape: dims,
    dims: dims.length === 0 ? [1] : [...dims].reverse(),
    fileOffset: dataOffset + begin,
    byteLength: end - begin,
  };
}

/** The UnsupportedError for a tensor whose dtype Fennec cannot compute with. */
export function unsupportedDtype(path: string, info: SafetensorsTensorInfo): UnsupportedError {
  return new UnsupportedError(path, `tensor ${info.name} dtype`, `${info.dtype} is not supported (expected one of: ${[...SUPPORTED_DTYPES.keys()].join(", ")})`);
}

/**
 * Read one tensor into its own off-heap buffer. `asName` renames it (the HF loader hands out
 * tensors under their GGUF names).
 */
export function readSafetensor(file: SafetensorsFile, info: SafetensorsTensorInfo, asName: string = info.name): WeightTensor {
  if (info.type === undefined) throw unsupportedDtype(file.path, info);
  const fd = openOrThrow(file.path);
  try {
    const data = readFileRegion(fd, file.path, `tensor ${info.name} data`, info.fileOffset, info.byteLength);
    return { name: asName, type: info.type, dims: info.dims, data };
  } finally {
    fs.closeSync(fd);
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function isNonNegInt(v: unknown): v is number {
  return typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
}

// ---- writer (test fixtures, conversions) ----

export interface SafetensorsWriteTensor {
  readonly name: string;
  /** Any dtype string; its element size must be known unless `data` is taken as-is. */
  readonly dtype: string;
  /** Row-major shape (HF order). */
  readonly shape: readonly number[];
  readonly data: Uint8Array;
}

/**
 * Write a .safetensors file: tensors in the given order, the JSON header padded with spaces to a
 * multiple of 8 bytes (as the reference writer does, so the data section starts aligned).
 * Data is written tensor by tensor (no whole-file buffer).
 */
export function writeSafetensors(path: string, tensors: readonly SafetensorsWriteTensor[], metadata?: Readonly<Record<string, string>>): void {
  const header: Record<string, unknown> = {};
  if (metadata !== undefined) header["__metadata__"] = metadata;
  let offset = 0;
  for (const t of tensors) {
    if (t.name === "__metadata__" || Object.hasOwn(header, t.name)) throw new Error(`writeSafetensors: duplicate or reserved tensor name "${t.name}"`);
    const elemSize = DTYPE_SIZES[t.dtype];
    const numEl = t.shape.reduce((a, b) => a * b, 1);
    if (elemSize !== undefined && numEl * elemSize !== t.data.byteLength) {
      throw new Error(`writeSafetensors: tensor ${t.name}: shape [${t.shape.join(", ")}] of ${t.dtype} needs ${numEl * elemSize} bytes, got ${t.data.byteLength}`);
    }
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + t.data.byteLength] };
    offset += t.data.byteLength;
  }
  let json = JSON.stringify(header);
  const jsonBytes = Buffer.byteLength(json, "utf8");
  json += " ".repeat((8 - (jsonBytes % 8)) % 8);
  const head = Buffer.alloc(8);
  head.writeBigUInt64LE(BigInt(Buffer.byteLength(json, "utf8")), 0);
  const fd = fs.openSync(path, "w");
  try {
    fs.writeSync(fd, head);
    fs.writeSync(fd, json, null, "utf8");
    for (const t of tensors) {
      let done = 0;
      while (done < t.data.byteLength) done += fs.writeSync(fd, t.data, done, Math.min(t.data.byteLength - done, MAX_READ));
    }
  } finally {
    fs.closeSync(fd);
  }
}
