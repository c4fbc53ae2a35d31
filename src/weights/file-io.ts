/** File reads shared by the model readers: whole regions, chunked under fs.readSync's 2 GiB limit. */
import * as fs from "node:fs";
import { ModelFileError } from "../errors.js";

/**
 * Read [offset, offset + length) of an open file into a fresh off-heap buffer (allocUnsafeSlow: a
 * dedicated, non-pooled ArrayBuffer), in chunks under the 2 GiB-per-call limit of fs.readSync.
 */
export function readFileRegion(fd: number, path: string, field: string, offset: number, length: number): Uint8Array {
  const buf = Buffer.allocUnsafeSlow(length);
  readFully(fd, path, field, buf, offset);
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
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

