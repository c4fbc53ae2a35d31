/**
 * RoPE inverse frequencies, with the model's scaling folded in once at load time, so the kernel
 * only ever computes angle = position * invFreq[j].
 */
import type { ModelConfig } from "./config.js";

/**
 * invFreq[j] = theta^(-2j / ropeDim), then:
 *  - linear scaling divides every frequency by `factor` (positions interpolated);
 *  - llama3 scaling (Llama 3.1+) leaves high frequencies alone, divides low ones by `factor` and
 *    blends smoothly in between (HF `_compute_llama3_parameters`);
 *  - `freqFactors` (GGUF `rope_freqs.weight`, how llama.cpp stores llama3 scaling) divides each
 *    frequency by its own factor.
 */
export function ropeInvFreq(config: ModelConfig, freqFactors?: Float32Array): Float32Array {
  const half = config.ropeDim / 2;
  const inv = new Float32Array(half);
  const s = config.ropeScaling;
  for (let j = 0; j < half; j++) {
    let f = Math.pow(config.ropeTheta, (-2 * j) / config.ropeDim);
    if (s.type === "linear") {
      f /= s.factor;
    } else if (s.type === "llama3") {
      const lowFreqWavelen = s.originalContextLength / s.lowFreqFactor;
      const highFreqWavelen = s.originalContextLength / s.highFreqFactor;
      const wavelen = (2 * Math.PI) / f;
      if (wavelen > lowFreqWavelen) {
        f /= s.factor;
      } else if (wavelen >= highFreqWavelen) {
        const smooth = (s.originalContextLength / wavelen - s.lowFreqFactor) / (s.highFreqFactor - s.lowFreqFactor);
        f = (1 - smooth) * (f / s.factor) + smooth * f;
      }
    }
    if (freqFactors) f /= freqFactors[j] as number;
    inv[j] = f;
  }
  return inv;
}
