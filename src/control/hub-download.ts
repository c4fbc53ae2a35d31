/**
 * HTTP for the Hub: GET with redirects followed by hand (so the Hub's own `X-Linked-*` headers on
 * the 302 are kept and the token never reaches another host), and a resumable, verified download:
 *
 *   <dest>.part  --(Range: bytes=N-)-->  size check  -->  sha256 check (LFS files)  -->  rename to <dest>
 *
 * A file at <dest> is therefore always complete. Dropped connections, 5xx and 429 are retried with
 * exponential backoff, resuming where the .part file ends; a server that ignores Range (200 instead
 * of 206) restarts the file.
 */
import * as fs from "node:fs";
import * as http from "node:http";
import * as https from "node:https";
import * as path from "node:path";
import { createHash, type Hash } from "node:crypto";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { HubError } from "./hub-spec.js";

export interface HttpOptions {
  /** Sent as `Authorization: Bearer` only to `tokenOrigin` (the Hub endpoint), never to a redirect target elsewhere. */
  readonly token?: string;
  readonly tokenOrigin: string;
  /** Idle timeout of the socket (no bytes for this long = a dropped connection). */
  readonly timeoutMs: number;
}

export interface HubResponse {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: http.IncomingMessage;
  /** The URL that answered (after redirects). */
  readonly url: URL;
  /** The Hub's LFS metadata, from whichever hop carried it (the 302 from /resolve/, usually). */
  readonly linkedSize?: number;
  readonly linkedEtag?: string;
}

const USER_AGENT = "fennec/0.1 (+node)";
const MAX_REDIRECTS = 10;

/** A failure worth retrying (connection dropped, 5xx, 429, truncated body). */
export class TransientError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TransientError";
  }
}

function header(h: http.IncomingHttpHeaders, name: string): string | undefined {
  const v = h[name];
  return Array.isArray(v) ? v[0] : v;
}

function requestOnce(url: URL, headers: Record<string, string>, timeoutMs: number): Promise<http.IncomingMessage> {
  const mod = url.protocol === "https:" ? https : url.protocol === "http:" ? http : undefined;
  if (mod === undefined) return Promise.reject(new HubError(url.href, `unsupported protocol ${url.protocol}`));
  return new Promise((resolve, reject) => {
    const req = mod.get(url, { headers }, resolve);
    req.setTimeout(timeoutMs, () => req.destroy(new TransientError(`no data for ${Math.round(timeoutMs / 1000)} s`)));
    req.on("error", (e) => reject(e instanceof TransientError ? e : new TransientError(networkMessage(e))));
  });
}

export function networkMessage(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  return err.code !== undefined ? `${err.code}${err.message && !err.message.includes(err.code) ? ` (${err.message})` : ""}` : String(err.message ?? e);
}

/** GET `url`, following redirects; the caller owns (and must consume or destroy) `body`. */
export async function hubGet(url: URL, opts: HttpOptions, extra: Record<string, string> = {}): Promise<HubResponse> {
  let current = url;
  let linkedSize: number | undefined;
  let linkedEtag: string | undefined;
  for (let hop = 0; ; hop++) {
    const headers: Record<string, string> = { "user-agent": USER_AGENT, "accept-encoding": "identity", ...extra };
    if (opts.token !== undefined && opts.token !== "" && current.origin === opts.tokenOrigin) headers["authorization"] = `Bearer ${opts.token}`;
    const res = await requestOnce(current, headers, opts.timeoutMs);
    const size = header(res.headers, "x-linked-size");
    if (linkedSize === undefined && size !== undefined && /^\d+$/.test(size)) linkedSize = Number(size);
    linkedEtag ??= header(res.headers, "x-linked-etag");
    const status = res.statusCode ?? 0;
    const location = header(res.headers, "location");
    if (status >= 300 && status < 400 && location !== undefined) {
      res.resume(); // drain the redirect body so the socket can be reused
      if (hop >= MAX_REDIRECTS) throw new HubError(url.href, `more than ${MAX_REDIRECTS} redirects`);
      current = new URL(location, current); // relative or absolute Location
      continue;
    }
    return {
      status, headers: res.headers, body: res, url: current,
      ...(linkedSize !== undefined ? { linkedSize } : {}),
      ...(linkedEtag !== undefined ? { linkedEtag } : {}),
    };
  }
}

