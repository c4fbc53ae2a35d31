/** The `fennec` command: dispatch to a subcommand; user errors become one line on stderr and exit 1. */
import { FennecError } from "../errors.js";
import { BENCH_USAGE, benchCommand } from "./bench.js";
import { infoCommand } from "./info.js";
import { PULL_USAGE, pullCommand } from "./pull.js";
import { RUN_USAGE, runCommand } from "./run.js";
import { SERVE_USAGE, serveCommand } from "./serve.js";
import { tokenizeCommand } from "./tokenize.js";
import { QUANTIZE_USAGE, quantizeCommand } from "./quantize.js";
import { SYNTH_USAGE, synthCommand } from "./synth.js";

const USAGE = `usage:
  ${RUN_USAGE}
  ${SERVE_USAGE}
  fennec info <model> [--tokenizer FILE] [--json]
  fennec tokenize <model-or-tokenizer-file> "text" [--no-special] [--no-parse-special]
  ${QUANTIZE_USAGE}
  ${SYNTH_USAGE}
  ${PULL_USAGE}
  ${BENCH_USAGE}

<model> is a GGUF file, a Hugging Face model directory, or a llama2.c .bin checkpoint (with --tokenizer).
`;

const COMMANDS: Record<string, (argv: string[]) => Promise<number>> = {
  run: runCommand,
  info: infoCommand,
  tokenize: tokenizeCommand,
  serve: serveCommand,
  quantize: quantizeCommand,
  synth: synthCommand,
  pull: pullCommand,
  bench: benchCommand,
};

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "help" || name === "--help" || name === "-h") {
    process.stdout.write(USAGE);
    return name === undefined ? 1 : 0;
  }
  const command = COMMANDS[name];
  if (!command) {
    process.stderr.write(`fennec: unknown command "${name}"\n${USAGE}`);
    return 1;
  }
  try {
    return await command(rest);
  } catch (e) {
    if (e instanceof FennecError) {
      process.stderr.write(`fennec: ${e.message}\n`);
      return 1;
    }
    // A bug, not bad input: keep the stack for the report.
    throw e;
  }
}
