/** Paths for tests: the repo root, and ../shared/models beside it (never an absolute path). */
import * as path from "node:path";
import { fileURLToPath } from "node:url";

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const sharedModels = path.resolve(repoRoot, "../shared/models");
export const stories = (file: string): string => path.join(sharedModels, "stories260K", file);
export const golden = (file: string): string => path.join(sharedModels, "golden", file);
