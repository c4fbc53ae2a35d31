/**
 * Getting models from the Hub, against a local fake Hub (test/helpers/fake-hub.ts) on 127.0.0.1:
 * redirects to a CDN, sha256 from X-Linked-Etag, resume with Range after a dropped connection,
 * servers that ignore Range, wrong checksums, 404, 401 / HF_TOKEN, the cache, model repos, `fennec pull`.
 */
import { after, test } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { randomBytes } from "node:crypto";
import { resolveModelPath, parseHubSpec, stderrReporter, HubError, type DownloadEvent, type HubOptions } from "../../src/control/hub.js";
import { sha256FromEtag } from "../../src/control/hub-download.js";
import { openModelFiles } from "../../src/weights/load.js";
import { startFakeHub, sha256, type FakeHub, type FakeHubOptions } from "../helpers/fake-hub.js";
import { buildStories260KHf } from "../helpers/hf-fixture.js";
import { runCli } from "../helpers/run-cli.js";

const tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), "fennec-hub-"));
after(() => fs.rmSync(tmpRoot, { recursive: true, force: true }));
let numCaches = 0;
const freshCache = (): string => path.join(tmpRoot, `cache-${numCaches++}`);

const gguf = randomBytes(300_000); // not a real GGUF: the downloader does not care
const small = Buffer.from('{"hello": "world"}\n');

async function withHub(opts: FakeHubOptions, fn: (hub: FakeHub) => Promise<void>): Promise<void> {
  const hub = await startFakeHub(opts);
  try {
    await fn(hub);
  } finally {
    await hub.close();
  }
}

function options(hub: FakeHub, extra: Partial<HubOptions> = {}): HubOptions & { events: DownloadEvent[] } {
  const events: DownloadEvent[] = [];
  return { endpoint: hub.url, cacheDir: freshCache(), token: "", retryDelayMs: 5, timeoutMs: 5000, onProgress: (e) => events.push(e), ...extra, events };
}

function partFiles(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return (fs.readdirSync(dir, { recursive: true }) as string[]).filter((f) => f.endsWith(".part"));
}

test("spec parsing: repo, file, subfolder, revision", () => {
  assert.deepEqual(parseHubSpec("hf:owner/repo"), { spec: "hf:owner/repo", owner: "owner", repo: "repo", revision: "main", kind: "model", path: "" });
  const f = parseHubSpec("hf:TheOrg/Some-Model.v2-GGUF/q4/model-Q4_K_M.gguf@refs/pr/3");
  assert.equal(f.kind, "file");
  assert.equal(f.path, "q4/model-Q4_K_M.gguf");
  assert.equal(f.revision, "refs/pr/3");
  assert.equal(parseHubSpec("hf:o/r/sub@abc").kind, "model");
  for (const bad of ["hf:", "hf:owner", "hf:owner/", "hf:own er/repo", "hf:o/r/../x.gguf", "hf:o/r@", "hf:o/r@a/../b"]) {
    assert.throws(() => parseHubSpec(bad), /expected hf:<owner>\/<repo>/, bad);
  }
});

test("sha256 from an ETag: quoted 64-hex only (a git sha1 or an S3 ETag is not one)", () => {
  const h = "a".repeat(64);
  assert.equal(sha256FromEtag(`"${h}"`), h);
  assert.equal(sha256FromEtag(`W/"${h.toUpperCase()}"`), h);
  assert.equal(sha256FromEtag(`"${"b".repeat(40)}"`), undefined);
  assert.equal(sha256FromEtag(`"0123abcd-1"`), undefined);
  assert.equal(sha256FromEtag(undefined), undefined);
});

test("local paths pass through untouched", async () => {
  assert.equal(await resolveModelPath("./model.gguf"), "./model.gguf");
  assert.equal(await resolveModelPath("/abs/dir"), "/abs/dir");
});

