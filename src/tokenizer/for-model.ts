/** The tokenizer a model's files point at, or an explicit override file. */
import { ModelFileError } from "../errors.js";
import type { ModelFiles } from "../weights/model-files.js";
import { loadTokenizer, tokenizerFromGguf, tokenizerFromJson, tokenizerFromLlama2c } from "./index.js";
import type { Tokenizer } from "./types.js";

export function tokenizerForModel(files: ModelFiles, overridePath?: string): Tokenizer {
  if (overridePath !== undefined) return loadTokenizer(overridePath);
  const src = files.tokenizerSource;
  if (!src) {
    throw new ModelFileError(files.path, "tokenizer", files.format === "llama2c"
      ? "a llama2.c checkpoint has no tokenizer: pass --tokenizer tokenizer.bin"
      : "the model has no tokenizer: pass --tokenizer FILE");
  }
  switch (src.kind) {
    case "gguf": return tokenizerFromGguf(src.file);
    case "tokenizer.json": return tokenizerFromJson(src.path, src.configPath);
    case "llama2c": return tokenizerFromLlama2c(src.path);
  }
}
