/** `fennec quantize <in> <out.gguf> <type>`: write a model as a GGUF of a llama.cpp file type. */
import * as path from "node:path";
import { InvalidArgumentError } from "../errors.js";
import { FILE_TYPE_NAMES } from "../quant/file-types.js";
import { resolveFileType, writeQuantizedGguf } from "../quant/model-quantize.js";
import { typeName } from "../quant/formats.js";
import { openModelFiles } from "../weights/load.js";
import { ProgressLine, bar, formatBytes, formatDuration } from "../util/progress.js";
import { numberFlag, parse, positional, stringFlag } from "./args.js";

export const QUANTIZE_USAGE = `fennec quantize <model> <out.gguf> <type> [--pure] [--threads N] [--tokenizer FILE]
    <type>: ${FILE_TYPE_NAMES.join(", ")}`;

export async function quantizeCommand(argv: string[]): Promise<number> {
  const p = parse(argv, {
    pure: { type: "boolean" },
    threads: { type: "string" },
    tokenizer: { type: "string" },
  });
  const input = positional(p, 0, "model");
  const output = positional(p, 1, "output file");
  const type = positional(p, 2, "type");
  if (p.positionals.length > 3) throw new InvalidArgumentError("arguments", `unexpected extra argument ${JSON.stringify(p.positionals[3])}`);
  const ft = resolveFileType(type);
  if (path.resolve(input) === path.resolve(output)) throw new InvalidArgumentError("output file", "must differ from the input");
  const threads = numberFlag(p, "threads", { integer: true, min: 1, max: 256 });
  const tokenizer = stringFlag(p, "tokenizer");
  const files = openModelFiles(input, tokenizer !== undefined ? { tokenizerPath: tokenizer } : {});
  if (!files.tokenizerSource) {
    process.stderr.write(`fennec: warning: ${input} has no tokenizer; the output will have none (llama.cpp needs one: pass --tokenizer)\n`);
  }

  const progress = new ProgressLine(process.stderr);
  const started = Date.now();
  const result = await writeQuantizedGguf(files, output, ft.name, {
    pure: p.values.pure === true,
    ...(threads !== undefined ? { threads } : {}),
    onProgress: ({ index, total, tensor, seconds }) => {
      if (tensor.note !== undefined) progress.note(`fennec: note: ${tensor.note}`);
      const what = `${tensor.name} ${typeName(tensor.sourceType)} -> ${typeName(tensor.type)} [${tensor.dims.join(", ")}]`;
      if (progress.isTTY) {
        const elapsed = (Date.now() - started) / 1000;
        const eta = index > 0 ? (elapsed / index) * (total - index) : NaN;
        progress.draw(`${bar(index / total)} ${index}/${total} ${what} (eta ${formatDuration(eta)})`);
      } else {
        process.stderr.write(`[${String(index).padStart(String(total).length)}/${total}] ${what} ${seconds.toFixed(2)} s\n`);
      }
    },
  });
  progress.end();
  const counts = Object.entries(result.typeCounts).map(([t, n]) => `${t} ${n}`).join(", ");
  process.stderr.write(`fennec: wrote ${output}: ${ft.name} (file type ${ft.ftype}), ${result.tensors.length} tensors (${counts}), ` +
    `${formatBytes(result.bytes)} in ${result.seconds.toFixed(1)} s\n`);
  return 0;
}