test("GGUF file in a subfolder at a revision: 302 to the CDN (relative Location), verified, cached by repo/revision/path", async () => {
  await withHub({ repos: { "org/m-GGUF": { files: { "q4/m.Q4_K_M.gguf": gguf }, sha: "c0ffee" } }, revisions: ["main", "v1"] }, async (hub) => {
    const o = options(hub);
    const local = await resolveModelPath("hf:org/m-GGUF/q4/m.Q4_K_M.gguf@v1", o);
    assert.equal(local, path.join(o.cacheDir ?? "", "org", "m-GGUF", "v1", "q4", "m.Q4_K_M.gguf"));
    assert.ok(fs.readFileSync(local).equals(gguf));
    assert.deepEqual(partFiles(o.cacheDir ?? ""), []);
    assert.deepEqual(hub.requests.map((r) => r.path), ["/org/m-GGUF/resolve/v1/q4/m.Q4_K_M.gguf", `/cdn/${sha256(gguf)}`]);
    assert.ok(o.events.some((e) => e.kind === "done" && e.received === gguf.length && e.total === gguf.length));

    // Second call: the file is complete, so no request at all.
    const before = hub.requests.length;
    assert.equal(await resolveModelPath("hf:org/m-GGUF/q4/m.Q4_K_M.gguf@v1", o), local);
    assert.equal(hub.requests.length, before);
  });
});

test("a connection dropped mid-body is resumed with Range, and the file is whole and correct", async () => {
  await withHub({ repos: { "org/m": { files: { "m.gguf": gguf } } }, dropFirstAt: { "org/m/m.gguf": 0.4 } }, async (hub) => {
    const o = options(hub);
    const local = await resolveModelPath("hf:org/m/m.gguf", o);
    assert.ok(fs.readFileSync(local).equals(gguf));
    const cdnHits = hub.requests.filter((r) => r.path.startsWith("/cdn/"));
    assert.equal(cdnHits.length, 2);
    assert.equal(cdnHits[0]?.headers.range, undefined);
    const m = /^bytes=(\d+)-$/.exec(cdnHits[1]?.headers.range ?? "");
    assert.ok(m, `second request should resume with Range, got ${String(cdnHits[1]?.headers.range)}`);
    assert.ok(Number(m[1]) > 0 && Number(m[1]) < gguf.length);
    assert.ok(o.events.some((e) => e.kind === "retry"));
    assert.ok(o.events.some((e) => e.kind === "start" && e.resumedFrom === Number(m[1])));
    assert.deepEqual(partFiles(o.cacheDir ?? ""), []);
  });
});

test("a server that ignores Range (200 instead of 206) restarts the file", async () => {
  await withHub({ repos: { "org/m": { files: { "m.gguf": gguf } } }, dropFirstAt: { "org/m/m.gguf": 0.5 }, ignoreRange: true }, async (hub) => {
    const o = options(hub);
    const local = await resolveModelPath("hf:org/m/m.gguf", o);
    assert.ok(fs.readFileSync(local).equals(gguf));
    assert.equal(hub.requests.filter((r) => r.path.startsWith("/cdn/")).length, 2);
  });
});

test("a leftover .part from an earlier run is resumed", async () => {
  await withHub({ repos: { "org/m": { files: { "m.gguf": gguf } } } }, async (hub) => {
    const o = options(hub);
    const dest = path.join(o.cacheDir ?? "", "org", "m", "main", "m.gguf");
    fs.mkdirSync(path.dirname(dest), { recursive: true });
    fs.writeFileSync(`${dest}.part`, gguf.subarray(0, 1000));
    assert.equal(await resolveModelPath("hf:org/m/m.gguf", o), dest);
    assert.ok(fs.readFileSync(dest).equals(gguf));
    assert.equal(hub.requests.find((r) => r.path.startsWith("/cdn/"))?.headers.range, "bytes=1000-");
  });
});

test("a leftover .part that is already whole: 416 on resume, verified and moved into place", async () => {
  await withHub({ repos: { "org/m": { files: { "m.gguf": gguf } } } }, async (hub) => {
    const o = options(hub);
    const dest = path.join(o.cacheDir ?? "", "org", "m", "main", "m.gguf");
    fs.mkdirSync(path.dirname(dest), { recursive: true });
    fs.writeFileSync(`${dest}.part`, gguf);
    assert.equal(await resolveModelPath("hf:org/m/m.gguf", o), dest);
    assert.ok(fs.readFileSync(dest).equals(gguf));
    assert.equal(hub.requests.filter((r) => r.path.startsWith("/cdn/")).length, 1);
  });
});

