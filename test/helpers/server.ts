/** Helpers for black-box server tests: a ChatML-like template file, raw HTTP calls, metric parsing. */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

/** A small ChatML-like template (stories260K has none); the markers tokenize as plain text there. */
export const CHATML_TEMPLATE =
  "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}" +
  "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}";

/** Writes `CHATML_TEMPLATE` to a temporary file and returns its path. */
export function chatTemplateFile(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fennec-server-test-"));
  const file = path.join(dir, "chatml.jinja");
  fs.writeFileSync(file, CHATML_TEMPLATE);
  return file;
}

export interface RawResponse {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
  /** The parsed body (undefined if it is not JSON). */
  readonly json: unknown;
}

export async function raw(url: string, init: RequestInit = {}): Promise<RawResponse> {
  const r = await fetch(url, init);
  const text = await r.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: r.status, headers: r.headers, text, json };
}

/** POST a JSON (or raw string) body. */
export function post(url: string, body: unknown, headers: Record<string, string> = {}): Promise<RawResponse> {
  return raw(url, {
    method: "POST",
    headers: { "Content-Type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
}

/** The value of one Prometheus sample, e.g. metric(text, 'fennec:num_requests_running'), summed over label sets that contain `labelFilter`. */
export function metric(text: string, name: string, labelFilter = ""): number {
  let sum = 0;
  let found = false;
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (labelFilter !== "" && !line.includes(labelFilter)) continue;
    const v = Number(line.slice(line.lastIndexOf(" ") + 1));
    if (Number.isFinite(v)) {
      sum += v;
      found = true;
    }
  }
  return found ? sum : NaN;
}

/** Polls `check` until it returns true (or throws after `ms`). */
export async function waitFor(check: () => Promise<boolean>, ms = 5000, what = "condition"): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The shape every error response has. */
export interface ErrorShape {
  readonly error: { readonly message: string; readonly type: string; readonly param: string | null; readonly code: string | null };
}

export function isErrorShape(x: unknown): x is ErrorShape {
  if (x === null || typeof x !== "object" || !("error" in x)) return false;
  const e = (x as { error: unknown }).error;
  if (e === null || typeof e !== "object") return false;
  const o = e as Record<string, unknown>;
  return typeof o.message === "string" && typeof o.type === "string" && "param" in o && "code" in o;
}
