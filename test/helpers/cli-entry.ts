/** `node --import tsx test/helpers/cli-entry.ts <args>`: the fennec CLI straight from src/ (no build needed). */
import { main } from "../../src/cli/main.js";

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (err: unknown) => { console.error(err); process.exitCode = 1; },
);
