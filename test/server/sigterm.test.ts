/**
 * `fennec serve` as a process (bin/fennec.js on the built dist/; npm test builds first): it
 * listens, serves, and on SIGTERM stops accepting, finishes the in-flight request, and exits 0.
 * Bad flags and a missing model exit 1 with one line.
 */
import { test } from "node:test";
import * as assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import * as path from "node:path";
import OpenAI from "openai";
import { repoRoot, stories } from "../helpers/paths.js";
import { raw, waitFor } from "../helpers/server.js";

const bin = path.join(repoRoot, "bin/fennec.js");

test("serve: SIGTERM during a streamed request lets it finish, then the process exits 0", async () => {
  const child = spawn(process.execPath, [bin, "serve", stories("stories260K.gguf"), "--port", "0", "--ctx-size", "1024", "--served-model-name", "tiny"], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (d: string) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  try {
    await waitFor(async () => /listening on (http:\/\/\S+)/.test(stderr), 10_000, "the listening line");
    const url = /listening on (http:\/\/\S+)/.exec(stderr)?.[1] ?? "";
    await waitFor(async () => (await raw(`${url}/health`)).status === 200, 10_000, "/health 200");
    // The startup line says what the KV cache holds: its tokens and (default) dtype.
    assert.match(stderr, /KV cache \d+ tokens f16, backend/);
    const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: "unused", maxRetries: 0 });
    const stream = await client.completions.create({
      model: "tiny", prompt: "Once upon a time", max_tokens: 900, temperature: 0, stream: true,
      ...({ ignore_eos: true } as unknown as Record<string, never>),
    });
    const it = stream[Symbol.asyncIterator]();
    assert.equal((await it.next()).done, false);
    child.kill("SIGTERM");
    let numChunks = 1;
    let finish: string | null | undefined;
    for (let r = await it.next(); !r.done; r = await it.next()) {
      numChunks++;
      finish = r.value.choices[0]?.finish_reason ?? finish;
    }
    assert.equal(finish, "length", "the in-flight request ran to max_tokens");
    assert.ok(numChunks > 100, `${numChunks} chunks`);
    assert.equal(await exited, 0, stderr);
    assert.match(stderr, /SIGTERM: shutting down/);
    assert.match(stderr, /stopped/);
  } finally {
    if (child.exitCode === null) child.kill("SIGKILL");
  }
});

test("serve: a missing model or a bad flag exits 1 with one line", () => {
  const missing = spawnSync(process.execPath, [bin, "serve", "/nonexistent/model.gguf", "--port", "0"], { encoding: "utf8" });
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /fennec: \/nonexistent\/model.gguf: file: no such file or directory\n$/);
  const badFlag = spawnSync(process.execPath, [bin, "serve", stories("stories260K.gguf"), "--kv-cache-memory", "lots"], { encoding: "utf8" });
  assert.equal(badFlag.status, 1);
  assert.match(badFlag.stderr, /--kv-cache-memory: expected a size in bytes/);
  const badDtype = spawnSync(process.execPath, [bin, "serve", stories("stories260K.gguf"), "--kv-cache-dtype", "f8"], { encoding: "utf8" });
  assert.equal(badDtype.status, 1);
  assert.match(badDtype.stderr, /^fennec: --kv-cache-dtype: expected f32, f16, q8_0, got "f8"\n$/);
  // q8_0 needs headDim % 32 == 0; stories260K's heads are 8 wide: refused at load with one line, before the engine starts.
  const q8 = spawnSync(process.execPath, [bin, "serve", stories("stories260K.gguf"), "--port", "0", "--kv-cache-dtype", "q8_0"], { encoding: "utf8" });
  assert.equal(q8.status, 1);
  assert.match(q8.stderr, /fennec: --kv-cache-dtype: q8_0 stores blocks of 32 values within a head, but this model's headDim is 8 \(not a multiple of 32\): use f16 \(or f32\)\n$/);
  const badTemplate = spawnSync(process.execPath, [bin, "serve", stories("stories260K.gguf"), "--port", "0", "--chat-template", "/nonexistent.jinja"], { encoding: "utf8" });
  assert.equal(badTemplate.status, 1);
  assert.match(badTemplate.stderr, /\/nonexistent.jinja: chat template: cannot read \(ENOENT\)/);
});
