/**
 * A local stand-in for the Hugging Face Hub on 127.0.0.1, answering the way huggingface.co does:
 *   GET /api/models/{owner}/{repo}/revision/{rev}   -> { id, sha, siblings: [{ rfilename }] }
 *   GET /{owner}/{repo}/resolve/{rev}/{path}        -> small files: 200 + git-blob ETag (40 hex);
 *       LFS files (.gguf, .safetensors): 302 to a "CDN" with X-Linked-Etag "<sha256>" and X-Linked-Size
 *   GET /cdn/{sha256}                               -> the bytes, with Range support (206)
 * The CDN is a path on the same server (relative Location) or, with `cdnOnOtherHost`, a second server
 * on another port (absolute Location: another origin, so the token must not follow).
 * Fault injection: cut a body mid-way on its first request, ignore Range, publish a wrong sha256.
 */
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { createHash } from "node:crypto";

export interface FakeRepo {
  readonly files: Readonly<Record<string, Buffer>>;
  /** Commit sha the API reports (and /resolve/ accepts besides the branch names). */
  readonly sha?: string;
  /** Answers 401 without `Authorization: Bearer <token>`. */
  readonly gated?: boolean;
}

export interface FakeHubOptions {
  readonly repos: Readonly<Record<string, FakeRepo>>;
  /** The token that opens gated repos. */
  readonly token?: string;
  /** Branches/tags /resolve/ accepts (besides each repo's sha). Default ["main"]. */
  readonly revisions?: readonly string[];
  readonly cdnOnOtherHost?: boolean;
  /** "owner/repo/path": the first CDN response sends this fraction of the body, then drops the connection. */
  readonly dropFirstAt?: Readonly<Record<string, number>>;
  /** The CDN answers every request with 200 and the whole body (as if it did not support Range). */
  readonly ignoreRange?: boolean;
  /** "owner/repo/path" whose X-Linked-Etag is a wrong sha256. */
  readonly wrongSha?: ReadonlySet<string>;
}

export interface RecordedRequest {
  readonly server: "hub" | "cdn";
  readonly path: string;
  readonly headers: http.IncomingHttpHeaders;
}

export interface FakeHub {
  readonly url: string;
  readonly requests: RecordedRequest[];
  close(): Promise<void>;
}

const isLfs = (p: string): boolean => p.endsWith(".gguf") || p.endsWith(".safetensors");
export const sha256 = (b: Buffer): string => createHash("sha256").update(b).digest("hex");
const gitSha1 = (b: Buffer): string => createHash("sha1").update(`blob ${b.length}\0`).update(b).digest("hex");

