/** `fennec info <model>`: what a model file is, without running it. */
import { openModelFiles } from "../weights/load.js";
import { typeName } from "../quant/formats.js";
import { tokenizerForModel } from "../tokenizer/for-model.js";
import { FennecError } from "../errors.js";
import type { TokenizerKind } from "../tokenizer/types.js";
import { parse, positional, stringFlag } from "./args.js";

const TOKENIZER_KIND_NAMES: Record<TokenizerKind, string> = {
  spm: "SentencePiece-style BPE",
  bpe: "byte-level BPE",
  wpm: "WordPiece",
};

export async function infoCommand(argv: string[]): Promise<number> {
  const p = parse(argv, { tokenizer: { type: "string" }, json: { type: "boolean" } });
  const path = positional(p, 0, "model");
  const tokenizerPath = stringFlag(p, "tokenizer");
  const files = openModelFiles(path, tokenizerPath !== undefined ? { tokenizerPath } : {});
  const c = files.config;

  let numParams = 0;
  const typeCounts = new Map<string, number>();
  for (const t of files.tensorInfos) {
    numParams += t.dims.reduce((a, b) => a * b, 1);
    const name = typeName(t.type);
    typeCounts.set(name, (typeCounts.get(name) ?? 0) + 1);
  }
  let tokenizer = "none (pass --tokenizer)";
  try {
    const tok = tokenizerForModel(files, tokenizerPath);
    tokenizer = `${TOKENIZER_KIND_NAMES[tok.kind]}, ${tok.vocabSize} tokens`;
  } catch (e) {
    if (!(e instanceof FennecError)) throw e;
    tokenizer = `unavailable (${e.message})`;
  }
  const facts: [string, string | number | boolean][] = [
    ["file", files.path],
    ["format", files.format],
    ...Object.entries(files.info).filter(([, v]) => v !== ""),
    ["architecture", c.arch],
    ["parameters", `${numParams} (${formatCount(numParams)})`],
    ["tensor types", [...typeCounts].map(([k, v]) => `${k} x${v}`).join(", ")],
    ["context length", c.contextLength],
    ["layers", c.numLayers],
    ["embedding dim", c.dim],
    ["feed-forward dim", c.hiddenDim],
    ["heads / kv heads / head dim", `${c.numHeads} / ${c.numKvHeads} / ${c.headDim}`],
    ["vocab size", c.vocabSize],
    ["rope", `${c.ropeStyle}, theta ${c.ropeTheta}, dims ${c.ropeDim}, scaling ${c.ropeScaling.type}`],
    ["rms norm eps", c.normEps],
    ["tied embeddings", c.tiedEmbeddings],
    ["tokenizer", tokenizer],
    ["chat template", files.chatTemplate !== undefined ? "present" : "absent"],
  ];
  if (p.values.json === true) {
    process.stdout.write(JSON.stringify(Object.fromEntries(facts), null, 2) + "\n");
  } else {
    const w = Math.max(...facts.map(([k]) => k.length));
    for (const [k, v] of facts) process.stdout.write(`${k.padEnd(w)}  ${String(v)}\n`);
  }
  return 0;
}

function formatCount(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)}B`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}K`;
  return String(n);
}