/** Read a whole (small) body as text. */
export async function readBody(res: HubResponse, limit = 64 << 20): Promise<string> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const chunk of res.body as AsyncIterable<Buffer>) {
    n += chunk.length;
    if (n > limit) {
      res.body.destroy();
      throw new HubError(res.url.href, `response larger than ${limit} bytes`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString("utf8");
}

/**
 * The sha256 the Hub publishes for an LFS file (`X-Linked-Etag`, else `ETag`): quoted lowercase hex,
 * 64 chars. A git blob ETag (40 hex chars, small non-LFS files) or a CDN's multipart ETag is not one.
 */
export function sha256FromEtag(etag: string | undefined): string | undefined {
  if (etag === undefined) return undefined;
  const v = etag.trim().replace(/^W\//, "").replace(/^"|"$/g, "").toLowerCase();
  return /^[0-9a-f]{64}$/.test(v) ? v : undefined;
}

/** The status -> message table for Hub answers that are not worth retrying. */
export function statusError(what: string, status: number, hasToken: boolean, isFile: boolean): HubError | TransientError {
  if (status === 401 || status === 403) {
    return new HubError(what, hasToken
      ? `HTTP ${status}: access denied with the HF_TOKEN given (gated repo not accepted, or the token lacks access)`
      : `HTTP ${status}: gated or private repo (or no such repo): set HF_TOKEN`, 401);
  }
  if (status === 404) return new HubError(what, isFile ? "HTTP 404: no such file in repo" : "HTTP 404: no such repo or revision", 404);
  if (status === 429 || status >= 500) return new TransientError(`HTTP ${status}`);
  return new HubError(what, `HTTP ${status}`);
}

export interface DownloadEvent {
  readonly kind: "start" | "data" | "done" | "retry";
  /** What is downloaded, e.g. "owner/repo/file.gguf". */
  readonly label: string;
  readonly received: number;
  readonly total?: number;
  /** Bytes already on disk when this attempt started (resume). */
  readonly resumedFrom?: number;
  readonly elapsedMs: number;
  readonly message?: string;
}

export interface DownloadOptions extends HttpOptions {
  readonly label: string;
  readonly maxAttempts: number;
  readonly retryDelayMs: number;
  readonly onEvent: (e: DownloadEvent) => void;
}

/** Download `url` to `dest` (resumably, verified). Resolves once `dest` is complete. */
export async function downloadFile(url: URL, dest: string, opts: DownloadOptions): Promise<void> {
  fs.mkdirSync(path.dirname(dest), { recursive: true });
  const part = `${dest}.part`;
  const t0 = Date.now();
  let restartedStale = false;
  for (let attempt = 1; ; attempt++) {
    const hadPart = partSize(part) > 0;
    try {
      await attemptDownload(url, dest, part, opts, t0);
      return;
    } catch (e) {
      if (e instanceof ChecksumError && hadPart && attempt === 1 && !restartedStale) {
        // A .part left over from an earlier run may belong to an older version of the file.
        restartedStale = true;
        opts.onEvent({ kind: "retry", label: opts.label, received: 0, elapsedMs: Date.now() - t0, message: "resumed file failed verification, downloading again from the start" });
        continue;
      }
      if (e instanceof ChecksumError) throw new HubError(opts.label, e.message);
      if (!(e instanceof TransientError)) throw e;
      if (attempt >= opts.maxAttempts) throw new HubError(opts.label, `download failed after ${attempt} attempts: ${e.message}`);
      const delay = Math.min(opts.retryDelayMs * 2 ** (attempt - 1), 30_000);
      opts.onEvent({ kind: "retry", label: opts.label, received: partSize(part), elapsedMs: Date.now() - t0,
        message: `${e.message}; retrying (${attempt + 1}/${opts.maxAttempts}) in ${(delay / 1000).toFixed(1)} s` });
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}

class ChecksumError extends Error {}

function partSize(part: string): number {
  try {
    return fs.statSync(part).size;
  } catch {
    return 0;
  }
}

async function attemptDownload(url: URL, dest: string, part: string, opts: DownloadOptions, t0: number): Promise<void> {
  const offset = partSize(part);
  const res = await hubGet(url, opts, offset > 0 ? { range: `bytes=${offset}-` } : {});
  const status = res.status;
  const contentRange = header(res.headers, "content-range");
  if (status === 416) {
    res.body.resume();
    // Range past the end: the .part may already be whole (crash before the rename); else start over.
    const total = /\*\/(\d+)/.exec(contentRange ?? "")?.[1];
    if (total !== undefined && Number(total) === offset) return finish(res, part, dest, offset, opts);
    fs.rmSync(part, { force: true });
    throw new TransientError("HTTP 416 on resume, restarting the file");
  }
  if (status !== 200 && status !== 206) {
    res.body.resume();
    throw statusError(opts.label, status, opts.token !== undefined && opts.token !== "", true);
  }
  const { start, total, expectedBody } = bodyRange(res, offset, part);
  const sha = sha256FromEtag(res.linkedEtag ?? header(res.headers, "etag"));
  const hash = sha !== undefined ? createHash("sha256") : undefined;
  if (hash !== undefined && start > 0) await hashPrefix(part, start, hash);

  let received = start;
  opts.onEvent({ kind: "start", label: opts.label, received, ...(total !== undefined ? { total } : {}), resumedFrom: start, elapsedMs: Date.now() - t0 });
  const tap = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      received += chunk.length;
      hash?.update(chunk);
      opts.onEvent({ kind: "data", label: opts.label, received, ...(total !== undefined ? { total } : {}), elapsedMs: Date.now() - t0 });
      cb(null, chunk);
    },
  });
  try {
    await pipeline(res.body, tap, fs.createWriteStream(part, { flags: start > 0 ? "a" : "w" }));
  } catch (e) {
    throw e instanceof HubError ? e : new TransientError(`connection lost at ${received} bytes (${networkMessage(e)})`);
  }
  if (expectedBody !== undefined && received - start < expectedBody) {
    throw new TransientError(`connection closed after ${received - start} of ${expectedBody} bytes`);
  }
  if (total !== undefined && received !== total) {
    if (received < total) throw new TransientError(`got ${received} of ${total} bytes`);
    fs.rmSync(part, { force: true });
    throw new HubError(opts.label, `size mismatch: expected ${total} bytes, got ${received}`);
  }
  if (hash !== undefined && sha !== undefined) {
    const got = hash.digest("hex");
    if (got !== sha) {
      fs.rmSync(part, { force: true });
      throw new ChecksumError(`sha256 mismatch: expected ${sha}, got ${got} (corrupt download deleted; run again)`);
    }
  }
  fs.renameSync(part, dest);
  opts.onEvent({ kind: "done", label: opts.label, received, ...(total !== undefined ? { total } : {}), elapsedMs: Date.now() - t0 });
}

/** Where the body starts in the file and how long the file is: 206 resumes at `offset`, 200 restarts. */
function bodyRange(res: HubResponse, offset: number, part: string): { start: number; total?: number; expectedBody?: number } {
  const length = header(res.headers, "content-length");
  const expectedBody = length !== undefined ? Number(length) : undefined;
  const known = (total: number | undefined, start: number): { start: number; total?: number; expectedBody?: number } =>
    ({ start, ...(total !== undefined ? { total } : {}), ...(expectedBody !== undefined ? { expectedBody } : {}) });
  if (res.status !== 206) return known(res.linkedSize ?? expectedBody, 0); // 200: the whole file (a server that ignores Range restarts it)
  const contentRange = header(res.headers, "content-range");
  const m = /bytes (\d+)-(\d+)\/(\d+|\*)/.exec(contentRange ?? "");
  if (!m || Number(m[1]) !== offset) {
    res.body.destroy();
    fs.rmSync(part, { force: true });
    throw new TransientError(`unexpected Content-Range ${JSON.stringify(contentRange)} for a resume at ${offset}, restarting`);
  }
  return known(res.linkedSize ?? (m[3] !== "*" ? Number(m[3]) : undefined), offset);
}

/** The 416 path: the .part is whole; verify it like any download and move it into place. */
async function finish(res: HubResponse, part: string, dest: string, size: number, opts: DownloadOptions): Promise<void> {
  const sha = sha256FromEtag(res.linkedEtag ?? header(res.headers, "etag"));
  if (res.linkedSize !== undefined && res.linkedSize !== size) {
    fs.rmSync(part, { force: true });
    throw new TransientError("partial file does not match the published size, restarting");
  }
  if (sha !== undefined) {
    const hash = createHash("sha256");
    await hashPrefix(part, size, hash);
    if (hash.digest("hex") !== sha) {
      fs.rmSync(part, { force: true });
      throw new ChecksumError(`sha256 mismatch on the resumed file (deleted; run again)`);
    }
  }
  fs.renameSync(part, dest);
  opts.onEvent({ kind: "done", label: opts.label, received: size, total: size, elapsedMs: 0 });
}

async function hashPrefix(file: string, end: number, hash: Hash): Promise<void> {
  if (end <= 0) return;
  for await (const chunk of fs.createReadStream(file, { start: 0, end: end - 1 }) as AsyncIterable<Buffer>) hash.update(chunk);
}
