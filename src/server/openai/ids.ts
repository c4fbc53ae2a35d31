/** Response ids and timestamps, as OpenAI's: `chatcmpl-<hex>`, `cmpl-<hex>`, Unix seconds. */
import { randomBytes } from "node:crypto";

export const responseId = (prefix: "chatcmpl" | "cmpl"): string => `${prefix}-${randomBytes(12).toString("hex")}`;
export const unixSeconds = (): number => Math.floor(Date.now() / 1000);
export const SYSTEM_FINGERPRINT = "fp_fennec";
