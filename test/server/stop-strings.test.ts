/** Stop strings over streamed pieces: hold-back, matches split across pieces, earliest match wins. */
import { test } from "node:test";
import * as assert from "node:assert/strict";
import { StopStringMatcher } from "../../src/server/stop-strings.js";

function run(stops: string[], pieces: string[]): { emitted: string[]; stopped: boolean; rest: string } {
  const m = new StopStringMatcher(stops);
  const emitted: string[] = [];
  for (const p of pieces) {
    const r = m.push(p);
    emitted.push(r.text);
    if (r.stopped) return { emitted, stopped: true, rest: "" };
  }
  return { emitted, stopped: false, rest: m.flush() };
}

test("no stop strings: everything passes through at once", () => {
  assert.deepEqual(run([], ["a", "b"]), { emitted: ["a", "b"], stopped: false, rest: "" });
});

test("a stop string split across pieces is never emitted; the text before it is", () => {
  assert.deepEqual(run(["Lily"], [" named", " Li", "l", "y. She"]), { emitted: [" named", " ", "", ""], stopped: true, rest: "" });
});

test("a partial match that does not complete is released", () => {
  assert.deepEqual(run(["Lily"], [" Li", "on"]), { emitted: [" ", "Lion"], stopped: false, rest: "" });
  assert.deepEqual(run(["Lily"], [" Li"]), { emitted: [" "], stopped: false, rest: "Li" });
});

test("several stop strings: the earliest occurrence wins; overlapping prefixes are held", () => {
  assert.deepEqual(run(["cat", "at home"], ["she was at ho", "me with the cat"]), { emitted: ["she was ", ""], stopped: true, rest: "" });
  assert.deepEqual(run(["ab", "b"], ["xab"]), { emitted: ["x"], stopped: true, rest: "" });
  assert.deepEqual(run(["\n\n"], ["one\n", "\ntwo"]), { emitted: ["one", ""], stopped: true, rest: "" });
});
