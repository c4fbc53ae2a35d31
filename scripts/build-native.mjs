#!/usr/bin/env node
// Builds the native addon (binding.gyp -> build/Release/fennec_native.node) with the node-gyp that
// ships with npm, using the local Node headers (never downloads them). Prefers clang when installed.
//
// A failed build prints one warning and exits 0, so Fennec still installs and runs on the
// reference backend; with FENNEC_REQUIRE_NATIVE=1 (CI) it exits 1 instead. FENNEC_SKIP_NATIVE=1
// skips the build. The full compiler log is kept in build/native-build.log.
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const required = process.env.FENNEC_REQUIRE_NATIVE === "1";
const logFile = path.join(root, "build", "native-build.log");

function fail(reason) {
  if (required) {
    console.error(`fennec: native addon build failed (${reason}); FENNEC_REQUIRE_NATIVE=1, so this is an error`);
    process.exit(1);
  }
  console.warn(`fennec: WARNING: native addon not built (${reason}); Fennec will use the slow reference backend`);
  process.exit(0);
}

if (process.env.FENNEC_SKIP_NATIVE === "1") {
  if (required) fail("FENNEC_SKIP_NATIVE=1 is set");
  console.warn("fennec: FENNEC_SKIP_NATIVE=1: not building the native addon");
  process.exit(0);
}

/** npm's bundled node-gyp: npm passes it to lifecycle scripts; otherwise find it next to npm. */
function findNodeGyp() {
  const candidates = [];
  if (process.env.npm_config_node_gyp) candidates.push(process.env.npm_config_node_gyp);
  if (process.env.npm_execpath) {
    candidates.push(path.join(path.dirname(process.env.npm_execpath), "..", "node_modules", "node-gyp", "bin", "node-gyp.js"));
  }
  const prefix = path.resolve(path.dirname(process.execPath), "..");
  candidates.push(path.join(prefix, "lib", "node_modules", "npm", "node_modules", "node-gyp", "bin", "node-gyp.js"));
  candidates.push(path.join(path.dirname(process.execPath), "node_modules", "npm", "node_modules", "node-gyp", "bin", "node-gyp.js"));
  candidates.push(path.join(root, "node_modules", "node-gyp", "bin", "node-gyp.js"));
  return candidates.find((c) => fs.existsSync(c));
}

/** Headers of the running Node (e.g. /usr/include/node), so node-gyp never downloads them. */
function findNodeDir() {
  if (process.env.npm_config_nodedir) return process.env.npm_config_nodedir;
  const prefix = path.resolve(path.dirname(process.execPath), "..");
  return fs.existsSync(path.join(prefix, "include", "node", "node_api.h")) ? prefix : undefined;
}

function works(cmd) {
  const r = spawnSync(cmd, ["--version"], { stdio: "ignore" });
  return r.status === 0;
}

const nodeGyp = findNodeGyp();
if (!nodeGyp) fail("node-gyp not found (it ships with npm)");
const nodeDir = findNodeDir();
if (!nodeDir) fail(`Node headers not found next to ${process.execPath}; set npm_config_nodedir`);

const env = { ...process.env };
if (!env.CC && !env.CXX && works("clang") && works("clang++")) {
  env.CC = "clang";
  env.CXX = "clang++";
}
const compiler = env.CXX ?? "c++";
const args = [nodeGyp, "rebuild", `--nodedir=${nodeDir}`, "--jobs=max", "--loglevel=warn"];
console.log(`fennec: building the native addon with ${compiler} (node-gyp, headers from ${nodeDir})`);
const t0 = Date.now();
const r = spawnSync(process.execPath, args, { cwd: root, env, encoding: "utf8", maxBuffer: 64 << 20 });
const log = `${r.stdout ?? ""}${r.stderr ?? ""}`;
fs.mkdirSync(path.dirname(logFile), { recursive: true });
fs.writeFileSync(logFile, `$ ${[process.execPath, ...args].join(" ")}\n# CC=${env.CC ?? ""} CXX=${env.CXX ?? ""}\n${log}`);
const addon = path.join(root, "build", "Release", "fennec_native.node");
if (r.error || r.status !== 0 || !fs.existsSync(addon)) {
  const lastError = log.split("\n").find((l) => /error/i.test(l)) ?? (r.error ? String(r.error) : `exit code ${r.status}`);
  fail(`${lastError.trim().slice(0, 300)}; full log: ${path.relative(process.cwd(), logFile)}`);
}
console.log(`fennec: native addon built in ${((Date.now() - t0) / 1000).toFixed(1)} s: ${path.relative(process.cwd(), addon)}`);
