/**
 * Benchmark prompts. The server's tokenizer is unknown here, so synthetic prompts are made of common
 * English words (about one token each for Llama/Qwen-style vocabularies) and the true input length
 * is taken from the `usage` the server returns.
 *
 *   random             I words (I sampled in [I(1-r), I(1+r)]), output O (likewise)
 *   prefix-repetition  one shared prefix of P words + a random suffix of I words (prefix caching)
 *   FILE.jsonl         one {"prompt": "...", "output_len"?: N} per line; output_len defaults to O
 */
import * as fs from "node:fs";
import { z } from "zod";
import { InvalidArgumentError } from "../../errors.js";
import type { Rng } from "../../sampling/rng.js";

export interface BenchRequest {
  readonly prompt: string;
  /** max_tokens asked for. */
  readonly outputLen: number;
  /** Input length as generated (words), used only when the server reports no usage. */
  readonly approxInputLen: number;
}

export type DatasetSpec =
  | { readonly kind: "random"; readonly inputLen: number; readonly outputLen: number; readonly rangeRatio: number }
  | { readonly kind: "prefix-repetition"; readonly prefixLen: number; readonly inputLen: number; readonly outputLen: number; readonly rangeRatio: number }
  | { readonly kind: "jsonl"; readonly file: string; readonly outputLen: number };

// Short, frequent words: each is a single token in most BPE vocabularies (with its leading space).
const WORDS = (
  "the of and to in is was for on that with as it by at from his he be an are or this which had not but " +
  "have they one you were her all she there would their we him been has when who will more no if out so " +
  "said what up its about into than them can only other new some could time these two may then do first " +
  "any my now such like our over man me even most made after also did many before must through back years " +
  "where much your way well down should because each just those people how too little state good very make " +
  "world still own see men work long get here between both life being under never day same another know while " +
  "last might us great old year off come since against go came right used take three states himself few house " +
  "use during without again place around however home small found thought went say part once general high upon " +
  "school every does got united left number course war until always away something fact though water less public " +
  "put think almost hand enough far took head yet government system better set told nothing night end why called " +
  "didn eyes find going look asked later knew point next city business give group toward young let room"
).split(" ");

/** Uniform integer in [lo, hi]. */
function uniformInt(rng: Rng, lo: number, hi: number): number {
  return lo + Math.floor(rng.next() * (hi - lo + 1));
}

/** A length around `n`: uniform in [n(1-r), n(1+r)], at least 1. */
function sampleLen(rng: Rng, n: number, r: number): number {
  if (r === 0) return Math.max(1, n);
  return Math.max(1, uniformInt(rng, Math.floor(n * (1 - r)), Math.ceil(n * (1 + r))));
}

function randomWords(rng: Rng, n: number): string {
  const out: string[] = new Array<string>(n);
  for (let i = 0; i < n; i++) out[i] = WORDS[rng.nextUint32() % WORDS.length] ?? "the";
  return out.join(" ");
}

const jsonlLine = z.object({
  prompt: z.string().min(1),
  output_len: z.number().int().positive().optional(),
});

export function readJsonl(file: string, defaultOutputLen: number): BenchRequest[] {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (e) {
    throw new InvalidArgumentError("--dataset", `${file}: cannot read (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  const out: BenchRequest[] = [];
  text.split("\n").forEach((line, i) => {
    if (line.trim() === "") return;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      throw new InvalidArgumentError("--dataset", `${file}:${i + 1}: not JSON`);
    }
    const r = jsonlLine.safeParse(parsed);
    if (!r.success) throw new InvalidArgumentError("--dataset", `${file}:${i + 1}: expected {"prompt": "...", "output_len"?: positive integer}`);
    out.push({ prompt: r.data.prompt, outputLen: r.data.output_len ?? defaultOutputLen, approxInputLen: r.data.prompt.split(/\s+/).filter(Boolean).length });
  });
  if (out.length === 0) throw new InvalidArgumentError("--dataset", `${file}: no prompts`);
  return out;
}

/** `numPrompts` requests (undefined: a JSONL file's line count, else 1000 as vLLM's default). */
export function buildDataset(spec: DatasetSpec, numPrompts: number | undefined, rng: Rng): BenchRequest[] {
  if (spec.kind === "jsonl") {
    const all = readJsonl(spec.file, spec.outputLen);
    const n = numPrompts ?? all.length;
    return Array.from({ length: n }, (_, i) => all[i % all.length] as BenchRequest); // cycle if asked for more
  }
  const n = numPrompts ?? 1000;
  const prefix = spec.kind === "prefix-repetition" ? randomWords(rng, spec.prefixLen) : "";
  const out: BenchRequest[] = [];
  for (let i = 0; i < n; i++) {
    const inputLen = sampleLen(rng, spec.inputLen, spec.rangeRatio);
    const outputLen = sampleLen(rng, spec.outputLen, spec.rangeRatio);
    const words = randomWords(rng, inputLen);
    out.push({
      prompt: prefix === "" ? words : `${prefix} ${words}`,
      outputLen,
      approxInputLen: inputLen + (spec.kind === "prefix-repetition" ? spec.prefixLen : 0),
    });
  }
  return out;
}