test("progress: a redrawn bar with %, MB/s and ETA on a TTY; one line per file otherwise", () => {
  let tty = "";
  const onTty = stderrReporter({ isTTY: true, columns: 160, write: (t: string) => { tty += t; return true; } }, 0);
  const ev = (kind: DownloadEvent["kind"], received: number, elapsedMs = 0): DownloadEvent => ({ kind, label: "org/m/m.gguf", received, total: 4_000_000, elapsedMs, resumedFrom: 0 });
  onTty(ev("start", 0));
  onTty(ev("data", 1_000_000));
  onTty(ev("done", 4_000_000, 2000));
  assert.match(tty, /\rorg\/m\/m\.gguf  25\.0% \[#####\.+\] 1\.0 MB\/4\.0 MB  [\d.]+ [KMG]?B\/s  ETA \d/);
  assert.match(tty, /\rfennec: downloaded org\/m\/m\.gguf \(4\.0 MB in 2\.0 s, 2\.0 MB\/s\)\x1b\[K\n$/);
  let plain = "";
  const onPipe = stderrReporter({ isTTY: false, write: (t: string) => { plain += t; return true; } });
  onPipe(ev("start", 0));
  onPipe(ev("data", 1_000_000));
  onPipe({ ...ev("retry", 1_000_000), message: "connection lost; retrying (2/5) in 1.0 s" });
  onPipe(ev("done", 4_000_000, 2000));
  assert.equal(plain, "fennec: org/m/m.gguf: connection lost; retrying (2/5) in 1.0 s\nfennec: downloaded org/m/m.gguf (4.0 MB in 2.0 s, 2.0 MB/s)\n");
});

test("a wrong checksum is an error, and nothing is left in the cache", async () => {
  await withHub({ repos: { "org/m": { files: { "m.gguf": gguf } } }, wrongSha: new Set(["org/m/m.gguf"]) }, async (hub) => {
    const o = options(hub);
    await assert.rejects(resolveModelPath("hf:org/m/m.gguf", o), (e: unknown) => e instanceof HubError && /org\/m\/m\.gguf: sha256 mismatch: expected [0-9a-f]{64}, got [0-9a-f]{64}/.test(e.message));
    assert.equal(fs.existsSync(path.join(o.cacheDir ?? "", "org", "m", "main", "m.gguf")), false);
    assert.deepEqual(partFiles(o.cacheDir ?? ""), []);
  });
});

test("404: no such file in repo", async () => {
  await withHub({ repos: { "org/m": { files: { "m.gguf": gguf } } } }, async (hub) => {
    await assert.rejects(resolveModelPath("hf:org/m/other.gguf", options(hub)), (e: unknown) => e instanceof HubError && e.status === 404 && /org\/m\/other\.gguf: HTTP 404: no such file in repo/.test(e.message));
  });
});

test("401 without a token names HF_TOKEN; with it the download works, and the token does not follow a redirect to another host", async () => {
  await withHub({ repos: { "org/gated": { files: { "m.gguf": gguf }, gated: true } }, token: "hf_secret", cdnOnOtherHost: true }, async (hub) => {
    await assert.rejects(resolveModelPath("hf:org/gated/m.gguf", options(hub)), (e: unknown) => e instanceof HubError && /HTTP 401: gated or private repo.*: set HF_TOKEN/.test(e.message));
    await assert.rejects(resolveModelPath("hf:org/gated/m.gguf", options(hub, { token: "hf_wrong" })), /access denied with the HF_TOKEN given/);
    hub.requests.length = 0;
    const local = await resolveModelPath("hf:org/gated/m.gguf", options(hub, { token: "hf_secret" }));
    assert.ok(fs.readFileSync(local).equals(gguf));
    const hubHit = hub.requests.find((r) => r.server === "hub");
    const cdnHit = hub.requests.find((r) => r.server === "cdn");
    assert.equal(hubHit?.headers.authorization, "Bearer hf_secret");
    assert.ok(cdnHit, "the file came from the other host");
    assert.equal(cdnHit.headers.authorization, undefined);
  });
});

test("the endpoint and token come from HF_ENDPOINT / HF_TOKEN, the cache from FENNEC_CACHE", async () => {
  await withHub({ repos: { "org/gated": { files: { "m.gguf": gguf }, gated: true } }, token: "hf_env" }, async (hub) => {
    const saved = { e: process.env["HF_ENDPOINT"], t: process.env["HF_TOKEN"], c: process.env["FENNEC_CACHE"] };
    const cache = freshCache();
    Object.assign(process.env, { HF_ENDPOINT: hub.url, HF_TOKEN: "hf_env", FENNEC_CACHE: cache });
    try {
      const local = await resolveModelPath("hf:org/gated/m.gguf", { onProgress: () => {} });
      assert.equal(local, path.join(cache, "org", "gated", "main", "m.gguf"));
    } finally {
      for (const [k, v] of [["HF_ENDPOINT", saved.e], ["HF_TOKEN", saved.t], ["FENNEC_CACHE", saved.c]] as const) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  });
});

test("safetensors repo: file list from the API, only the model's files and the index's shards, pinned to the commit, loadable, cached", async () => {
  const fixture = buildStories260KHf({ numShards: 2 });
  const files: Record<string, Buffer> = {};
  for (const f of fs.readdirSync(fixture.dir)) files[f] = fs.readFileSync(path.join(fixture.dir, f));
  files["README.md"] = Buffer.from("# a model\n");
  files["consolidated.safetensors"] = Buffer.from("not wanted: the index names the shards");
  files["onnx/model.onnx"] = Buffer.from("not wanted");
  files["generation_config.json"] = small;
  const sha = "0123456789abcdef0123456789abcdef01234567";
  await withHub({ repos: { "org/stories": { files, sha } } }, async (hub) => {
    const o = options(hub);
    const dir = await resolveModelPath("hf:org/stories", o);
    assert.equal(dir, path.join(o.cacheDir ?? "", "org", "stories", "main"));
    const got = fs.readdirSync(dir).filter((f) => !f.startsWith(".")).sort();
    const expected = Object.keys(files).filter((f) => f.endsWith(".json") || /^model-\d+-of-\d+\.safetensors$/.test(f)).sort();
    assert.deepEqual(got, expected);
    for (const f of got) assert.ok(fs.readFileSync(path.join(dir, f)).equals(files[f] ?? Buffer.alloc(0)), f);
    assert.equal(hub.requests[0]?.path, "/api/models/org/stories/revision/main");
    assert.ok(hub.requests.slice(1).filter((r) => r.path.includes("/resolve/")).every((r) => r.path.startsWith(`/org/stories/resolve/${sha}/`)));
    const model = openModelFiles(dir);
    assert.equal(model.config.numLayers, 5);

    const before = hub.requests.length;
    assert.equal(await resolveModelPath("hf:org/stories", o), dir);
    assert.equal(hub.requests.length, before, "a complete cached model repo makes no request");
  });
});

test("a GGUF-only repo asked for as a model repo names its GGUF files; an unknown repo is 401 like the Hub", async () => {
  await withHub({ repos: { "org/m-GGUF": { files: { "m.Q4_0.gguf": gguf, "m.Q8_0.gguf": gguf, "README.md": small } } } }, async (hub) => {
    await assert.rejects(resolveModelPath("hf:org/m-GGUF", options(hub)), /no config\.json in org\/m-GGUF; it holds GGUF files, name one: hf:org\/m-GGUF\/m\.Q4_0\.gguf, hf:org\/m-GGUF\/m\.Q8_0\.gguf/);
    await assert.rejects(resolveModelPath("hf:org/nope", options(hub)), /gated or private repo \(or no such repo\): set HF_TOKEN/);
    await assert.rejects(resolveModelPath("hf:org/m-GGUF@v9", options(hub)), /HTTP 404: no such repo or revision/);
  });
});

test("an unreachable endpoint fails after the retries with one clear line", async () => {
  const o = { endpoint: "http://127.0.0.1:9", cacheDir: freshCache(), maxAttempts: 2, retryDelayMs: 1, onProgress: () => {} };
  await assert.rejects(resolveModelPath("hf:org/m/m.gguf", o), (e: unknown) => e instanceof HubError && /download failed after 2 attempts: ECONNREFUSED/.test(e.message) && !e.message.includes("\n"));
});

test("fennec pull prints the local path; errors are one line and exit 1", async () => {
  await withHub({ repos: { "org/m": { files: { "m.gguf": gguf } } } }, async (hub) => {
    const cache = freshCache();
    const ok = await runCli(["pull", "hf:org/m/m.gguf", "--cache-dir", cache], { HF_ENDPOINT: hub.url, HF_TOKEN: "" });
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(ok.stdout, `${path.join(cache, "org", "m", "main", "m.gguf")}\n`);
    assert.match(ok.stderr, /^fennec: downloaded org\/m\/m\.gguf \(300 KB in [\d.]+ s, .*\/s\)\n$/);
    const missing = await runCli(["pull", "hf:org/m/none.gguf", "--cache-dir", cache], { HF_ENDPOINT: hub.url, HF_TOKEN: "" });
    assert.equal(missing.code, 1);
    assert.equal(missing.stderr, "fennec: org/m/none.gguf: HTTP 404: no such file in repo\n");
    const bad = await runCli(["pull", "./local.gguf"]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /^fennec: model: expected hf:<owner>\/<repo>/);
  });
});
