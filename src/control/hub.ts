/**
 * Getting models from the Hugging Face Hub into a local cache.
 *
 *   resolveModelPath("stories260K.gguf")                      -> "stories260K.gguf" (local paths pass through)
 *   resolveModelPath("hf:owner/repo/model-Q4_K_M.gguf")       -> "<cache>/owner/repo/main/model-Q4_K_M.gguf"
 *   resolveModelPath("hf:owner/repo@v1.0")                    -> "<cache>/owner/repo/v1.0" (an HF model directory)
 *
 * Cache layout: <cache>/<owner>/<repo>/<revision>/<path in repo>. A file there is complete (downloads
 * go to <file>.part and are renamed once their size and sha256 check out), so it is never fetched
 * again. A model repo additionally gets `.fennec-files.json` (the list of files it needed) once all
 * of them are in, so a second call makes no request at all.
 *
 * Files come from {endpoint}/{owner}/{repo}/resolve/{revision}/{path}; a model repo's file list from
 * {endpoint}/api/models/{owner}/{repo}/revision/{revision} (its `siblings`).
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { z } from "zod";
import { bar, formatBytes, formatDuration, ProgressLine, type ProgressStream } from "../util/progress.js";
import { downloadFile, hubGet, readBody, statusError, TransientError, type DownloadEvent, type HttpOptions } from "./hub-download.js";
import { HubError, isHubSpec, isSafeRepoPath, parseHubSpec, type HubSpec } from "./hub-spec.js";

export { HubError, isHubSpec, parseHubSpec, type HubSpec } from "./hub-spec.js";
export type { DownloadEvent } from "./hub-download.js";

export const DEFAULT_ENDPOINT = "https://huggingface.co";

export interface HubOptions {
  /** Cache root (default: $FENNEC_CACHE, else $XDG_CACHE_HOME/fennec, else ~/.cache/fennec). */
  readonly cacheDir?: string;
  /** Hub endpoint (default: $HF_ENDPOINT, else https://huggingface.co). */
  readonly endpoint?: string;
  /** Access token for gated/private repos (default: $HF_TOKEN). */
  readonly token?: string;
  /** Download progress; default: a progress bar (TTY) or one line per file on stderr. */
  readonly onProgress?: (e: DownloadEvent) => void;
  /** Attempts per file before giving up (default 5), first retry delay (default 1000 ms, doubling). */
  readonly maxAttempts?: number;
  readonly retryDelayMs?: number;
  /** Socket idle timeout (default 60 s). */
  readonly timeoutMs?: number;
}

interface HubConfig {
  readonly cacheDir: string;
  readonly endpoint: string;
  readonly token: string | undefined;
  readonly onProgress: (e: DownloadEvent) => void;
  readonly maxAttempts: number;
  readonly retryDelayMs: number;
  readonly timeoutMs: number;
}

/** Options fall back to the environment here, and only here. */
function configFrom(opts: HubOptions, env: NodeJS.ProcessEnv = process.env): HubConfig {
  const nonEmpty = (v: string | undefined): string | undefined => (v !== undefined && v !== "" ? v : undefined);
  const xdg = nonEmpty(env["XDG_CACHE_HOME"]);
  return {
    cacheDir: opts.cacheDir ?? nonEmpty(env["FENNEC_CACHE"]) ?? (xdg !== undefined ? path.join(xdg, "fennec") : path.join(os.homedir(), ".cache", "fennec")),
    endpoint: (opts.endpoint ?? nonEmpty(env["HF_ENDPOINT"]) ?? DEFAULT_ENDPOINT).replace(/\/+$/, ""),
    // An explicit "" means "no token" (it does not fall back to $HF_TOKEN).
    token: opts.token !== undefined ? nonEmpty(opts.token) : nonEmpty(env["HF_TOKEN"]),
    onProgress: opts.onProgress ?? stderrReporter(process.stderr),
    maxAttempts: opts.maxAttempts ?? 5,
    retryDelayMs: opts.retryDelayMs ?? 1000,
    timeoutMs: opts.timeoutMs ?? 60_000,
  };
}

/** A local path stays as is; an `hf:` spec is downloaded (once) and its cached path returned. */
export async function resolveModelPath(spec: string, opts: HubOptions = {}): Promise<string> {
  if (!isHubSpec(spec)) return spec;
  const s = parseHubSpec(spec);
  const cfg = configFrom(opts);
  return s.kind === "file" ? pullFile(s, cfg) : pullModel(s, cfg);
}

