/**
 * Parallel quantization: the TypeScript reference quantizers (quantize.ts) run on worker threads,
 * each encoding a slice of rows straight from a shared fp32 source into a shared destination, so
 * a model quantizes in 1/threads of the time (the K-quant searches dominate: ~2-3M weights/s per
 * thread). With one thread everything runs inline, no workers.
 */
import { Worker } from "node:worker_threads";
import * as os from "node:os";
import { FORMATS, rowBytes, type GgmlType } from "./formats.js";
import { quantizeInto } from "./quantize.js";

/** A request to a worker: encode n elements of src from srcOffset into dst at dstOffset. */
export interface QuantizeJob {
  readonly id: number;
  readonly type: GgmlType;
  readonly src: SharedArrayBuffer;
  readonly srcOffset: number;
  readonly n: number;
  readonly dst: SharedArrayBuffer;
  readonly dstOffset: number;
}
export type QuantizeReply = { readonly id: number; readonly error?: string };

export interface QuantizePool {
  readonly numThreads: number;
  /** A Float32Array of n elements that workers can read (fill it, then pass it to quantize). */
  allocSource(n: number): Float32Array;
  /** Encode a [rows, cols] matrix (src from allocSource, or any Float32Array when single-threaded). */
  quantize(type: GgmlType, src: Float32Array, rows: number, cols: number): Promise<Uint8Array>;
  close(): Promise<void>;
}

function spawn(): Worker {
  // From the TypeScript sources (tsx), register tsx in the worker first (Node 20 does not carry --import into workers).
  if (!import.meta.url.endsWith(".ts")) return new Worker(new URL("./quantize-worker.js", import.meta.url));
  const entry = new URL("./quantize-worker.ts", import.meta.url).href;
  return new Worker(`import("tsx/esm/api").then((m) => { m.register(); return import(${JSON.stringify(entry)}); });`, { eval: true });
}

export function createQuantizePool(threads = os.availableParallelism()): QuantizePool {
  const numThreads = Math.max(1, Math.floor(threads));
  if (numThreads === 1) {
    return {
      numThreads,
      allocSource: (n) => new Float32Array(n),
      quantize: (type, src, rows, cols) => {
        const out = new Uint8Array(rowBytes(type, cols) * rows);
        quantizeInto(type, src, 0, rows * cols, out, 0);
        return Promise.resolve(out);
      },
      close: () => Promise.resolve(),
    };
  }
  const workers = Array.from({ length: numThreads }, spawn);
  const idle: Worker[] = [...workers];
  const waiting: (() => void)[] = [];
  const pending = new Map<number, { resolve: () => void; reject: (e: Error) => void }>();
  let nextId = 0;
  for (const w of workers) {
    w.on("message", (m: QuantizeReply) => {
      const p = pending.get(m.id);
      pending.delete(m.id);
      idle.push(w);
      waiting.shift()?.();
      if (m.error !== undefined) p?.reject(new Error(m.error));
      else p?.resolve();
    });
    w.on("error", (e) => {
      for (const p of pending.values()) p.reject(e);
      pending.clear();
    });
  }
  const acquire = async (): Promise<Worker> => {
    while (idle.length === 0) await new Promise<void>((r) => waiting.push(r));
    return idle.pop() as Worker;
  };
  const run = async (job: Omit<QuantizeJob, "id">): Promise<void> => {
    const w = await acquire();
    const id = nextId++;
    return new Promise<void>((resolve, reject) => {
      pending.set(id, { resolve, reject });
      w.postMessage({ ...job, id } satisfies QuantizeJob);
    });
  };
  return {
    numThreads,
    allocSource: (n) => new Float32Array(new SharedArrayBuffer(4 * n)),
    async quantize(type, src, rows, cols) {
      const bytesPerRow = rowBytes(type, cols);
      const dstBuf = new SharedArrayBuffer(bytesPerRow * rows);
      let srcBuf = src.buffer;
      let srcBase = src.byteOffset / 4;
      if (!(srcBuf instanceof SharedArrayBuffer)) {
        const copy = new Float32Array(new SharedArrayBuffer(4 * rows * cols));
        copy.set(src.subarray(0, rows * cols));
        srcBuf = copy.buffer as SharedArrayBuffer;
        srcBase = 0;
      }
      // Slices of whole rows, ~4 per thread (K-quant rows cost the same, so this balances well),
      // but at least 64 blocks each so tiny tensors do not drown in messages.
      const blockSize = FORMATS.get(type)?.blockSize ?? 1;
      const minRows = Math.max(1, Math.ceil((64 * blockSize) / cols));
      const rowsPerJob = Math.max(minRows, Math.ceil(rows / (4 * numThreads)));
      const jobs: Promise<void>[] = [];
      for (let r = 0; r < rows; r += rowsPerJob) {
        const nr = Math.min(rowsPerJob, rows - r);
        jobs.push(run({ type, src: srcBuf as SharedArrayBuffer, srcOffset: srcBase + r * cols, n: nr * cols, dst: dstBuf, dstOffset: r * bytesPerRow }));
      }
      await Promise.all(jobs);
      return new Uint8Array(dstBuf);
    },
    async close() {
      await Promise.all(workers.map((w) => w.terminate()));
    },
  };
}
