/**
 * File reads shared by the model readers (whole regions, chunked under fs.readSync's 2 GiB limit),
 * and the memory weights are read into.
 */
import * as fs from "node:fs";
import { ModelFileError } from "../errors.js";
import { loadNativeAddon } from "../backend/native/index.js";

/**
 * Off-heap memory for weights, not yet touched, advised for transparent huge pages (2 MiB) when the
 * native addon is there and the OS supports it (Linux, THP "madvise" or "always"): decode streams
 * every weight once per token, and with 4 KiB pages each page costs a TLB walk and stops the
 * hardware prefetcher at its boundary (`bench:decode --hugepages-ab`: qwen2.5-0.5b decodes 5-6%
 * faster, llama-3.2-1b, already near the bandwidth, ~1%). FENNEC_HUGEPAGES=0 turns the advice off.
 */
export function allocWeightMemory(bytes: number): Uint8Array {
  const buf = Buffer.allocUnsafeSlow(bytes);
  const mem = new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  if (process.env.FENNEC_HUGEPAGES !== "0" && bytes >= HUGE_PAGE) {
    const native = loadNativeAddon();
    if (native.ok) native.addon.adviseHugePages(mem);
  }
  return mem;
}

const HUGE_PAGE = 2 << 20;

/** Returns `bytes` of weight memory (at a 64-byte multiple of its buffer). */
export type WeightHeap = (bytes: number) => Uint8Array;

/**
 * Weight memory for one model: tensors of up to 16 MiB are carved (at 64-byte multiples, first fit)
 * from shared 64 MiB chunks, larger ones get their own allocation, all through allocWeightMemory.
 * Most of a model's matrices are smaller than a huge page or not aligned to one: with an allocation
 * each, only 60% of qwen2.5-0.5b Q8_0's bytes sat in huge pages (317 of 531 MB in smaps), with
 * chunks 94%. A chunk's untouched tail costs no RSS (pages are faulted on first write), and chunks
 * are held weakly: one whose tensors are all dropped (a quantize-at-load source, an unloaded model)
 * is freed.
 */
export function createWeightHeap(): WeightHeap {
  const open: { buf: WeakRef<ArrayBuffer>; byteOffset: number; size: number; used: number }[] = [];
  return (bytes) => {
    if (bytes > SHARE_MAX) return allocWeightMemory(bytes);
    const need = Math.ceil(bytes / SLOT_ALIGN) * SLOT_ALIGN;
    for (let i = 0; i < open.length; i++) {
      const c = open[i] as (typeof open)[number];
      const buf = c.buf.deref();
      if (!buf) {
        open.splice(i--, 1);
        continue;
      }
      if (c.size - c.used < need) continue;
      const out = new Uint8Array(buf, c.byteOffset + c.used, bytes);
      c.used += need;
      return out;
    }
    const mem = allocWeightMemory(CHUNK_BYTES);
    open.push({ buf: new WeakRef(mem.buffer as ArrayBuffer), byteOffset: mem.byteOffset, size: CHUNK_BYTES, used: need });
    return mem.subarray(0, bytes);
  };
}

const CHUNK_BYTES = 64 << 20;
const SHARE_MAX = 16 << 20;
const SLOT_ALIGN = 64;

/**
 * Read [offset, offset + length) of an open file (a tensor's bytes) into fresh weight memory
 * (allocWeightMemory), in chunks under the 2 GiB-per-call limit of fs.readSync.
 */
export function readFileRegion(fd: number, path: string, field: string, offset: number, length: number): Uint8Array {
  const mem = allocWeightMemory(length);
  readFully(fd, path, field, mem, offset);
  return mem;
}

export const MAX_READ = 1 << 30;

export function readFully(fd: number, path: string, field: string, dst: Uint8Array, offset: number): void {
  let done = 0;
  while (done < dst.byteLength) {
    const got = fs.readSync(fd, dst, done, Math.min(dst.byteLength - done, MAX_READ), offset + done);
    if (got === 0) throw new ModelFileError(path, field, `unexpected end of file at offset ${offset + done} (needed ${dst.byteLength} bytes from ${offset}): truncated`);
    done += got;
  }
}

export function openOrThrow(path: string): number {
  try {
    return fs.openSync(path, "r");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new ModelFileError(path, "file", code === "ENOENT" ? "no such file" : `cannot open (${code ?? String(e)})`);
  }
}

