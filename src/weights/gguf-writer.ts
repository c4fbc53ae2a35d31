/**
 * GGUF writer (version 3, little endian): the inverse of `gguf.ts`. Used by `fennec quantize`,
 * synthetic models and test fixtures. Tensor data is written straight from each tensor's buffer.
 */
import * as fs from "node:fs";
import { GgufValueType, type GgufFile, type GgufValue } from "./gguf.js";
import { encodeGgufHeader } from "./gguf-stream-writer.js";
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

export function writeGguf(path: string, spec: GgufWriteSpec): void {
  const alignment = spec.alignment ?? 32;
  const { header, sizes } = encodeGgufHeader(spec.metadata, spec.tensors, alignment);
  spec.tensors.forEach((t, i) => {
    if (t.data.byteLength !== sizes[i]) throw new RangeError(`${t.name}: ${t.data.byteLength} bytes, expected ${sizes[i]} for ${formatOf(t.type)?.name ?? t.type} [${t.dims.join(", ")}]`);
  });
  const fd = fs.openSync(path, "w");
  try {
    fs.writeSync(fd, header);
    let pos = header.length;
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
