/** Helpers for engine tests. */
import type { RequestEvent } from "../../src/engine/engine-loop.js";

/** Drains a request's events: the token ids in order, and the final (non-token) event. */
export async function collect(events: AsyncIterable<RequestEvent>): Promise<{ ids: number[]; finish: RequestEvent | undefined }> {
  const ids: number[] = [];
  let finish: RequestEvent | undefined;
  for await (const e of events) {
    if (e.type === "token") ids.push(e.tokenId);
    else finish = e;
  }
  return { ids, finish };
}
