/**
 * Load-time weight packing: ModelFiles whose matrices come in the backend's own layout
 * (Backend.packWeight), each packed as it is first read, as llama.cpp's CPU backend repacks Q4_0 /
 * IQ4_NL into interleaved "extra" buffers at load. Packing rewrites the freshly read bytes in
 * place, so it costs no memory and no second copy is ever resident.
 */
import type { Backend } from "./backend.js";
import type { ModelFiles } from "../weights/model-files.js";
import type { WeightTensor } from "../weights/tensor.js";

/**
 * `files` with the tensors `backend` packs (its matrices: matmul weights, the token embedding) packed.
 * The inner files forget each tensor once it is packed (its bytes now hold the packed layout): a
 * later read through them gets the file's bytes again. Call before anything has read a tensor.
 */
export function packedModelFiles(files: ModelFiles, backend: Backend): ModelFiles {
  const pack = backend.packWeight?.bind(backend);
  if (!pack) return files;
  const packed = new Map<string, WeightTensor>();
  return {
    ...files,
    getTensor(name: string): WeightTensor | undefined {
      const hit = packed.get(name);
      if (hit) return hit;
      const t = files.getTensor(name);
      if (!t) return t;
      const p = pack(t);  // the backend decides what it packs (it leaves vectors and other types as they are)
      if (p === t) return t;
      files.forgetTensor(name);
      packed.set(name, p);
      return p;
    },
    forgetTensor(name: string): void {
      packed.delete(name);
      files.forgetTensor(name);
    },
  };
}
