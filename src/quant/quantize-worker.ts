/** Worker-thread entry of the quantize pool (quantize-pool.ts): one slice of rows per message. */
import { parentPort } from "node:worker_threads";
import { quantizeInto } from "./quantize.js";
import type { QuantizeJob, QuantizeReply } from "./quantize-pool.js";

parentPort?.on("message", (job: QuantizeJob) => {
  let reply: QuantizeReply;
  try {
    quantizeInto(job.type, new Float32Array(job.src), job.srcOffset, job.n, new Uint8Array(job.dst), job.dstOffset);
    reply = { id: job.id };
  } catch (e) {
    reply = { id: job.id, error: e instanceof Error ? e.message : String(e) };
  }
  parentPort?.postMessage(reply);
});
