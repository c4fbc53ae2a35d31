/** Flag parsing shared by the subcommands: node's parseArgs plus typed, validated numbers. */
import { parseArgs, type ParseArgsConfig } from "node:util";
import { InvalidArgumentError } from "../errors.js";

export type Options = NonNullable<ParseArgsConfig["options"]>;

export interface Parsed {
  readonly values: Record<string, string | boolean | undefined>;
  readonly positionals: string[];
}

export function parse(argv: string[], options: Options): Parsed {
  try {
    const { values, positionals } = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
    return { values: values as Record<string, string | boolean | undefined>, positionals };
  } catch (e) {
    // parseArgs errors are already one readable sentence ("Unknown option '--foo'").
    throw new InvalidArgumentError("arguments", (e as Error).message);
  }
}

export function numberFlag(p: Parsed, name: string, opts: { integer?: boolean; min?: number; max?: number } = {}): number | undefined {
  const raw = p.values[name];
  if (raw === undefined) return undefined;
  const v = Number(raw);
  const range = opts.min !== undefined && opts.max !== undefined ? ` in [${opts.min}, ${opts.max}]`
    : opts.min !== undefined ? ` >= ${opts.min}` : opts.max !== undefined ? ` <= ${opts.max}` : "";
  if (typeof raw !== "string" || raw.trim() === "" || !Number.isFinite(v) || (opts.integer && !Number.isInteger(v))
      || (opts.min !== undefined && v < opts.min) || (opts.max !== undefined && v > opts.max)) {
    throw new InvalidArgumentError(`--${name}`, `expected ${opts.integer ? "an integer" : "a number"}${range}, got ${JSON.stringify(raw)}`);
  }
  return v;
}

export function stringFlag(p: Parsed, name: string): string | undefined {
  const v = p.values[name];
  return typeof v === "string" ? v : undefined;
}

export function positional(p: Parsed, index: number, what: string): string {
  const v = p.positionals[index];
  if (v === undefined) throw new InvalidArgumentError(what, "missing");
  return v;
}
