/**
 * Architectures by their GGUF `general.architecture` name. Adding one = a config reader and a
 * forward pass (`build`); HF `architectures` names are mapped to these keys in `weights/hf-config.ts`.
 */
import type { Backend } from "../backend/backend.js";
import type { ModelConfig } from "./config.js";
import type { GgufFile } from "../weights/gguf.js";
import type { ModelFiles } from "../weights/model-files.js";
import { UnsupportedError } from "../errors.js";
import { llamaFamilyConfigFromGguf } from "./gguf-config.js";
import { buildLlamaModel, type Model } from "./llama.js";
import { qwen2ConfigFromGguf } from "./qwen2.js";

export interface Architecture {
  configFromGguf(file: GgufFile): ModelConfig;
  build(files: ModelFiles, backend: Backend): Model;
}

const ARCHITECTURES: ReadonlyMap<string, Architecture> = new Map<string, Architecture>([
  ["llama", { configFromGguf: (f) => llamaFamilyConfigFromGguf(f, "llama", { ropeStyle: "norm", hasQkvBias: false }), build: buildLlamaModel }],
  ["qwen2", { configFromGguf: qwen2ConfigFromGguf, build: buildLlamaModel }],
]);

export const SUPPORTED_ARCHITECTURES: readonly string[] = [...ARCHITECTURES.keys()];

export function architecture(name: string, file: string, field: string): Architecture {
  const arch = ARCHITECTURES.get(name);
  if (!arch) throw new UnsupportedError(file, field, `architecture "${name}" is not supported (expected one of: ${SUPPORTED_ARCHITECTURES.join(", ")})`);
  return arch;
}

export function buildModel(files: ModelFiles, backend: Backend): Model {
  return architecture(files.config.arch, files.path, "architecture").build(files, backend);
}
