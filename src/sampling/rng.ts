/**
 * A small seeded PRNG, one per request: xoshiro128** (Blackman & Vigna) whose 128-bit state is
 * filled from the 64-bit seed by splitmix64, the seeding the xoshiro authors recommend.
 *
 * Nothing here is global: two generators built from the same seed produce the same sequence no
 * matter how their calls interleave, which is what makes "same seed, same output at any batch
 * size" hold.
 */
import { randomFillSync } from "node:crypto";
import { InvalidArgumentError } from "../errors.js";

export interface Rng {
  /** Uniform integer in [0, 2^32). */
  nextUint32(): number;
  /** Uniform double in [0, 1) with 53 random bits (two 32-bit draws). */
  next(): number;
}

const MASK64 = (1n << 64n) - 1n;
const TWO_POW_26 = 67108864;
const TWO_POW_53 = 9007199254740992;

/** splitmix64 (Steele, Lea & Flood), in BigInt: only used a few times per request, at seeding. */
function splitMix64(state: bigint): { state: bigint; value: bigint } {
  const next = (state + 0x9e3779b97f4a7c15n) & MASK64;
  let z = next;
  z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK64;
  z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & MASK64;
  return { state: next, value: z ^ (z >> 31n) };
}

export class Xoshiro128StarStar implements Rng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  /** `seed`: any safe integer (negative seeds are taken modulo 2^64, as an int64 would be). */
  constructor(seed: number) {
    if (!Number.isSafeInteger(seed)) {
      throw new InvalidArgumentError("seed", `must be an integer in [-(2^53-1), 2^53-1], got ${String(seed)}`);
    }
    const a = splitMix64(BigInt.asUintN(64, BigInt(seed)));
    const b = splitMix64(a.state);
    // splitmix64's output mix is a bijection, so two consecutive outputs are never both zero:
    // the state below is never all-zero (the one state xoshiro must avoid).
    this.s0 = Number(a.value & 0xffffffffn) >>> 0;
    this.s1 = Number(a.value >> 32n) >>> 0;
    this.s2 = Number(b.value & 0xffffffffn) >>> 0;
    this.s3 = Number(b.value >> 32n) >>> 0;
  }

  nextUint32(): number {
    const s1 = this.s1;
    const x = Math.imul(s1, 5);
    const result = Math.imul((x << 7) | (x >>> 25), 9) >>> 0;
    const t = s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = (this.s3 << 11) | (this.s3 >>> 21);
    return result;
  }

  next(): number {
    const hi = this.nextUint32() >>> 5; // 27 bits
    const lo = this.nextUint32() >>> 6; // 26 bits
    return (hi * TWO_POW_26 + lo) / TWO_POW_53;
  }
}

export function createRng(seed: number): Rng {
  return new Xoshiro128StarStar(seed);
}

/** A fresh seed in [0, 2^53) from the OS CSPRNG, for requests that did not give one. */
export function randomSeed(): number {
  const words = randomFillSync(new Uint32Array(2));
  const hi = (words[0] ?? 0) & 0x1fffff; // 21 bits
  const lo = words[1] ?? 0;
  return hi * 0x100000000 + lo;
}