function revisionDir(cfg: HubConfig, s: HubSpec): string {
  // A revision may contain "/" (refs/pr/1): one directory level per revision.
  return path.join(cfg.cacheDir, s.owner, s.repo, encodeURIComponent(s.revision));
}

function resolveUrl(cfg: HubConfig, s: HubSpec, revision: string, file: string): URL {
  const enc = (p: string): string => p.split("/").map(encodeURIComponent).join("/");
  return new URL(`${cfg.endpoint}/${enc(s.owner)}/${enc(s.repo)}/resolve/${encodeURIComponent(revision)}/${enc(file)}`);
}

function httpOptions(cfg: HubConfig): HttpOptions {
  return { tokenOrigin: new URL(cfg.endpoint).origin, timeoutMs: cfg.timeoutMs, ...(cfg.token !== undefined ? { token: cfg.token } : {}) };
}

async function fetchFile(cfg: HubConfig, s: HubSpec, revision: string, file: string, dest: string): Promise<void> {
  if (fs.existsSync(dest)) return;
  await downloadFile(resolveUrl(cfg, s, revision, file), dest, {
    ...httpOptions(cfg),
    label: `${s.owner}/${s.repo}/${file}`,
    maxAttempts: cfg.maxAttempts,
    retryDelayMs: cfg.retryDelayMs,
    onEvent: cfg.onProgress,
  });
}

async function pullFile(s: HubSpec, cfg: HubConfig): Promise<string> {
  const dest = path.join(revisionDir(cfg, s), ...s.path.split("/"));
  await fetchFile(cfg, s, s.revision, s.path, dest);
  return dest;
}

// ---- model repos (safetensors) ----

const MODEL_FILES = new Set(["config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json", "model.safetensors.index.json"]);
const INDEX = "model.safetensors.index.json";
const MANIFEST = ".fennec-files.json";

const repoInfoSchema = z.object({
  sha: z.string().optional(),
  siblings: z.array(z.object({ rfilename: z.string() })),
});
const manifestSchema = z.object({ files: z.array(z.string()) });
const indexSchema = z.object({ weight_map: z.record(z.string(), z.string()) });

async function pullModel(s: HubSpec, cfg: HubConfig): Promise<string> {
  const dir = path.join(revisionDir(cfg, s), ...(s.path === "" ? [] : s.path.split("/")));
  const cached = readManifest(dir);
  if (cached !== undefined && cached.every((f) => fs.existsSync(path.join(dir, f)))) return dir;

  const info = await repoInfo(s, cfg);
  // Pin the commit the listing came from, so every file is of the same version.
  const revision = info.sha ?? s.revision;
  const prefix = s.path === "" ? "" : `${s.path}/`;
  const inFolder = info.siblings.map((f) => f.rfilename).filter((f) => f.startsWith(prefix) && isSafeRepoPath(f))
    .map((f) => f.slice(prefix.length)).filter((f) => !f.includes("/")); // this folder only, not its subfolders
  const where = s.path === "" ? `${s.owner}/${s.repo}` : `${s.owner}/${s.repo}/${s.path}`;
  if (!inFolder.includes("config.json")) {
    const ggufs = info.siblings.map((f) => f.rfilename).filter((f) => f.toLowerCase().endsWith(".gguf"));
    const hint = ggufs.length > 0
      ? `; it holds GGUF files, name one: ${ggufs.slice(0, 3).map((f) => `hf:${s.owner}/${s.repo}/${f}`).join(", ")}${ggufs.length > 3 ? ", ..." : ""}`
      : "";
    throw new HubError(s.spec, `not a safetensors model: no config.json in ${where}${hint}`, 404);
  }
  const wanted = inFolder.filter((f) => MODEL_FILES.has(f));
  if (inFolder.includes(INDEX)) {
    // Sharded: fetch the index first, then exactly the shards it names (not consolidated copies).
    await fetchFile(cfg, s, revision, prefix + INDEX, path.join(dir, INDEX));
    for (const shard of shardsOf(path.join(dir, INDEX))) {
      if (!isSafeRepoPath(shard) || shard.includes("/")) throw new HubError(s.spec, `${INDEX}: bad shard name ${JSON.stringify(shard)}`);
      if (!inFolder.includes(shard)) throw new HubError(s.spec, `${INDEX} names ${shard}, which is not in the repo`, 404);
      wanted.push(shard);
    }
  } else {
    wanted.push(...inFolder.filter((f) => f.endsWith(".safetensors")));
  }
  if (!wanted.some((f) => f.endsWith(".safetensors"))) throw new HubError(s.spec, `no .safetensors weights in ${where}`, 404);
  for (const f of wanted) await fetchFile(cfg, s, revision, prefix + f, path.join(dir, f));
  fs.writeFileSync(path.join(dir, MANIFEST), JSON.stringify({ spec: s.spec, commit: info.sha, files: wanted }, null, 2) + "\n");
  return dir;
}

