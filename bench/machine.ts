/** One line describing the machine a benchmark ran on (every benchmark prints it). */
import * as fs from "node:fs";
import * as os from "node:os";

export function cpuModel(): string {
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(fs.readFileSync("/proc/cpuinfo", "utf8"));
    if (m?.[1]) return m[1].trim();
  } catch {
    // not Linux: fall through
  }
  return os.cpus()[0]?.model ?? "unknown CPU";
}

export function machineLine(threads: number): string {
  const gib = (os.totalmem() / 2 ** 30).toFixed(0);
  return `machine: ${cpuModel()}, ${os.availableParallelism()} cores, ${gib} GiB RAM, ${threads} threads; node ${process.version}; ${new Date().toISOString().slice(0, 10)}`;
}
