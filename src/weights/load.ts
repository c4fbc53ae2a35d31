/**
 * The one entry point for model files: detects the format from what is at `path` and returns
 * ModelFiles. GGUF by magic; a directory is a Hugging Face model; otherwise a llama2.c checkpoint.
 */
import * as fs from "node:fs";
import { ModelFileError } from "../errors.js";
import { GGUF_MAGIC } from "./gguf.js";
import { loadGgufModel } from "./gguf-model.js";
import { loadHfDirectory } from "./hf.js";
import { loadLlama2c } from "./llama2c.js";
import type { ModelFiles } from "./model-files.js";

export interface OpenModelOptions {
  /** Tokenizer file for formats that do not embed one (llama2.c `tokenizer.bin`). */
  readonly tokenizerPath?: string;
}

export function openModelFiles(path: string, opts: OpenModelOptions = {}): ModelFiles {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new ModelFileError(path, "file", code === "ENOENT" ? "no such file or directory" : `cannot read (${code ?? String(e)})`);
  }
  if (stat.isDirectory()) return loadHfDirectory(path);
  const head = Buffer.alloc(4);
  const fd = fs.openSync(path, "r");
  try {
    fs.readSync(fd, head, 0, 4, 0);
  } finally {
    fs.closeSync(fd);
  }
  if (stat.size >= 4 && head.readUInt32LE(0) === GGUF_MAGIC) return loadGgufModel(path);
  if (path.endsWith(".bin")) return loadLlama2c(path, opts.tokenizerPath);
  throw new ModelFileError(path, "format", `not a GGUF file (magic ${JSON.stringify(head.toString("latin1"))}), a Hugging Face model directory, or a llama2.c .bin checkpoint`);
}