async function listen(server: http.Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

export async function startFakeHub(opts: FakeHubOptions): Promise<FakeHub> {
  const requests: RecordedRequest[] = [];
  const blobs = new Map<string, { data: Buffer; key: string }>();
  for (const [name, repo] of Object.entries(opts.repos)) {
    for (const [p, data] of Object.entries(repo.files)) blobs.set(sha256(data), { data, key: `${name}/${p}` });
  }
  const dropped = new Set<string>();

  const serveBlob = (req: http.IncomingMessage, res: http.ServerResponse, hash: string): void => {
    const blob = blobs.get(hash);
    if (blob === undefined) {
      res.writeHead(404).end("no such blob");
      return;
    }
    const { data, key } = blob;
    const cdnEtag = `"${createHash("md5").update(data).digest("hex")}-1"`; // an S3-style ETag: not a sha256
    const drop = opts.dropFirstAt?.[key];
    if (drop !== undefined && !dropped.has(key)) {
      dropped.add(key);
      const n = Math.floor(data.length * drop);
      res.writeHead(200, { "content-length": String(data.length), etag: cdnEtag });
      res.write(data.subarray(0, n), () => setTimeout(() => res.socket?.destroy(), 20));
      return;
    }
    const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? "");
    if (range && !opts.ignoreRange) {
      const start = Number(range[1]);
      if (start >= data.length) {
        res.writeHead(416, { "content-range": `bytes */${data.length}` }).end();
        return;
      }
      res.writeHead(206, { "content-length": String(data.length - start), "content-range": `bytes ${start}-${data.length - 1}/${data.length}`, etag: cdnEtag });
      res.end(data.subarray(start));
      return;
    }
    res.writeHead(200, { "content-length": String(data.length), etag: cdnEtag, "accept-ranges": "bytes" });
    res.end(data);
  };

  let cdnBase = "";
  const cdn = opts.cdnOnOtherHost ? http.createServer((req, res) => {
    requests.push({ server: "cdn", path: req.url ?? "", headers: req.headers });
    const m = /^\/cdn\/([0-9a-f]{64})$/.exec(req.url ?? "");
    if (m?.[1] !== undefined) serveBlob(req, res, m[1]);
    else res.writeHead(404).end();
  }) : undefined;

  const hub = http.createServer((req, res) => {
    requests.push({ server: "hub", path: req.url ?? "", headers: req.headers });
    const url = new URL(req.url ?? "/", "http://x");
    const segs = url.pathname.split("/").slice(1).map(decodeURIComponent);
    const json = (status: number, body: unknown, headers: Record<string, string> = {}): void => {
      res.writeHead(status, { "content-type": "application/json", ...headers }).end(JSON.stringify(body));
    };
    const authorized = (repo: FakeRepo): boolean => !repo.gated || req.headers.authorization === `Bearer ${opts.token ?? ""}`;
    const revisionOk = (repo: FakeRepo, rev: string): boolean => (opts.revisions ?? ["main"]).includes(rev) || rev === repo.sha;

    if (segs[0] === "cdn" && segs[1] !== undefined && !opts.cdnOnOtherHost) return serveBlob(req, res, segs[1]);
    if (segs[0] === "api" && segs[1] === "models" && segs[4] === "revision") {
      const name = `${segs[2] ?? ""}/${segs[3] ?? ""}`;
      const repo = opts.repos[name];
      const rev = segs.slice(5).join("/");
      if (repo === undefined) return json(401, { error: "Repository not found" }, { "x-error-code": "RepoNotFound" });
      if (!authorized(repo)) return json(401, { error: "Access to this model is restricted" }, { "x-error-code": "GatedRepo" });
      if (!revisionOk(repo, rev)) return json(404, { error: `Invalid rev id: ${rev}` }, { "x-error-code": "RevisionNotFound" });
      return json(200, { id: name, sha: repo.sha, siblings: Object.keys(repo.files).map((rfilename) => ({ rfilename })) });
    }
    if (segs[2] === "resolve") {
      const name = `${segs[0] ?? ""}/${segs[1] ?? ""}`;
      const repo = opts.repos[name];
      const rev = segs[3] ?? "";
      const file = segs.slice(4).join("/");
      if (repo === undefined) return json(401, { error: "Repository not found" }, { "x-error-code": "RepoNotFound" });
      if (!authorized(repo)) return json(401, { error: "Access restricted" }, { "x-error-code": "GatedRepo" });
      if (!revisionOk(repo, rev)) return json(404, { error: "Revision not found" }, { "x-error-code": "RevisionNotFound" });
      const data = repo.files[file];
      if (data === undefined) return json(404, { error: "Entry not found" }, { "x-error-code": "EntryNotFound" });
      if (!isLfs(file)) {
        res.writeHead(200, { "content-length": String(data.length), etag: `"${gitSha1(data)}"` }).end(data);
        return;
      }
      const hash = sha256(data);
      const published = opts.wrongSha?.has(`${name}/${file}`) ? sha256(Buffer.from("something else")) : hash;
      res.writeHead(302, {
        location: opts.cdnOnOtherHost ? `${cdnBase}/cdn/${hash}` : `/cdn/${hash}`,
        "x-linked-etag": `"${published}"`,
        "x-linked-size": String(data.length),
        etag: `"${published}"`,
      }).end();
      return;
    }
    json(404, { error: "not found" });
  });

  const url = await listen(hub);
  if (cdn !== undefined) cdnBase = await listen(cdn);
  const close = (s: http.Server): Promise<void> => new Promise((resolve) => {
    s.closeAllConnections();
    s.close(() => resolve());
  });
  return {
    url,
    requests,
    close: async () => {
      await close(hub);
      if (cdn !== undefined) await close(cdn);
    },
  };
}
