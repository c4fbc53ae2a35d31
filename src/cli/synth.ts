/** `fennec synth --preset <name> --type <type> -o <file.gguf>`: a real model's shapes with random weights. */
import { InvalidArgumentError } from "../errors.js";
import { FILE_TYPE_NAMES } from "../quant/file-types.js";
import { typeName } from "../quant/formats.js";
import { PRESET_NAMES, parameterCount } from "../models/presets.js";
import { synthesize } from "../models/synth.js";
import { ProgressLine, bar, formatBytes } from "../util/progress.js";
import { numberFlag, parse, stringFlag } from "./args.js";

export const SYNTH_USAGE = `fennec synth --preset <name> --type <type> -o <file.gguf> [--seed S] [--layers N] [--pure] [--models-dir DIR]
    <name>: ${PRESET_NAMES.join(", ")}; <type>: as for quantize`;

export async function synthCommand(argv: string[]): Promise<number> {
  const p = parse(argv, {
    preset: { type: "string" },
    type: { type: "string", short: "t" },
    output: { type: "string", short: "o" },
    seed: { type: "string" },
    layers: { type: "string" },
    pure: { type: "boolean" },
    "models-dir": { type: "string" },
  });
  if (p.positionals.length > 0) throw new InvalidArgumentError("arguments", `unexpected argument ${JSON.stringify(p.positionals[0])}`);
  const presetName = stringFlag(p, "preset");
  if (presetName === undefined) throw new InvalidArgumentError("--preset", `missing (one of: ${PRESET_NAMES.join(", ")})`);
  const type = stringFlag(p, "type");
  if (type === undefined) throw new InvalidArgumentError("--type", `missing (one of: ${FILE_TYPE_NAMES.join(", ")})`);
  const output = stringFlag(p, "output");
  if (output === undefined) throw new InvalidArgumentError("-o", "missing (the output .gguf file)");
  const seed = numberFlag(p, "seed", { integer: true, min: 0, max: 0xffffffff });
  const numLayers = numberFlag(p, "layers", { integer: true, min: 1 });
  const modelsDir = stringFlag(p, "models-dir");

  const progress = new ProgressLine(process.stderr);
  const result = await synthesize(presetName, output, {
    type,
    ...(seed !== undefined ? { seed } : {}),
    ...(numLayers !== undefined ? { numLayers } : {}),
    ...(modelsDir !== undefined ? { modelsDir } : {}),
    pure: p.values.pure === true,
    onProgress: ({ index, total, name, type: t }) => progress.draw(`${bar(index / total)} ${index}/${total} ${name} ${typeName(t)}`),
  });
  progress.end();
  const c = result.config;
  process.stderr.write(
    `fennec: wrote ${output}: synthetic ${result.preset.name} (${result.preset.realModel}), ${c.arch}, ${c.numLayers} layers, ` +
    `${(parameterCount(c) / 1e6).toFixed(1)}M parameters, ${result.fileType.name}, ${formatBytes(result.bytes)} in ${result.seconds.toFixed(1)} s\n` +
    `fennec: vocabulary: ${result.vocabSource}\n`,
  );
  return 0;
}
