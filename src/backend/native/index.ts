/**
 * The native backend: typed bindings to the Node-API addon in `native/` (built to
 * build/Release/fennec_native.node by scripts/build-native.mjs). Typed arrays cross the boundary
 * zero-copy; the addon validates every shape and bound again, so a bad call throws instead of
 * reading out of range. Kernels run on a persistent native thread pool shared by all backends.
 */
import { createRequire } from "node:module";
import * as fs from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import type { AttentionArgs, Backend } from "../backend.js";
import type { WeightTensor } from "../../weights/tensor.js";
import { FORMATS, GgmlType, typeName } from "../../quant/formats.js";
import { InvalidArgumentError } from "../../errors.js";
import { KV_DTYPES, KV_GGML_TYPE } from "../kv-dtype.js";

/** Kernel sets, worst to best; the addon picks per call (ctx), so several can be compared in one process. */
export type NativeIsa = "scalar" | "avx2" | "avx512vnni";
const ISA_INDEX: Readonly<Record<NativeIsa, number>> = { scalar: 0, avx2: 1, avx512vnni: 2 };

export interface NativeInfo {
  /** Kernel sets this CPU can run, worst to best. */
  readonly isas: readonly NativeIsa[];
  readonly best: NativeIsa;
  /** Hardware threads available to the process (its CPU affinity). */
  readonly hwThreads: number;
  /** Compiler the addon was built with. */
  readonly compiler: string;
}

/**
 * The addon's exports (native/addon.cc). `ctx` = threads | isaIndex << 16. Sizes are element counts;
 * weights are raw ggml bytes with `cols` elements per row.
 */
export interface NativeAddon {
  info(): NativeInfo;
  matmul(ctx: number, w: Uint8Array, type: number, cols: number, rows: number, x: Float32Array, n: number, out: Float32Array): void;
  /** Up to 8 (w, type, rows, out) groups after x, n, cols: one pool job over the same activations. */
  matmulMany(ctx: number, x: Float32Array, n: number, cols: number, ...groups: (Uint8Array | number | Float32Array)[]): void;
  getRows(ctx: number, w: Uint8Array, type: number, cols: number, rows: number, ids: Int32Array, out: Float32Array): void;
  rmsNorm(ctx: number, x: Float32Array, weight: Float32Array, n: number, dim: number, eps: number, out: Float32Array): void;
  rope(ctx: number, x: Float32Array, n: number, numHeads: number, headDim: number, ropeDim: number,
       positions: Int32Array, invFreq: Float32Array, neox: number): void;
  /** kvType: the cache's ggml type (F32: Float32Array caches; F16, Q8_0: Uint8Array rows of that type). */
  storeKv(ctx: number, kvType: number, kCache: Float32Array | Uint8Array, vCache: Float32Array | Uint8Array, k: Float32Array,
          v: Float32Array, n: number, kvDim: number, slotMapping: Int32Array): void;
  /** seqMeta: 5 per sequence: queryStart, queryLen, contextLen, offset and length of its table in blockTables. */
  attention(ctx: number, q: Float32Array, kvType: number, kCache: Float32Array | Uint8Array, vCache: Float32Array | Uint8Array,
            numHeads: number, numKvHeads: number, headDim: number, blockSize: number, scale: number, seqMeta: Int32Array,
            blockTables: Int32Array, out: Float32Array): void;
  siluMul(ctx: number, gate: Float32Array, up: Float32Array, len: number, out: Float32Array): void;
  add(ctx: number, a: Float32Array, b: Float32Array, len: number, out: Float32Array): void;
  addBias(ctx: number, x: Float32Array, bias: Float32Array, n: number): void;
  scanRows(ctx: number, x: Float32Array, n: number, dim: number, max: Float32Array, argmax: Int32Array): void;
  /** One parallel streaming read of buf; returns the time taken and bytes read. */
  streamRead(ctx: number, buf: Uint8Array): { readonly seconds: number; readonly bytes: number };
  /**
   * Throughput of a register-resident loop on every thread, in operations / second: kind 0 = fp32
   * FMA (flops), 1 = int8 dot products (2 ops per multiply-add), both on 256-bit vectors; 2 and 3:
   * the same on 512-bit vectors (0 when the kernel set has none).
   */
  peak(ctx: number, kind: 0 | 1 | 2 | 3 | 4 | 5 | 6, iters: number): number;
  /** madvise(MADV_HUGEPAGE) on the 2 MiB-aligned interior of buf (Linux); returns the bytes advised, 0 elsewhere. */
  adviseHugePages(buf: Uint8Array): number;
  /**
   * Rewrites w in place into this ISA's packed layout for its type and returns the packed type id
   * (for matmul / getRows), or -1 with w untouched when there is none (Q8_0, Q4_K, Q6_K and Q5_0
   * with rows a multiple of 16, on AVX-512 VNNI: PACKED_X16).
   */
  packWeight(ctx: number, w: Uint8Array, type: number, cols: number, rows: number): number;
}

