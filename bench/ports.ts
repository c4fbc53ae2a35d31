/**
 * `npm run bench:ports`: compiles and runs bench/ports.cc, a microbenchmark of what a 512-bit
 * vpdpbusd loop can issue beside its dots (broadcast loads, plain loads, register shuffles) on this
 * CPU: the budget the packed kernels (native/x86_packed.inc) are written against. x86-64 with
 * AVX-512 VNNI and a C++ compiler ($CXX, else g++) only.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { machineLine } from "./machine.js";

const src = path.join(path.dirname(fileURLToPath(import.meta.url)), "ports.cc");
console.log("bench:ports: 512-bit vpdpbusd against loads and shuffles, 1 thread");
console.log(machineLine(1));
const cpuinfo = fs.existsSync("/proc/cpuinfo") ? fs.readFileSync("/proc/cpuinfo", "utf8") : "";
if (process.arch !== "x64" || !/\bavx512_vnni\b/.test(cpuinfo)) {
  console.log("skipped: needs x86-64 with AVX-512 VNNI");
  process.exit(0);
}
const exe = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "fennec-ports-")), "ports");
execFileSync(process.env.CXX ?? "g++", ["-O2", "-mavx512f", "-mavx512bw", "-mavx512vnni", "-o", exe, src], { stdio: "inherit" });
process.stdout.write(execFileSync(exe, { encoding: "utf8" }));
