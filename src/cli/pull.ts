/** `fennec pull <hf:spec> [--cache-dir DIR]`: download a model into the cache and print its local path. */
import { InvalidArgumentError } from "../errors.js";
import { isHubSpec, resolveModelPath } from "../control/hub.js";
import { parse, positional, stringFlag } from "./args.js";

export const PULL_USAGE = "fennec pull hf:<owner>/<repo>[/<file.gguf>][@<revision>] [--cache-dir DIR]";

export async function pullCommand(argv: string[]): Promise<number> {
  const p = parse(argv, { "cache-dir": { type: "string" } });
  const spec = positional(p, 0, "model");
  if (p.positionals.length > 1) throw new InvalidArgumentError("arguments", `unexpected ${JSON.stringify(p.positionals[1])}`);
  if (!isHubSpec(spec)) throw new InvalidArgumentError("model", `expected hf:<owner>/<repo>[/<file.gguf>][@<revision>], got ${JSON.stringify(spec)}`);
  const cacheDir = stringFlag(p, "cache-dir");
  const local = await resolveModelPath(spec, cacheDir !== undefined ? { cacheDir } : {});
  process.stdout.write(`${local}\n`);
  return 0;
}
