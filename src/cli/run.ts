/** `fennec run <model> --prompt "..."`: stream the completion to stdout, speed to stderr. */
import { loadModel } from "../index.js";
import type { GenerateParams } from "../engine/generate.js";
import type { BackendKind } from "../backend/registry.js";
import { InvalidArgumentError } from "../errors.js";
import { parseKvDtype } from "../backend/kv-dtype.js";
import { numberFlag, parse, positional, stringFlag } from "./args.js";

export const RUN_USAGE = `fennec run <model> --prompt "..." [--tokenizer FILE] [--max-tokens N] [--temperature T]
    [--top-k K] [--top-p P] [--min-p P] [--repeat-penalty R] [--seed S] [--threads N] [--ctx-size N] [--cache-dir DIR] [--backend auto|native|reference] [--quantize TYPE]
    [--kv-cache-dtype f16|q8_0|f32]`;

export async function runCommand(argv: string[]): Promise<number> {
  const p = parse(argv, {
    prompt: { type: "string", short: "p" },
    tokenizer: { type: "string" },
    "cache-dir": { type: "string" },
    "max-tokens": { type: "string", short: "n" },
    temperature: { type: "string" },
    "top-k": { type: "string" },
    "top-p": { type: "string" },
    "min-p": { type: "string" },
    "repeat-penalty": { type: "string" },
    seed: { type: "string" },
    threads: { type: "string" },
    "ctx-size": { type: "string", short: "c" },
    backend: { type: "string" },
    "ignore-eos": { type: "boolean" },
    quantize: { type: "string" },
    "kv-cache-dtype": { type: "string" },
  });
  const modelPath = positional(p, 0, "model");
  const prompt = stringFlag(p, "prompt");
  if (prompt === undefined) throw new InvalidArgumentError("--prompt", "missing");
  const backend = stringFlag(p, "backend") ?? "auto";
  if (backend !== "auto" && backend !== "native" && backend !== "reference") {
    throw new InvalidArgumentError("--backend", `expected auto, native or reference, got ${JSON.stringify(backend)}`);
  }
  const threads = numberFlag(p, "threads", { integer: true, min: 1 });
  const tokenizer = stringFlag(p, "tokenizer");
  const contextLength = numberFlag(p, "ctx-size", { integer: true, min: 1 });
  const kvDtypeFlag = stringFlag(p, "kv-cache-dtype");
  const kvCacheDtype = kvDtypeFlag === undefined ? undefined : parseKvDtype("--kv-cache-dtype", kvDtypeFlag);
  const loaded = await loadModel(modelPath, {
    backend: backend as BackendKind,
    ...(threads !== undefined ? { threads } : {}),
    ...(tokenizer !== undefined ? { tokenizer } : {}),
    ...(p.values["cache-dir"] !== undefined ? { cacheDir: stringFlag(p, "cache-dir") as string } : {}),
    ...(contextLength !== undefined ? { contextLength } : {}),
    ...(p.values.quantize !== undefined ? { quantize: stringFlag(p, "quantize") as string } : {}),
    ...(kvCacheDtype !== undefined ? { kvCacheDtype } : {}),
  });
  if (contextLength !== undefined && contextLength > loaded.files.config.contextLength) {
    process.stderr.write(`fennec: warning: --ctx-size ${contextLength} exceeds the model's trained context length ${loaded.files.config.contextLength}\n`);
  }

  // Sampling defaults as llama.cpp's, unless the model ships its own (generation_config.json).
  const d = loaded.files.generationDefaults;
  const params: GenerateParams = {
    maxTokens: numberFlag(p, "max-tokens", { integer: true, min: 0 }) ?? 256,
    temperature: numberFlag(p, "temperature", { min: 0 }) ?? d.temperature ?? 0.8,
    topK: numberFlag(p, "top-k", { integer: true, min: 0 }) ?? d.topK ?? 40,
    topP: numberFlag(p, "top-p", { min: 0, max: 1 }) ?? d.topP ?? 0.95,
    minP: numberFlag(p, "min-p", { min: 0, max: 1 }) ?? d.minP ?? 0.05,
    repetitionPenalty: numberFlag(p, "repeat-penalty", { min: 0 }) ?? d.repetitionPenalty ?? 1,
    ignoreEos: p.values["ignore-eos"] === true,
    ...(p.values.seed !== undefined ? { seed: numberFlag(p, "seed", { integer: true, min: 0 }) as number } : {}),
  };
  for await (const chunk of loaded.generate(prompt, params)) {
    if (chunk.text) process.stdout.write(chunk.text);
    if (chunk.usage) {
      const u = chunk.usage;
      const rate = (tokens: number, ms: number): string => (ms > 0 ? ((tokens * 1000) / ms).toFixed(1) : "-");
      // Piped output stays exactly the generated text; a terminal gets its prompt back on a new line.
      if (process.stdout.isTTY) process.stdout.write("\n");
      process.stderr.write(
        `fennec: prefill ${u.promptTokens} tokens in ${u.prefillMs.toFixed(1)} ms (${rate(u.promptTokens, u.prefillMs)} tok/s), ` +
        `decode ${u.completionTokens} tokens in ${u.decodeMs.toFixed(1)} ms (${rate(u.completionTokens, u.decodeMs)} tok/s), ` +
        `backend ${loaded.backend.name}, finish ${chunk.finishReason}\n`,
      );
    }
  }
  return 0;
}
