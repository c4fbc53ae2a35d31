/** A GGUF model file as ModelFiles: config from metadata, tensors read lazily, tokenizer in the metadata. */
import { architecture } from "../models/registry.js";
import { UnsupportedError } from "../errors.js";
import { formatOf, typeName } from "../quant/formats.js";
import { type GgufFile, metaNumber, metaString, readGguf, readTensors } from "./gguf.js";
import type { ModelFiles } from "./model-files.js";
import type { WeightTensor } from "./tensor.js";
import { createWeightHeap } from "./file-io.js";

export function loadGgufModel(path: string): ModelFiles {
  const file = readGguf(path);
  return ggufModelFiles(file);
}

export function ggufModelFiles(file: GgufFile): ModelFiles {
  const archName = metaString(file, "general.architecture");
  const config = architecture(archName, file.path, "general.architecture").configFromGguf(file);
  for (const t of file.tensors) {
    if (!formatOf(t.type)?.supported) {
      throw new UnsupportedError(file.path, `tensor ${t.name} type`, `${typeName(t.type)} is not supported (expected F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K or Q6_K)`);
    }
  }
  const byName = new Map(file.tensors.map((t) => [t.name, t]));
  const loaded = new Map<string, WeightTensor>();
  const heap = createWeightHeap();  // one for the model: its tensors share huge-page chunks
  const getTensor = (name: string): WeightTensor | undefined => {
    const hit = loaded.get(name);
    if (hit) return hit;
    const info = byName.get(name);
    if (!info) return undefined;
    const t = readTensors(file, [info], heap).get(name);
    if (t) loaded.set(name, t);
    return t;
  };
  const hasTokenizer = file.metadata.has("tokenizer.ggml.model");
  const fileType = metaNumber(file, "general.file_type", undefined);
  return {
    path: file.path,
    format: "gguf",
    config,
    getTensor,
    forgetTensor: (name: string) => { loaded.delete(name); },
    tensorInfos: file.tensors,
    tokenizerSource: hasTokenizer ? { kind: "gguf", file } : undefined,
    chatTemplate: metaString(file, "tokenizer.chat_template", undefined),
    generationDefaults: {},
    info: {
      name: metaString(file, "general.name", undefined) ?? "",
      ggufVersion: file.version,
      ...(fileType !== undefined ? { fileType } : {}),
    },
  };
}
