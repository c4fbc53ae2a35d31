/**
 * Headless Chromium for tests that must see a page rendered: `--dump-dom` prints the DOM after the
 * page's scripts ran, and `--enable-logging=stderr` puts console errors ("Uncaught ...") on stderr.
 */
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { pathToFileURL } from "node:url";

export function findChromium(): string | undefined {
  for (const name of ["chromium", "chromium-browser", "google-chrome", "google-chrome-stable"]) {
    const r = spawnSync("sh", ["-c", `command -v ${name}`], { encoding: "utf8" });
    const p = r.stdout.trim();
    if (r.status === 0 && p !== "") return p;
  }
  return undefined;
}

/** Chromium flags for a sandbox-less, offline, throwaway run (no network beyond the file itself). */
function flags(profile: string): string[] {
  return [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--no-default-browser-check",
    "--disable-extensions", `--user-data-dir=${profile}`,
  ];
}

function run(bin: string, args: string[], timeoutMs: number): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { stdio: ["ignore", "pipe", "pipe"] });
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

export async function dumpDom(bin: string, file: string, timeoutMs = 60_000): Promise<{ code: number | null; dom: string; stderr: string }> {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), "fennec-chromium-"));
  try {
    const r = await run(bin, [...flags(profile), "--enable-logging=stderr", "--v=0", "--window-size=1200,1600", "--dump-dom", pathToFileURL(file).href], timeoutMs);
    return { code: r.code, dom: r.stdout, stderr: r.stderr };
  } finally {
    fs.rmSync(profile, { recursive: true, force: true });
  }
}

export async function screenshot(bin: string, file: string, png: string, size = "1200,1600"): Promise<void> {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), "fennec-chromium-"));
  try {
    await run(bin, [...flags(profile), `--screenshot=${png}`, `--window-size=${size}`, "--hide-scrollbars", pathToFileURL(file).href], 60_000);
  } finally {
    fs.rmSync(profile, { recursive: true, force: true });
  }
}
