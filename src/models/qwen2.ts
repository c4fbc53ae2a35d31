/**
 * Qwen2 / Qwen2.5: the Llama block with biases on the q/k/v projections and NeoX-style RoPE
 * (rotate halves). Same forward pass as `llama.ts`; only the config differs.
 */
import type { ModelConfig } from "./config.js";
import type { GgufFile } from "../weights/gguf.js";
import { llamaFamilyConfigFromGguf } from "./gguf-config.js";

export function qwen2ConfigFromGguf(file: GgufFile): ModelConfig {
  return llamaFamilyConfigFromGguf(file, "qwen2", { ropeStyle: "neox", hasQkvBias: true });
}