/**
 * The addon's ids of the types packWeight packs, rows interleaved by 16 (T_*_X16 in native/fennec.h;
 * not ggml types), by the type they hold.
 */
export const PACKED_X16: ReadonlyMap<GgmlType, number> = new Map([
  [GgmlType.Q8_0, 48], [GgmlType.Q4_K, 49], [GgmlType.Q6_K, 50], [GgmlType.Q5_0, 51],
]);

/** The type id the addon reads a weight's bytes as: its own, or its packed layout's. */
function addonType(w: WeightTensor): number {
  if (w.packing !== "x16") return w.type;
  const packed = PACKED_X16.get(w.type);
  if (packed === undefined) throw new Error(`${w.name}: ${typeName(w.type)} has no packed layout`);
  return packed;
}

export type NativeLoad =
  | { readonly ok: true; readonly addon: NativeAddon; readonly info: NativeInfo; readonly path: string }
  | { readonly ok: false; readonly reason: string };

/** Types the native kernels handle (matmul and getRows). */
const NATIVE_TYPES: ReadonlySet<number> = new Set<number>([
  GgmlType.F32, GgmlType.F16, GgmlType.BF16, GgmlType.Q4_0, GgmlType.Q4_1, GgmlType.Q5_0, GgmlType.Q5_1,
  GgmlType.Q8_0, GgmlType.Q2_K, GgmlType.Q3_K, GgmlType.Q4_K, GgmlType.Q5_K, GgmlType.Q6_K,
]);

const ADDON_FILE = path.join("build", "Release", "fennec_native.node");

/** The repo root: the nearest ancestor of this file with a package.json (works from src/ and dist/src/). */
function packageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (fs.existsSync(path.join(dir, "package.json"))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) return process.cwd();
    dir = parent;
  }
}

function isNativeAddon(v: unknown): v is NativeAddon {
  if (typeof v !== "object" || v === null) return false;
  const names = ["info", "matmul", "matmulMany", "getRows", "rmsNorm", "rope", "storeKv", "attention", "siluMul", "add", "addBias",
    "scanRows", "streamRead", "peak", "adviseHugePages", "packWeight"];
  return names.every((n) => typeof (v as Record<string, unknown>)[n] === "function");
}

let loaded: NativeLoad | undefined;

/** Loads the addon once; on failure says why (not built, wrong platform, ...). */
export function loadNativeAddon(): NativeLoad {
  if (loaded) return loaded;
  const file = path.join(packageRoot(), ADDON_FILE);
  if (!fs.existsSync(file)) {
    loaded = { ok: false, reason: `addon not built: ${ADDON_FILE} is missing; run \`npm run build:native\`` };
    return loaded;
  }
  try {
    const mod: unknown = createRequire(import.meta.url)(file);
    if (!isNativeAddon(mod)) {
      loaded = { ok: false, reason: `${ADDON_FILE} is stale (exports differ); run \`npm run build:native\`` };
    } else {
      loaded = { ok: true, addon: mod, info: mod.info(), path: file };
    }
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    loaded = { ok: false, reason: `${ADDON_FILE} failed to load: ${msg.split("\n")[0] ?? msg}` };
  }
  return loaded;
}

