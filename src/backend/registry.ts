/**
 * Backend selection. "auto" prefers the native addon and falls back to the reference backend
 * (with one warning per process); "native" requires the addon; "reference" is the plain-TS oracle.
 */
import type { Backend } from "./backend.js";
import { createReferenceBackend } from "./js/reference.js";
import { createNativeBackend, loadNativeAddon } from "./native/index.js";
import { InvalidArgumentError } from "../errors.js";

export type BackendKind = "auto" | "native" | "reference";

let hasWarned = false;

export function createBackend(kind: BackendKind = "auto", threads?: number): Backend {
  if (kind === "reference") return createReferenceBackend();
  if (kind !== "auto" && kind !== "native") {
    throw new InvalidArgumentError("backend", `expected auto, native or reference, got ${String(kind)}`);
  }
  const native = createNativeBackend(threads !== undefined ? { threads } : {});
  if (native) return native;
  const load = loadNativeAddon();
  const reason = load.ok ? "unknown error" : load.reason;
  if (kind === "native") throw new InvalidArgumentError("backend", `native backend unavailable (${reason})`);
  if (!hasWarned) {
    hasWarned = true;
    process.stderr.write(`fennec: native backend unavailable (${reason}); using the reference backend (slow)\n`);
  }
  return createReferenceBackend();
}