function readManifest(dir: string): string[] | undefined {
  try {
    const m = manifestSchema.safeParse(JSON.parse(fs.readFileSync(path.join(dir, MANIFEST), "utf8")));
    return m.success ? m.data.files.filter(isSafeRepoPath) : undefined;
  } catch {
    return undefined;
  }
}

function shardsOf(indexFile: string): string[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(fs.readFileSync(indexFile, "utf8"));
  } catch (e) {
    throw new HubError(indexFile, `not JSON (${(e as Error).message})`);
  }
  const idx = indexSchema.safeParse(parsed);
  if (!idx.success) throw new HubError(indexFile, "weight_map: expected an object of tensor name -> shard file");
  return [...new Set(Object.values(idx.data.weight_map))].sort();
}

async function repoInfo(s: HubSpec, cfg: HubConfig): Promise<z.infer<typeof repoInfoSchema>> {
  const url = new URL(`${cfg.endpoint}/api/models/${encodeURIComponent(s.owner)}/${encodeURIComponent(s.repo)}/revision/${encodeURIComponent(s.revision)}`);
  for (let attempt = 1; ; attempt++) {
    try {
      const res = await hubGet(url, httpOptions(cfg));
      if (res.status !== 200) {
        res.body.resume();
        throw statusError(`hf:${s.owner}/${s.repo}@${s.revision}`, res.status, cfg.token !== undefined, false);
      }
      const text = await readBody(res);
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        throw new HubError(url.href, "the Hub API answered with something that is not JSON");
      }
      const info = repoInfoSchema.safeParse(json);
      if (!info.success) throw new HubError(url.href, "the Hub API answer has no siblings list");
      return info.data;
    } catch (e) {
      if (!(e instanceof TransientError)) throw e;
      if (attempt >= cfg.maxAttempts) throw new HubError(cfg.endpoint, `cannot list ${s.owner}/${s.repo}: ${e.message}`);
      await new Promise((r) => setTimeout(r, Math.min(cfg.retryDelayMs * 2 ** (attempt - 1), 30_000)));
    }
  }
}

// ---- progress on stderr ----

/** A progress bar with %, MB/s and ETA on a TTY; one plain line per file otherwise. */
export function stderrReporter(stream: ProgressStream, minRedrawMs = 100): (e: DownloadEvent) => void {
  const line = new ProgressLine(stream, minRedrawMs);
  let attemptStart = 0;
  let attemptFrom = 0;
  return (e) => {
    if (e.kind === "start") {
      attemptStart = Date.now();
      attemptFrom = e.resumedFrom ?? 0;
      if (line.isTTY) line.draw(`${e.label}: ${attemptFrom > 0 ? `resuming at ${formatBytes(attemptFrom)}` : "starting"}`, true);
    } else if (e.kind === "data") {
      const secs = Math.max(1e-3, (Date.now() - attemptStart) / 1000);
      const rate = (e.received - attemptFrom) / secs;
      const pct = e.total ? `${((100 * e.received) / e.total).toFixed(1).padStart(5)}% ${bar(e.received / e.total, 20)} ` : "";
      const eta = e.total && rate > 0 ? `  ETA ${formatDuration((e.total - e.received) / rate)}` : "";
      line.draw(`${e.label} ${pct}${formatBytes(e.received)}${e.total ? `/${formatBytes(e.total)}` : ""}  ${formatBytes(rate)}/s${eta}`);
    } else if (e.kind === "done") {
      const secs = Math.max(1e-3, e.elapsedMs / 1000);
      line.end(`fennec: downloaded ${e.label} (${formatBytes(e.received)} in ${secs.toFixed(1)} s, ${formatBytes(e.received / secs)}/s)`);
    } else {
      line.note(`fennec: ${e.label}: ${e.message ?? "retrying"}`);
    }
  };
}
