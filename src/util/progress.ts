/**
 * One progress line on a terminal (redrawn in place with `\r`, throttled), and the number
 * formatting shared by the downloader and the benchmark. On a non-TTY nothing is redrawn: callers
 * print plain lines instead, so logs and pipes stay readable.
 */

/** Where progress goes: process.stderr in the CLI, a fake in tests. */
export interface ProgressStream {
  readonly isTTY?: boolean;
  readonly columns?: number;
  write(text: string): unknown;
}

export class ProgressLine {
  private lastDraw = 0;
  private drawn = false;
  private readonly stream: ProgressStream;
  private readonly minIntervalMs: number;

  constructor(stream: ProgressStream, minIntervalMs = 100) {
    this.stream = stream;
    this.minIntervalMs = minIntervalMs;
  }

  get isTTY(): boolean {
    return this.stream.isTTY === true;
  }

  /** Redraw the line (TTY only), at most every `minIntervalMs` unless `force`. */
  draw(text: string, force = false): void {
    if (!this.isTTY) return;
    const now = Date.now();
    if (!force && this.drawn && now - this.lastDraw < this.minIntervalMs) return;
    this.lastDraw = now;
    this.drawn = true;
    const width = Math.max(20, (this.stream.columns ?? 100) - 1);
    const line = text.length > width ? text.slice(0, width) : text;
    this.stream.write(`\r${line}\x1b[K`);
  }

  /** Finish the line: keep `text` (TTY) or print it as a plain line (non-TTY); undefined erases it. */
  end(text?: string): void {
    if (this.isTTY) {
      if (text !== undefined) this.stream.write(`\r${text}\x1b[K\n`);
      else if (this.drawn) this.stream.write("\r\x1b[K");
    } else if (text !== undefined) {
      this.stream.write(`${text}\n`);
    }
    this.drawn = false;
  }

  /** A line that must not be overwritten (a warning): clears the bar first on a TTY. */
  note(text: string): void {
    if (this.isTTY && this.drawn) this.stream.write("\r\x1b[K");
    this.stream.write(`${text}\n`);
    this.drawn = false;
    this.lastDraw = 0;
  }
}

/** `[#########.........]` for a fraction in [0, 1]. */
export function bar(fraction: number, width = 24): string {
  const f = Math.min(1, Math.max(0, Number.isFinite(fraction) ? fraction : 0));
  const full = Math.round(f * width);
  return `[${"#".repeat(full)}${".".repeat(width - full)}]`;
}

/** 1536 -> "1.5 KB" (decimal units, as download sizes are usually quoted). */
export function formatBytes(n: number): string {
  if (n < 1000) return `${n} B`;
  const units = ["KB", "MB", "GB", "TB"];
  let v = n;
  let unit = "B";
  for (const u of units) {
    if (v < 1000) break;
    v /= 1000;
    unit = u;
  }
  return `${v.toFixed(v >= 100 ? 0 : 1)} ${unit}`;
}

/** Seconds -> "42s", "3m05s", "1h02m". */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "?";
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}