export interface NativeBackendOptions {
  /** Compute threads (default: the hardware threads available to the process). */
  readonly threads?: number;
  /** Kernel set (default: the best this CPU supports). Lower ones are for testing and comparison. */
  readonly isa?: NativeIsa;
}

/** Rows and cols of a weight (ggml order: dims[0] = cols). */
function matrixShape(w: WeightTensor): { cols: number; rows: number } {
  const cols = w.dims[0] ?? 1;
  let rows = 1;
  for (let i = 1; i < w.dims.length; i++) rows *= w.dims[i] as number;
  return { cols, rows };
}

/** Checks a weight's type and row length before it reaches the addon (which re-checks bounds). */
function checkWeight(op: string, w: WeightTensor): { cols: number; rows: number } {
  const { cols, rows } = matrixShape(w);
  const f = FORMATS.get(w.type);
  if (!f || !NATIVE_TYPES.has(w.type)) {
    throw new Error(`${op}: ${w.name}: tensor type ${typeName(w.type)} is not supported by the native backend`);
  }
  if (cols % f.blockSize !== 0) {
    throw new Error(`${op}: ${w.name}: rows of ${cols} elements are not a multiple of the ${f.name} block size (${f.blockSize})`);
  }
  return { cols, rows };
}

/** The native backend, or undefined when the addon is not available (see loadNativeAddon for why). */
export function createNativeBackend(opts: NativeBackendOptions = {}): Backend | undefined {
  const load = loadNativeAddon();
  if (!load.ok) return undefined;
  const { addon, info } = load;
  const threads = opts.threads ?? info.hwThreads;
  if (!Number.isInteger(threads) || threads < 1 || threads > 256) {
    throw new InvalidArgumentError("threads", `expected an integer in [1, 256], got ${threads}`);
  }
  const isa = opts.isa ?? info.best;
  if (!info.isas.includes(isa)) {
    throw new InvalidArgumentError("isa", `${isa} kernels are not available on this CPU (available: ${info.isas.join(", ")})`);
  }
  const ctx = threads | (ISA_INDEX[isa] << 16);

  // Reused packing buffers (the hot path allocates nothing once they have grown).
  let ids32 = new Int32Array(0);
  let seqMeta = new Int32Array(0);
  let tables = new Int32Array(0);

  return {
    name: `native-${isa}`,
    kvDtypes: KV_DTYPES,

    adviseHugePages(mem) {
      if (process.env.FENNEC_HUGEPAGES !== "0") addon.adviseHugePages(new Uint8Array(mem.buffer, mem.byteOffset, mem.byteLength));
    },

    matmul(w, x, n, out) {
      const { cols, rows } = checkWeight("matmul", w);
      addon.matmul(ctx, w.data, addonType(w), cols, rows, x, n, out);
    },

    matmulMany(ws, x, n, outs) {
      if (ws.length !== outs.length) throw new InvalidArgumentError("outs", `expected ${ws.length} outputs, got ${outs.length}`);
      if (ws.length === 0) return;
      const first = checkWeight("matmulMany", ws[0] as WeightTensor);
      // The addon takes at most 8 weights per call; all must share the row length.
      for (let i0 = 0; i0 < ws.length; i0 += 8) {
        const groups: (Uint8Array | number | Float32Array)[] = [];
        for (let i = i0; i < Math.min(ws.length, i0 + 8); i++) {
          const w = ws[i] as WeightTensor;
          const { cols, rows } = checkWeight("matmulMany", w);
          if (cols !== first.cols) {
            throw new InvalidArgumentError("ws", `${w.name} has rows of ${cols} elements, ${(ws[0] as WeightTensor).name} of ${first.cols}`);
          }
          groups.push(w.data, addonType(w), rows, outs[i] as Float32Array);
        }
        addon.matmulMany(ctx, x, n, first.cols, ...groups);
      }
    },

    // Q8_0, Q4_K, Q6_K and Q5_0 matrices packed by 16 rows (native/x86_packed.inc): one stream per
    // tile, each weight unpacked once per call for all its tokens. FENNEC_PACK=0 keeps the file's layout.
    packWeight(w) {
      const packed = PACKED_X16.get(w.type);
      if (w.packing || packed === undefined || w.dims.length !== 2 || process.env.FENNEC_PACK === "0") return w;
      const { cols, rows } = checkWeight("packWeight", w);
      const got = addon.packWeight(ctx, w.data, w.type, cols, rows);
      if (got < 0) return w;
      if (got !== packed) throw new Error(`packWeight: the addon packed ${w.name} as type ${got}, expected ${packed}`);
      return { ...w, packing: "x16" };
    },

    getRows(w, ids, out) {
      const { cols, rows } = checkWeight("getRows", w);
      let idArr: Int32Array;
      if (ids instanceof Int32Array) {
        idArr = ids;
      } else {
        if (ids32.length < ids.length) ids32 = new Int32Array(ids.length);
        idArr = ids32.subarray(0, ids.length);
        for (let i = 0; i < ids.length; i++) {
          const id = ids[i] as number;
          if (!Number.isInteger(id)) throw new RangeError(`getRows: id ${id} is not an integer`);
          idArr[i] = id;
        }
      }
      addon.getRows(ctx, w.data, addonType(w), cols, rows, idArr, out);
    },

    rmsNorm(x, weight, n, dim, eps, out) {
      addon.rmsNorm(ctx, x, weight, n, dim, eps, out);
    },

    rope(x, n, numHeads, headDim, ropeDim, positions, invFreq, style) {
      addon.rope(ctx, x, n, numHeads, headDim, ropeDim, positions, invFreq, style === "neox" ? 1 : 0);
    },

    storeKv(kv, k, v, n, kvDim, slotMapping) {
      addon.storeKv(ctx, KV_GGML_TYPE[kv.dtype], kv.k, kv.v, k, v, n, kvDim, slotMapping);
    },

    attention(args: AttentionArgs) {
      const { seqs } = args;
      let numTable = 0;
      for (const s of seqs) numTable += s.blockTable.length;
      if (seqMeta.length < 5 * seqs.length) seqMeta = new Int32Array(5 * seqs.length);
      if (tables.length < numTable) tables = new Int32Array(numTable);
      let off = 0;
      seqs.forEach((s, i) => {
        seqMeta.set([s.queryStart, s.queryLen, s.contextLen, off, s.blockTable.length], 5 * i);
        tables.set(s.blockTable, off);
        off += s.blockTable.length;
      });
      addon.attention(ctx, args.q, KV_GGML_TYPE[args.kv.dtype], args.kv.k, args.kv.v, args.numHeads, args.numKvHeads, args.headDim, args.blockSize,
        args.scale, seqMeta.subarray(0, 5 * seqs.length), tables.subarray(0, numTable), args.out);
    },

    siluMul(gate, up, len, out) {
      addon.siluMul(ctx, gate, up, len, out);
    },

    add(a, b, len, out) {
      addon.add(ctx, a, b, len, out);
    },

    addBias(x, bias, n) {
      addon.addBias(ctx, x, bias, n);
    },

    scanRows(x, n, dim, max, argmax) {
      addon.scanRows(ctx, x, n, dim, max, argmax);
    },
  };
}

/** The `ctx` argument for direct addon calls (benchmarks): threads and kernel set. */
export function nativeCtx(threads: number, isa: NativeIsa): number {
  return threads | (ISA_INDEX[isa] << 16);
}
