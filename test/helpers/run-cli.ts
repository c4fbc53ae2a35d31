/** Run the fennec CLI from src/ in a child process (async, so an in-process test server keeps answering). */
import { spawn, spawnSync } from "node:child_process";
import * as path from "node:path";
import { repoRoot } from "./paths.js";

export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export function runCli(args: readonly string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 120_000): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", path.join(repoRoot, "test/helpers/cli-entry.ts"), ...args], {
      cwd: repoRoot,
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => { stdout += d; });
    child.stderr.setEncoding("utf8").on("data", (d: string) => { stderr += d; });
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** The same, synchronously (for tests that need no server in-process). */
export function runCliSync(args: readonly string[]): CliResult {
  const r = spawnSync(process.execPath, ["--import", "tsx", path.join(repoRoot, "test/helpers/cli-entry.ts"), ...args], { encoding: "utf8", cwd: repoRoot });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
