/** `fennec tokenize <model-or-tokenizer-file> "text"`: the token ids, space-separated. */
import { loadTokenizer } from "../tokenizer/index.js";
import { parse, positional } from "./args.js";

export async function tokenizeCommand(argv: string[]): Promise<number> {
  const p = parse(argv, { "no-special": { type: "boolean" }, "no-parse-special": { type: "boolean" } });
  const path = positional(p, 0, "model or tokenizer file");
  const text = positional(p, 1, "text");
  const tokenizer = loadTokenizer(path);
  const ids = tokenizer.encode(text, { addSpecial: p.values["no-special"] !== true, parseSpecial: p.values["no-parse-special"] !== true });
  process.stdout.write(ids.join(" ") + "\n");
  return 0;
}
