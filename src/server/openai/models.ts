/** GET /v1/models and /v1/models/{id}: the one served model, with its context length. */
import { ApiError } from "../errors.js";
import type { Exchange } from "../http.js";
import type { ModelCard } from "./protocol.js";
import type { ServingContext } from "./serving.js";

function card(ctx: ServingContext): ModelCard {
  return { id: ctx.modelName, object: "model", created: ctx.created, owned_by: "fennec", max_model_len: ctx.contextLength };
}

export function handleListModels(ctx: ServingContext, ex: Exchange): void {
  ex.sendJson(200, { object: "list", data: [card(ctx)] });
}

export function handleGetModel(ctx: ServingContext, ex: Exchange, id: string): void {
  if (id !== ctx.modelName) {
    throw new ApiError(404, `The model \`${id}\` does not exist (this server serves \`${ctx.modelName}\`).`, { code: "model_not_found", param: "model" });
  }
  ex.sendJson(200, card(ctx));
}
