/**
 * `fennec serve <model>`: the OpenAI-compatible server. Listens at once (/health is 503 until the
 * model is loaded), serves until SIGTERM/SIGINT, then stops accepting, lets in-flight requests
 * finish (up to 30 s, then aborts them) and exits 0. A second signal aborts at once.
 */
import type { BackendKind } from "../backend/registry.js";
import { InvalidArgumentError } from "../errors.js";
import { resolveFileType } from "../quant/model-quantize.js";
import { parseKvDtype } from "../backend/kv-dtype.js";
import { startServer } from "../server/app.js";
import { numberFlag, parse, positional, stringFlag } from "./args.js";

export const SERVE_USAGE = `fennec serve <model> [--host 127.0.0.1] [--port 8000] [--api-key KEY] [--served-model-name NAME]
    [--max-queue N] [--tokenizer FILE] [--ctx-size N] [--threads N] [--max-num-seqs N] [--max-num-batched-tokens N]
    [--kv-cache-memory BYTES|2GiB] [--kv-cache-dtype f16|q8_0|f32] [--chat-template FILE] [--backend auto|native|reference] [--quantize TYPE] [--log-requests] [--cache-dir DIR]`;

const GRACE_MS = 30_000;

export async function serveCommand(argv: string[]): Promise<number> {
  const p = parse(argv, {
    host: { type: "string" },
    port: { type: "string" },
    "api-key": { type: "string" },
    "served-model-name": { type: "string" },
    "max-queue": { type: "string" },
    tokenizer: { type: "string" },
    "cache-dir": { type: "string" },
    "ctx-size": { type: "string", short: "c" },
    threads: { type: "string" },
    "max-num-seqs": { type: "string" },
    "max-num-batched-tokens": { type: "string" },
    "kv-cache-memory": { type: "string" },
    "kv-cache-dtype": { type: "string" },
    "chat-template": { type: "string" },
    backend: { type: "string" },
    quantize: { type: "string" },
    "log-requests": { type: "boolean" },
  });
  const model = positional(p, 0, "model");
  const backend = stringFlag(p, "backend");
  if (backend !== undefined && backend !== "auto" && backend !== "native" && backend !== "reference") {
    throw new InvalidArgumentError("--backend", `expected auto, native or reference, got ${JSON.stringify(backend)}`);
  }
  const kvCacheMemory = stringFlag(p, "kv-cache-memory");
  // Checked here, before the port opens, so a typo is a usage error and not a failed load.
  const quantize = stringFlag(p, "quantize");
  if (quantize !== undefined) resolveFileType(quantize, "--quantize");
  const kvCacheDtype = stringFlag(p, "kv-cache-dtype");
  const opt = <K extends string, V>(key: K, v: V | undefined): { [k in K]?: V } => (v === undefined ? {} : ({ [key]: v } as { [k in K]: V }));
  const logRequests = p.values["log-requests"] === true;
  const server = await startServer({
    model,
    host: stringFlag(p, "host") ?? "127.0.0.1",
    port: numberFlag(p, "port", { integer: true, min: 0, max: 65535 }) ?? 8000,
    ...opt("apiKey", stringFlag(p, "api-key")),
    ...opt("servedModelName", stringFlag(p, "served-model-name")),
    ...opt("maxQueue", numberFlag(p, "max-queue", { integer: true, min: 0 })),
    ...opt("tokenizer", stringFlag(p, "tokenizer")),
    ...opt("cacheDir", stringFlag(p, "cache-dir")),
    ...opt("contextLength", numberFlag(p, "ctx-size", { integer: true, min: 1 })),
    ...opt("threads", numberFlag(p, "threads", { integer: true, min: 1 })),
    ...opt("maxNumSeqs", numberFlag(p, "max-num-seqs", { integer: true, min: 1 })),
    ...opt("maxNumBatchedTokens", numberFlag(p, "max-num-batched-tokens", { integer: true, min: 1 })),
    ...opt("kvCacheBytes", kvCacheMemory === undefined ? undefined : parseBytes("--kv-cache-memory", kvCacheMemory)),
    ...opt("kvCacheDtype", kvCacheDtype === undefined ? undefined : parseKvDtype("--kv-cache-dtype", kvCacheDtype)),
    ...opt("chatTemplate", stringFlag(p, "chat-template")),
    ...opt("backend", backend as BackendKind | undefined),
    ...opt("quantize", quantize),
    ...(logRequests ? { onRequest: (r) => process.stderr.write(`fennec: request ${r.id} ${r.endpoint} user=${r.user ?? "-"} prompt=${r.promptTokens} completion=${r.completionTokens} finish=${r.finishReasons.join(",")} ${r.ms.toFixed(0)} ms\n`) } : {}),
  } satisfies Parameters<typeof startServer>[0]);
  process.stderr.write(`fennec: listening on ${server.url} (loading ${model})\n`);

  let signals = 0;
  const stopped = new Promise<void>((resolve) => {
    const onSignal = (sig: NodeJS.Signals): void => {
      signals++;
      if (signals === 1) {
        process.stderr.write(`fennec: ${sig}: shutting down (in-flight requests may finish; signal again to abort them)\n`);
        void server.close({ graceMs: GRACE_MS }).then(resolve, resolve);
      } else {
        process.stderr.write(`fennec: ${sig}: aborting in-flight requests\n`);
        void server.close({ graceMs: 0 });
        resolve();
      }
    };
    process.on("SIGTERM", onSignal);
    process.on("SIGINT", onSignal);
  });
  try {
    const first = await Promise.race([server.ready.then(() => "ready" as const), stopped.then(() => "stopped" as const)]);
    if (first === "ready") process.stderr.write(`fennec: ready: POST ${server.url}/v1/chat/completions, ${server.url}/v1/completions; GET /v1/models, /health, /metrics\n`);
  } catch (e) {
    await server.close({ graceMs: 0 });
    throw e; // the load error, printed as one line by main
  }
  await stopped;
  await server.close();
  process.stderr.write("fennec: stopped\n");
  return 0;
}

/** "2GiB", "512MiB", "1.5GB", "1000000" (bytes). */
export function parseBytes(flag: string, raw: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]i?b?|b)?\s*$/i.exec(raw);
  const units: Readonly<Record<string, number>> = { "": 1, b: 1, k: 1e3, kb: 1e3, kib: 1024, m: 1e6, mb: 1e6, mib: 1024 ** 2, g: 1e9, gb: 1e9, gib: 1024 ** 3, t: 1e12, tb: 1e12, tib: 1024 ** 4 };
  const unit = units[(m?.[2] ?? "").toLowerCase()];
  const bytes = m && unit !== undefined ? Math.floor(Number(m[1]) * unit) : NaN;
  if (!(bytes > 0)) throw new InvalidArgumentError(flag, `expected a size in bytes such as 2GiB, 512MiB or 1000000, got ${JSON.stringify(raw)}`);
  return bytes;
}
