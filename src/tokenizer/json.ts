/** Typed access to parsed JSON: every failure names the file and the field (dotted path). */
import * as fs from "node:fs";
import { ModelFileError } from "../errors.js";

export type JsonValue = null | boolean | number | string | JsonValue[] | JsonObject;
export interface JsonObject { readonly [key: string]: JsonValue }

export function readJsonFile(path: string): JsonValue {
  let text: string;
  try {
    text = fs.readFileSync(path, "utf8");
  } catch (e) {
    throw new ModelFileError(path, "file", `cannot read: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  try {
    return JSON.parse(text) as JsonValue;
  } catch (e) {
    throw new ModelFileError(path, "json", `not valid JSON: ${(e as Error).message}`);
  }
}

export function isObject(v: JsonValue | undefined): v is JsonObject {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

export class JsonFields {
  constructor(readonly file: string) {}

  fail(field: string, problem: string): never {
    throw new ModelFileError(this.file, field, problem);
  }

  object(v: JsonValue | undefined, field: string): JsonObject {
    if (!isObject(v)) this.fail(field, `expected an object, got ${kindOf(v)}`);
    return v;
  }

  array(v: JsonValue | undefined, field: string): JsonValue[] {
    if (!Array.isArray(v)) this.fail(field, `expected an array, got ${kindOf(v)}`);
    return v;
  }

  string(v: JsonValue | undefined, field: string): string {
    if (typeof v !== "string") this.fail(field, `expected a string, got ${kindOf(v)}`);
    return v;
  }

  optString(v: JsonValue | undefined, field: string): string | undefined {
    return v === undefined || v === null ? undefined : this.string(v, field);
  }

  bool(v: JsonValue | undefined, field: string, fallback: boolean): boolean {
    if (v === undefined || v === null) return fallback;
    if (typeof v !== "boolean") this.fail(field, `expected true or false, got ${kindOf(v)}`);
    return v;
  }

  optBool(v: JsonValue | undefined, field: string): boolean | undefined {
    return v === undefined || v === null ? undefined : this.bool(v, field, false);
  }

  integer(v: JsonValue | undefined, field: string): number {
    if (typeof v !== "number" || !Number.isInteger(v)) this.fail(field, `expected an integer, got ${kindOf(v)}`);
    return v;
  }
}

export function kindOf(v: JsonValue | undefined): string {
  if (v === undefined) return "nothing (missing)";
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  if (typeof v === "string") return `the string ${JSON.stringify(v.length > 40 ? v.slice(0, 40) + "..." : v)}`;
  if (typeof v === "object") return "an object";
  return `${typeof v} ${String(v)}`;
}
