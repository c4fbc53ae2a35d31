/** `fennec bench <subcommand>`: benchmarks. For now: `serve` (load-test an OpenAI-compatible server). */
import { InvalidArgumentError } from "../errors.js";
import { BENCH_SERVE_USAGE, benchServeCommand } from "./bench-serve.js";

export const BENCH_USAGE = BENCH_SERVE_USAGE;

const SUBCOMMANDS: Record<string, (argv: string[]) => Promise<number>> = {
  serve: benchServeCommand,
};

export async function benchCommand(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  const sub = name === undefined ? undefined : SUBCOMMANDS[name];
  if (sub === undefined) {
    throw new InvalidArgumentError("bench", `${name === undefined ? "missing subcommand" : `unknown subcommand ${JSON.stringify(name)}`}; expected one of: ${Object.keys(SUBCOMMANDS).join(", ")}`);
  }
  return sub(rest);
}
