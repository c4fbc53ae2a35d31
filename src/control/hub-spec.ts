/**
 * `hf:` model specs and the Hub's error type.
 *
 *   hf:<owner>/<repo>                         a safetensors model repo (revision "main")
 *   hf:<owner>/<repo>@<revision>              ... at a branch, tag or commit
 *   hf:<owner>/<repo>/<dir>[@<revision>]      a safetensors model in a subfolder of the repo
 *   hf:<owner>/<repo>/<path.gguf>[@<revision>] one GGUF file (path may contain folders)
 *
 * The revision is everything after the first "@" (so "refs/pr/1" works).
 */
import { FennecError, InvalidArgumentError } from "../errors.js";

export interface HubSpec {
  /** The spec as given, for messages. */
  readonly spec: string;
  readonly owner: string;
  readonly repo: string;
  readonly revision: string;
  /** "file": one GGUF file at `path`; "model": a safetensors model in folder `path` ("" = root). */
  readonly kind: "file" | "model";
  readonly path: string;
}

/** A failure talking to the Hub: gated repo, missing file, checksum mismatch, network. */
export class HubError extends FennecError {
  override readonly status: number;
  override readonly code = "hub_error";
  constructor(what: string, problem: string, status = 502) {
    super(`${what}: ${problem}`);
    this.name = "HubError";
    this.status = status;
  }
}

export const HF_PREFIX = "hf:";

export function isHubSpec(s: string): boolean {
  return s.startsWith(HF_PREFIX);
}

// Hub names: letters, digits, "-", "_", "." (not starting with "." or "-").
const NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;

export function parseHubSpec(spec: string): HubSpec {
  if (!isHubSpec(spec)) throw new InvalidArgumentError("model", `${JSON.stringify(spec)} is not an hf: spec`);
  const bad = (problem: string): never => {
    throw new InvalidArgumentError("model", `${JSON.stringify(spec)}: ${problem}; expected hf:<owner>/<repo>[/<file.gguf>][@<revision>]`);
  };
  let body = spec.slice(HF_PREFIX.length).replace(/^\/+/, "");
  let revision = "main";
  const at = body.indexOf("@");
  if (at >= 0) {
    revision = body.slice(at + 1);
    body = body.slice(0, at);
    if (revision === "" || revision.split("/").some((s) => s === "" || s === "." || s === "..")) bad("bad revision");
  }
  const parts = body.split("/");
  if (parts.length > 0 && parts[parts.length - 1] === "") parts.pop(); // "hf:owner/repo/dir/"
  const [owner, repo, ...rest] = parts;
  if (owner === undefined || repo === undefined || owner === "" || repo === "") bad("missing owner or repo");
  if (!NAME.test(owner as string) || !NAME.test(repo as string)) bad("bad owner or repo name");
  if (rest.some((s) => s === "" || s === "." || s === "..")) bad("bad path");
  const path = rest.join("/");
  return {
    spec,
    owner: owner as string,
    repo: repo as string,
    revision,
    kind: path.toLowerCase().endsWith(".gguf") ? "file" : "model",
    path,
  };
}

/** A repo-relative path from the Hub API is only used if it stays inside the repo. */
export function isSafeRepoPath(p: string): boolean {
  if (p === "" || p.startsWith("/") || p.includes("\\") || p.includes("\0")) return false;
  return p.split("/").every((s) => s !== "" && s !== "." && s !== "..");
}
